"""3DGS PLY: the trainers' own format (INRIA gaussian-splatting, gsplat, nerfstudio).

One ``vertex`` element, one row per splat, properties read **by name** in any
order and of any PLY scalar type:

================ ======================================================
property         meaning (SplatCloud attribute)
================ ======================================================
x y z            position (N, 3), world units, RDF frame as trained
f_dc_0..2        SH band 0 per channel -> ``sh[:, 0, c]``
f_rest_0..M-1    M in {0, 9, 24, 45} -> SH degree 0..3; **channel-major**:
                 ``f_rest_{c*(K-1) + j} -> sh[:, 1 + j, c]`` (K = (d+1)**2)
opacity          logit of opacity (N,)
scale_0..2       natural log of per-axis std-dev (N, 3)
rot_0..3         quaternion w, x, y, z (N, 4); normalised on read
anything else    scalar vertex properties (nx ny nz, ids, ...) -> ``extras``
                 in their own dtype, written back on save
================ ======================================================

Binary little/big endian and ASCII files are read. Elements other than
``vertex`` (camera extrinsics, ...) are skipped: those before ``vertex`` by
their byte size (walking list properties row by row when they have any), and
nothing after ``vertex`` is read at all.

Fast path: our own header parser, then the vertex rows are read with a numpy
structured dtype built from the header, block by block into a reused buffer,
and scattered into the SplatCloud arrays with vectorised copies (no per-splat
Python); files over `TASK_ROWS` splats are split between two threads (numpy
copies release the GIL). Peak memory is the decoded arrays plus one ~1 MiB
block per thread. ASCII bodies (one row per line) are parsed by
``np.loadtxt`` with the token count checked. A vertex element with list
properties is handed to ``plyfile`` (`read_ply_plyfile`, also the benchmark
baseline and the reference the tests compare with).

Quaternions are normalised unless already unit to float32 precision
(|norm^2 - 1| <= 2e-6), so that write -> read is bit-exact; zero or
non-finite quaternions become the identity.

Writing is lossless: binary little-endian float32 in the INRIA property order
``x y z [nx ny nz] f_dc_0..2 f_rest_* opacity scale_0..2 rot_0..3`` followed by
the other extras in their own dtype, which INRIA's SIBR viewer, SuperSplat and
splat-transform all read.
"""
from __future__ import annotations

import io
import mmap
import os
import re
import struct
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from editor.formats.base import MAX_SPLATS, Codec, FormatError, LoadedSplats, Progress, report
from editor.model.splat_cloud import SplatCloud

#: Longest header we accept; real ones are < 4 KiB.
MAX_HEADER_BYTES = 64 * 1024

#: Rows per block when reading or writing binary vertex data (~1 MiB at SH3:
#: small enough to stay in cache while it is scattered into the arrays).
BLOCK_ROWS = 4096

#: Rows per read task; files with more than one task are read by `READ_THREADS` threads.
TASK_ROWS = 1 << 17
READ_THREADS = max(1, min(2, os.cpu_count() or 1))

#: PLY scalar type names -> numpy type codes (without byte order).
PLY_TYPES = {
    "char": "i1", "int8": "i1",
    "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4",
    "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4",
    "double": "f8", "float64": "f8",
}
_NUMPY_TO_PLY = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint",
                 "f4": "float", "f8": "double"}
_FORMATS = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": None}

_REQUIRED = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
             "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_SPLAT_ONLY = _REQUIRED[3:]
_F_REST = re.compile(r"f_rest_(0|[1-9][0-9]{0,5})\Z")  # canonical spellings only; others are extras
_HEADER_END = re.compile(rb"(?:^|\n)end_header\r?\n")


# --------------------------------------------------------------------- header
@dataclass
class PlyProperty:
    """One property: ``type`` is a numpy code ("f4"); list properties also have
    ``count_type`` (numpy code of the length prefix)."""

    name: str
    type: str
    count_type: str | None = None

    @property
    def is_list(self) -> bool:
        return self.count_type is not None


@dataclass
class PlyElement:
    name: str
    count: int
    properties: list[PlyProperty] = field(default_factory=list)

    @property
    def has_lists(self) -> bool:
        return any(p.is_list for p in self.properties)

    def dtype(self, endian: str) -> np.dtype:
        """Structured dtype of one row (scalar properties only), packed, in file byte order."""
        return np.dtype({"names": [p.name for p in self.properties],
                         "formats": [endian + p.type for p in self.properties]})

    def min_row_bytes(self, ascii_: bool) -> int:
        """Smallest number of bytes a row can take: exact for fixed binary rows,
        a lower bound for lists (all empty) and ASCII (one digit + separator per value)."""
        if ascii_:
            return 2 * len(self.properties)
        return sum(np.dtype(p.count_type if p.is_list else p.type).itemsize for p in self.properties)

    def property(self, name: str) -> PlyProperty | None:
        for p in self.properties:
            if p.name == name:
                return p
        return None


@dataclass
class PlyHeader:
    """A parsed PLY header. ``data_offset`` is where the body starts (bytes)."""

    format: str  # "binary_little_endian", "binary_big_endian" or "ascii"
    version: str
    elements: list[PlyElement]
    comments: list[str]
    data_offset: int
    file_size: int

    @property
    def endian(self) -> str | None:
        """"<" or ">" for binary files, None for ASCII."""
        return _FORMATS[self.format]

    @property
    def is_ascii(self) -> bool:
        return self.format == "ascii"

    def element(self, name: str) -> PlyElement | None:
        for e in self.elements:
            if e.name == name:
                return e
        return None


def looks_like_ply(head: bytes) -> bool:
    return head.startswith(b"ply\n") or head.startswith(b"ply\r\n")


def read_header(path: Path, f) -> PlyHeader:
    """Parse the header of the open binary file ``f`` (positioned anywhere).

    Raises FormatError for anything that is not a well-formed PLY header with
    known types and counts the file can back.
    """
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(MAX_HEADER_BYTES + 16)
    if not looks_like_ply(head):
        raise FormatError(path, "not a PLY file (it does not start with 'ply')")
    m = _HEADER_END.search(head, 0, MAX_HEADER_BYTES + 13)
    if m is None:
        if len(head) > MAX_HEADER_BYTES:
            raise FormatError(path, f"PLY header is longer than {MAX_HEADER_BYTES // 1024} KiB or has no end_header")
        raise FormatError(path, "PLY header has no end_header line (truncated file?)")
    data_offset = m.end()
    try:
        text = head[:data_offset].decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(path, "PLY header contains non-ASCII bytes") from None

    fmt = version = None
    elements: list[PlyElement] = []
    comments: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    for number, line in enumerate(lines[1:], start=2):
        words = line.split()
        if not words:
            continue
        key = words[0]
        where = f"PLY header line {number}"
        if key in ("comment", "obj_info"):
            comments.append(line[len(key):].strip())
        elif key == "format":
            if fmt is not None or elements:
                raise FormatError(path, f"{where}: unexpected 'format' line")
            if len(words) != 3 or words[1] not in _FORMATS:
                raise FormatError(path, f"{where}: unknown format {' '.join(words[1:])!r}")
            fmt, version = words[1], words[2]
        elif key == "element":
            if fmt is None:
                raise FormatError(path, f"{where}: 'element' before the 'format' line")
            if len(words) != 3 or not words[2].isdigit():
                raise FormatError(path, f"{where}: expected 'element NAME COUNT', got {line.strip()!r}")
            if any(e.name == words[1] for e in elements):
                raise FormatError(path, f"{where}: element {words[1]!r} appears twice")
            count = int(words[2]) if len(words[2]) <= 18 else MAX_SPLATS + 1
            if count > MAX_SPLATS:
                raise FormatError(path, f"element {words[1]} claims {count} rows, more than the {MAX_SPLATS} "
                                        "this program accepts")
            elements.append(PlyElement(words[1], count))
        elif key == "property":
            if not elements:
                raise FormatError(path, f"{where}: 'property' before any 'element'")
            el = elements[-1]
            if len(words) == 3 and words[1] != "list":
                prop = PlyProperty(words[2], _ply_type(path, where, words[1]))
            elif len(words) == 5 and words[1] == "list":
                ctype = _ply_type(path, where, words[2])
                if ctype[0] not in "iu":
                    raise FormatError(path, f"{where}: list length type must be an integer type")
                prop = PlyProperty(words[4], _ply_type(path, where, words[3]), ctype)
            else:
                raise FormatError(path, f"{where}: expected 'property TYPE NAME', got {line.strip()!r}")
            if el.property(prop.name) is not None:
                raise FormatError(path, f"{where}: property {prop.name!r} appears twice in element {el.name}")
            el.properties.append(prop)
        elif key == "end_header":
            break
        else:
            raise FormatError(path, f"{where}: unexpected {key!r}")
    if fmt is None:
        raise FormatError(path, "PLY header has no 'format' line")
    return PlyHeader(fmt, version or "", elements, comments, data_offset, size)


def _ply_type(path, where: str, name: str) -> str:
    try:
        return PLY_TYPES[name]
    except KeyError:
        raise FormatError(path, f"{where}: unknown property type {name!r}") from None


def _check_rows(path, el: PlyElement, available: int, ascii_: bool) -> None:
    need = el.count * el.min_row_bytes(ascii_)
    if need > available:
        what = "at least " if (ascii_ or el.has_lists) else ""
        raise FormatError(path, f"truncated: header says {el.count} {el.name} rows ({what}{need} bytes) "
                                f"but only {available} bytes follow")


def skip_binary_element(path, header: PlyHeader, el: PlyElement, offset: int, buf) -> int:
    """Byte offset just after element ``el`` starting at ``offset`` of a binary file.
    ``buf`` is the whole file (bytes or mmap); only needed for list properties."""
    available = header.file_size - offset
    _check_rows(path, el, available, False)
    if not el.has_lists:
        return offset + el.count * el.min_row_bytes(False)
    end = header.file_size
    e = header.endian
    steps = []  # per property: (fixed size) or (count struct, item size)
    for p in el.properties:
        if p.is_list:
            steps.append((struct.Struct(e + np.dtype(p.count_type).char), np.dtype(p.type).itemsize))
        else:
            steps.append((None, np.dtype(p.type).itemsize))
    pos = offset
    for _ in range(el.count):
        for counter, size in steps:
            if counter is None:
                pos += size
            else:
                if pos + counter.size > end:
                    raise FormatError(path, f"truncated inside element {el.name}")
                (n,) = counter.unpack_from(buf, pos)
                if n < 0:
                    raise FormatError(path, f"negative list length in element {el.name}")
                pos += counter.size + n * size
        if pos > end:
            raise FormatError(path, f"truncated inside element {el.name}")
    return pos


# ------------------------------------------------------------------ the layout
@dataclass
class _Layout:
    """Where each SplatCloud array comes from in a vertex row."""

    sh_rest: int  # number of f_rest_* properties (0, 9, 24, 45)
    extras: list[str]  # scalar vertex properties that are not splat attributes


def splat_layout(path, vertex: PlyElement) -> _Layout:
    """Check that ``vertex`` holds 3DGS splats; raise FormatError naming what is missing."""
    names = {p.name for p in vertex.properties}
    if names.isdisjoint(_SPLAT_ONLY) and {"x", "y", "z"} <= names:
        raise FormatError(path, "this PLY is a point cloud (it has x, y, z but no opacity, scale, rotation or "
                                "f_dc properties), not a Gaussian splat file")
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        label = "property" if len(missing) == 1 else "properties"
        raise FormatError(path, f"missing {label} {', '.join(missing)} in the vertex element (not a 3DGS splat PLY)")
    rest = sorted(int(m.group(1)) for n in names if (m := _F_REST.match(n)))
    if rest != list(range(len(rest))) or len(rest) not in (0, 9, 24, 45):
        raise FormatError(path, f"unexpected f_rest_* properties ({len(rest)} of them, expected f_rest_0.. with "
                                "0, 9, 24 or 45 values for SH degree 0-3)")
    by_name = {p.name: p for p in vertex.properties}
    core = set(_REQUIRED) | {f"f_rest_{i}" for i in rest}
    for n in core:
        if by_name[n].is_list:
            raise FormatError(path, f"property {n} is a list, expected a number")
    extras = [p.name for p in vertex.properties if p.name not in core and not p.is_list]
    return _Layout(len(rest), extras)


def _allocate(n: int, layout: _Layout, extra_dtypes: dict[str, np.dtype]) -> SplatCloud:
    k = 1 + layout.sh_rest // 3
    return SplatCloud(
        np.empty((n, 3), np.float32), np.empty((n, 3), np.float32), np.empty((n, 4), np.float32),
        np.empty((n,), np.float32), np.empty((n, k, 3), np.float32),
        {name: np.empty((n,), extra_dtypes[name].newbyteorder("=")) for name in layout.extras},
    )


def _scatter(rows: np.ndarray, cloud: SplatCloud, start: int, layout: _Layout) -> None:
    """Copy the structured ``rows`` (any property order/types) into cloud[start:start+len(rows)]."""
    s = slice(start, start + len(rows))
    groups = (
        (cloud.positions, ("x", "y", "z")),
        (cloud.log_scales, ("scale_0", "scale_1", "scale_2")),
        (cloud.rotations, ("rot_0", "rot_1", "rot_2", "rot_3")),
        (cloud.sh[:, 0, :], ("f_dc_0", "f_dc_1", "f_dc_2")),
    )
    for out, names in groups:
        dst = out[s]
        view = fields_view(rows, names)
        if view is not None:
            dst[...] = view
        else:
            for j, name in enumerate(names):
                dst[:, j] = rows[name]
    cloud.opacity_logits[s] = rows["opacity"]
    m = layout.sh_rest
    if m:
        k1 = m // 3
        dst = cloud.sh[s, 1:, :]  # (b, K-1, 3); f_rest is channel-major: index c*(K-1) + j
        view = fields_view(rows, [f"f_rest_{i}" for i in range(m)], (3, k1))
        if view is not None:
            for c in range(3):  # per channel: ~2x faster than one transposed copy
                dst[:, :, c] = view[:, c, :]
        else:
            for c in range(3):
                for j in range(k1):
                    dst[:, j, c] = rows[f"f_rest_{c * k1 + j}"]
    for name in layout.extras:
        cloud.extras[name][s] = rows[name]


def fields_view(rows: np.ndarray, names, shape: tuple[int, ...] | None = None) -> np.ndarray | None:
    """A strided view (b, len(names)) -- or (b, *shape), C order over ``names``
    -- when ``names`` are adjacent fields of one type in ``rows``; None
    otherwise (then the caller copies field by field)."""
    fields = rows.dtype.fields
    dt, off = fields[names[0]][:2]
    for i, name in enumerate(names):
        f = fields[name]
        if f[0] != dt or f[1] != off + i * dt.itemsize:
            return None
    shape = (len(names),) if shape is None else tuple(shape)
    inner = [dt.itemsize]
    for dim in reversed(shape[1:]):
        inner.insert(0, inner[0] * dim)
    return np.ndarray((len(rows), *shape), dt, rows, off, (rows.dtype.itemsize, *inner))


# ---------------------------------------------------------------------- read
def read(path: Path, progress: Progress = None) -> LoadedSplats:
    """Read a 3DGS PLY (binary LE/BE or ASCII) into a `SplatCloud`."""
    path = Path(path)
    with open(path, "rb") as f:
        header = read_header(path, f)
        vertex = header.element("vertex")
        if vertex is None:
            raise FormatError(path, "PLY file has no vertex element")
        if header.element("chunk") is not None and vertex.property("packed_position") is not None:
            from editor.formats import compressed_ply  # a compressed PLY named *.ply

            return compressed_ply.read(path, progress)
        layout = splat_layout(path, vertex)
        if vertex.has_lists:
            cloud = read_ply_plyfile(path)
        elif header.is_ascii:
            cloud = _read_ascii(path, f, header, vertex, layout, progress)
        else:
            cloud = _read_binary(path, f, header, vertex, layout, progress)
    report(progress, 1.0)
    return LoadedSplats(
        cloud, "ply", f"{header.format} {header.version}",
        {"properties": [p.name for p in vertex.properties],
         "elements": [f"{e.name} {e.count}" for e in header.elements]},
    )


def normalize_quaternions_inplace(q: np.ndarray) -> None:
    """Normalise wxyz quaternions (N, 4) in place, in blocks (no N-sized temporaries).

    Rows already unit length to float32 precision (|norm^2 - 1| <= 2e-6) are
    left bit-exact, so write -> read round trips are exact; the others are
    normalised in float64; zero or non-finite rows become the identity (1, 0, 0, 0).
    """
    step = 1 << 16
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, len(q), step):
            blk = q[s:s + step]
            n2 = np.einsum("ij,ij->i", blk, blk)
            fix = np.flatnonzero(~(np.abs(n2 - 1.0) <= 2e-6))
            if fix.size:
                sub = blk[fix].astype(np.float64)
                norm = np.sqrt(np.einsum("ij,ij->i", sub, sub))
                bad = ~(norm > 1e-12) | ~np.isfinite(norm)
                sub /= np.where(bad, 1.0, norm)[:, None]
                sub[bad] = (1.0, 0.0, 0.0, 0.0)
                blk[fix] = sub


def _read_binary(path, f, header: PlyHeader, vertex: PlyElement, layout: _Layout, progress) -> SplatCloud:
    offset = header.data_offset
    before = header.elements[: header.elements.index(vertex)]
    if any(e.has_lists for e in before):
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            for el in before:
                offset = skip_binary_element(path, header, el, offset, buf)
    else:
        for el in before:
            offset = skip_binary_element(path, header, el, offset, None)
    dtype = vertex.dtype(header.endian)
    n = vertex.count
    remaining = header.file_size - offset
    if n * dtype.itemsize > remaining:
        raise FormatError(path, f"truncated: header says {n} splats ({n * dtype.itemsize} bytes) "
                                f"but only {remaining} bytes follow")
    cloud = _allocate(n, layout, {name: dtype.fields[name][0] for name in layout.extras})
    ranges = [(s, min(n, s + TASK_ROWS)) for s in range(0, n, TASK_ROWS)]
    workers = min(len(ranges), READ_THREADS)
    if workers <= 1:
        for start, stop in ranges:
            _read_rows(path, f, offset, dtype, start, stop, cloud, layout, progress, n)
        return cloud
    # Large files: the copies release the GIL, so two threads each read and
    # scatter their own row ranges (disjoint slices of the output arrays).
    stop_event = threading.Event()

    def task(rng):
        with open(path, "rb", buffering=0) as fh:
            _read_rows(path, fh, offset, dtype, rng[0], rng[1], cloud, layout, None, n, stop_event)
        return rng[1] - rng[0]

    done = 0
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(task, r) for r in ranges]
        try:
            for fut in as_completed(futures):
                done += fut.result()
                report(progress, done / n)
        except BaseException:
            stop_event.set()
            for fut in futures:
                fut.cancel()
            raise
    return cloud


def _read_rows(path, f, offset: int, dtype: np.dtype, start: int, stop: int, cloud: SplatCloud,
               layout: _Layout, progress, n: int, stop_event: threading.Event | None = None) -> None:
    """Read vertex rows [start, stop) at ``offset`` of ``f`` block by block into ``cloud``."""
    block = np.empty(min(stop - start, BLOCK_ROWS), dtype)
    raw = memoryview(block).cast("B")
    f.seek(offset + start * dtype.itemsize)
    for s in range(start, stop, BLOCK_ROWS):
        if stop_event is not None and stop_event.is_set():
            return
        b = min(BLOCK_ROWS, stop - s)
        want = b * dtype.itemsize
        if f.readinto(raw[:want]) != want:
            raise FormatError(path, "file ended early while reading the vertex data")
        with np.errstate(over="ignore", invalid="ignore"):  # double -> float32 overflow gives inf, handled later
            _scatter(block[:b], cloud, s, layout)
        report(progress, (s + b) / n)
    normalize_quaternions_inplace(cloud.rotations[start:stop])


def _read_ascii(path, f, header: PlyHeader, vertex: PlyElement, layout: _Layout, progress) -> SplatCloud:
    available = header.file_size - header.data_offset
    index = header.elements.index(vertex)
    for el in header.elements[: index + 1]:
        _check_rows(path, el, available, True)
    n = vertex.count
    dtype = vertex.dtype("=")
    if n == 0:
        return _allocate(0, layout, {name: dtype.fields[name][0] for name in layout.extras})
    skip = sum(e.count for e in header.elements[:index] if e.properties)
    f.seek(header.data_offset)
    text = io.TextIOWrapper(f, encoding="latin-1", newline=None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the shape check below reports it
            values = np.loadtxt(text, dtype=np.float64, comments=None, skiprows=skip, max_rows=n, ndmin=2)
    except ValueError as e:
        raise FormatError(path, f"bad ASCII vertex data ({str(e).splitlines()[0]})") from None
    finally:
        text.detach()
    if values.shape != (n, len(vertex.properties)):
        raise FormatError(path, f"ASCII vertex data has {values.shape[0]} rows of {values.shape[1]} values, "
                                f"expected {n} rows of {len(vertex.properties)}")
    rows = np.empty(n, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        for i, name in enumerate(dtype.names):
            col = values[:, i]
            if dtype.fields[name][0].kind in "iu":
                info = np.iinfo(dtype.fields[name][0])
                if not np.all((col >= info.min) & (col <= info.max)):
                    raise FormatError(path, f"ASCII value of {name} out of range for its type")
            rows[name] = col
    del values
    cloud = _allocate(n, layout, {name: dtype.fields[name][0] for name in layout.extras})
    with np.errstate(over="ignore", invalid="ignore"):
        _scatter(rows, cloud, 0, layout)
    normalize_quaternions_inplace(cloud.rotations)
    report(progress, 1.0)
    return cloud


def read_ply_plyfile(path) -> SplatCloud:
    """Reference reader using ``plyfile`` (memory-mapped): the fallback for
    layouts the fast path does not handle (list properties on ``vertex``) and
    the baseline the benchmark and tests compare against. Rotations are
    normalised; list properties on ``vertex`` are dropped."""
    import plyfile

    path = Path(path)
    with open(path, "rb") as f:
        header = read_header(path, f)
    vertex_el = header.element("vertex")
    if vertex_el is None:
        raise FormatError(path, "PLY file has no vertex element")
    layout = splat_layout(path, vertex_el)
    for el in header.elements[: header.elements.index(vertex_el) + 1]:
        _check_rows(path, el, header.file_size - header.data_offset, header.is_ascii)
    try:
        ply = plyfile.PlyData.read(str(path), mmap="r")
        v = ply["vertex"].data
    except Exception as e:  # noqa: BLE001 - plyfile raises many types on corrupt input
        raise FormatError(path, f"corrupt PLY ({str(e).strip() or type(e).__name__})") from None

    def col(*names):
        return np.stack([np.asarray(v[n], dtype=np.float32) for n in names], axis=1)

    k1 = layout.sh_rest // 3
    dc = col("f_dc_0", "f_dc_1", "f_dc_2")[:, None, :]
    if k1:
        rest = col(*[f"f_rest_{i}" for i in range(layout.sh_rest)]).reshape(-1, 3, k1).transpose(0, 2, 1)
        sh = np.concatenate([dc, rest], axis=1)
    else:
        sh = dc
    cloud = SplatCloud(
        col("x", "y", "z"), col("scale_0", "scale_1", "scale_2"),
        col("rot_0", "rot_1", "rot_2", "rot_3"),
        np.asarray(v["opacity"], dtype=np.float32), sh,
        {n: np.array(v[n], dtype=v.dtype[n].newbyteorder("=")) for n in layout.extras},
    )
    normalize_quaternions_inplace(cloud.rotations)
    return cloud


# --------------------------------------------------------------------- write
def _extra_type(name: str, arr: np.ndarray) -> tuple[str, np.ndarray]:
    """PLY type name for an extra attribute and the array converted to it."""
    arr = np.asarray(arr)
    if arr.ndim != 1:
        raise ValueError(f"extra attribute {name!r} has shape {arr.shape}; PLY stores one number per splat")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
        small = np.int32 if arr.dtype.kind == "i" else np.uint32
        info = np.iinfo(small)
        ok = arr.size == 0 or (arr.min() >= info.min and arr.max() <= info.max)
        arr = arr.astype(small if ok else np.float64)
    code = arr.dtype.kind + str(arr.dtype.itemsize)
    if code not in _NUMPY_TO_PLY:
        raise ValueError(f"extra attribute {name!r} has dtype {arr.dtype}, which PLY cannot store")
    return _NUMPY_TO_PLY[code], arr


def _reserved(name: str) -> bool:
    return name in _REQUIRED or bool(_F_REST.match(name))


def vertex_properties(cloud: SplatCloud) -> list[tuple[str, str, np.ndarray | None]]:
    """(name, PLY type, extra array or None) in the INRIA order used on write."""
    k1 = cloud.sh.shape[1] - 1
    props: list[tuple[str, str, np.ndarray | None]] = [(n, "float", None) for n in ("x", "y", "z")]
    extras = dict(cloud.extras)
    for name in extras:
        if not name or not name.isascii() or not name.isprintable() or any(c.isspace() for c in name):
            raise ValueError(f"extra attribute name {name!r} is not a valid PLY property name")
        if _reserved(name):
            raise ValueError(f"extra attribute {name!r} clashes with a 3DGS property")
    for name in ("nx", "ny", "nz"):
        if name in extras:
            props.append((name, *_extra_type(name, extras.pop(name))))
    props += [(f"f_dc_{i}", "float", None) for i in range(3)]
    props += [(f"f_rest_{i}", "float", None) for i in range(3 * k1)]
    props.append(("opacity", "float", None))
    props += [(f"scale_{i}", "float", None) for i in range(3)]
    props += [(f"rot_{i}", "float", None) for i in range(4)]
    props += [(name, *_extra_type(name, arr)) for name, arr in extras.items()]
    return props


def write(cloud: SplatCloud, path: Path, progress: Progress = None, **options) -> None:
    """Write ``cloud`` as binary little-endian 3DGS PLY (lossless)."""
    if options:
        raise ValueError(f"unknown option(s) for ply: {', '.join(sorted(options))}")
    props = vertex_properties(cloud)
    n = len(cloud)
    lines = ["ply", "format binary_little_endian 1.0", "comment Generated by SplatForge", f"element vertex {n}"]
    lines += [f"property {t} {name}" for name, t, _ in props]
    lines.append("end_header")
    header = ("\n".join(lines) + "\n").encode("ascii")
    dtype = np.dtype({"names": [p[0] for p in props],
                      "formats": ["<" + PLY_TYPES[t] for _, t, _ in props]})
    extras = {name: arr for name, _, arr in props if arr is not None}
    layout = _Layout(3 * (cloud.sh.shape[1] - 1), [])
    block = np.zeros(min(max(n, 1), BLOCK_ROWS), dtype)
    with open(path, "wb") as f:
        f.write(header)
        for start in range(0, n, BLOCK_ROWS):
            b = min(BLOCK_ROWS, n - start)
            rows = block[:b]
            _gather(cloud, rows, start, layout)
            for name, arr in extras.items():
                rows[name] = arr[start:start + b]
            rows.tofile(f)
            report(progress, (start + b) / n)
    report(progress, 1.0)


def _gather(cloud: SplatCloud, rows: np.ndarray, start: int, layout: _Layout) -> None:
    """Inverse of `_scatter` for the core attributes: cloud[start:start+b] -> rows."""
    s = slice(start, start + len(rows))
    groups = (
        (cloud.positions, ("x", "y", "z")),
        (cloud.log_scales, ("scale_0", "scale_1", "scale_2")),
        (cloud.rotations, ("rot_0", "rot_1", "rot_2", "rot_3")),
        (cloud.sh[:, 0, :], ("f_dc_0", "f_dc_1", "f_dc_2")),
    )
    for src, names in groups:
        fields_view(rows, names)[...] = src[s]
    rows["opacity"] = cloud.opacity_logits[s]
    m = layout.sh_rest
    if m:
        view = fields_view(rows, [f"f_rest_{i}" for i in range(m)], (3, m // 3))
        for c in range(3):
            view[:, c, :] = cloud.sh[s, 1:, c]


def sniff(head: bytes, path: Path) -> bool:
    """A PLY header that is not a PlayCanvas compressed PLY."""
    return looks_like_ply(head) and not (b"element chunk" in head and b"packed_position" in head)


CODEC = Codec(
    name="ply",
    description="3D Gaussian Splatting PLY (INRIA layout; binary or ASCII)",
    extensions=(".ply",),
    sniff=sniff,
    read=read,
    write=write,
    lossy="",
)
