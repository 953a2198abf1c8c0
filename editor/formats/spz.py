"""SPZ: Niantic's compressed splat format (spec and reference: nianticlabs/spz, MIT).

Containers
----------
* **v1-v3 ("legacy")**: the whole file is one gzip member holding a 16-byte
  header and the attribute arrays. A bare, un-gzipped stream that starts with
  the ``NGSP`` magic and a version 1-3 is read too (some old tools wrote that).
  A gzip member whose inner header says version 4 is read with the legacy
  layout, as the reference loader does.
* **v4**: a 32-byte plain header, optional extension records, a table of
  contents (``numStreams`` x [compressed size u64, uncompressed size u64]) and
  one zstd stream per non-empty attribute array, in the order below.

Legacy header (16 bytes, little-endian)::

    u32 magic 0x5053474e ("NGSP")  u32 version  u32 numPoints
    u8 shDegree  u8 fractionalBits  u8 flags (bit0 antialiased, bit1 extensions)  u8 reserved

v4 header (32 bytes): the same first 15 bytes, then ``u8 numStreams``,
``u32 tocByteOffset`` and 12 reserved bytes.

Attribute arrays, each for all N splats in turn (not interleaved):

=========== ======================= =============================================
array       bytes per splat         decoding (float)
=========== ======================= =============================================
positions   9 (v1: 6)               3 x 24-bit signed fixed point / 2**fractionalBits
                                    (v1: 3 x float16)
alphas      1                       opacity = b / 255 -> stored as its logit
colors      3                       SH DC = (b / 255 - 0.5) / 0.15  (SPZ's own colour
                                    scale, *not* SH_C0)
scales      3                       log-scale = b / 16 - 10
rotations   3 (v1, v2) / 4 (v3+)    v1/v2: x, y, z = b / 127.5 - 1, w = sqrt(1 - |xyz|^2);
                                    v3+: u32 LE "smallest three": bits 30-31 index (x, y, z, w
                                    order) of the largest component, then three 10-bit fields
                                    (sign bit + 9-bit magnitude * sqrt(1/2) / 511) for the other
                                    components, highest index in the lowest bits
sh          3 * (K - 1)             (b - 128) / 128, coefficient-major with RGB innermost,
                                    i.e. exactly ``SplatCloud.sh[:, 1:, :]``; degree 4 files
                                    (K = 25) are read with band 4 dropped
=========== ======================= =============================================

Axes
----
SPZ stores RUB (x right, y up, z back) unless a v4 file carries the
``SPZ_ADOBE_coordinate_system`` extension (type 0xADBE0003) naming another
frame, in which case that frame is used. A `SplatCloud` is RDF, so reading
applies ``M = diag(1, -1, -1)`` (a 180 degree turn about x) and writing applies
it again: positions y and z negate, quaternion y and z negate (w and x stay),
and the SH coefficients whose basis function changes sign under
(y, z) -> (-y, -z) flip sign (`RUB_RDF_SH_SIGNS`, the reference's ``flipSh``
table; `tests/formats/test_spz.py` checks it equals
``rotate_sh(sh, diag(1, -1, -1))``).

Beware: PlayCanvas splat-transform 3.x writes and reads SPZ **without** this
conversion (its 2.x releases from May to July 2026 converted, through Niantic's
library with ``from: RDF``). Its 3.x files, such as
``guitar.spz`` in the shared samples, therefore open here turned 180 degrees
about x compared with the PLY they came from, exactly as they do in Niantic's
own library. `read_spz` takes ``assume_frame="RDF"`` for such files.

Writing
-------
Version 3 (gzip level 6, default) or 4 (zstd level 12, option ``version=4``),
always RUB, flags 0, SH degree as the cloud (0..3), extras dropped. For the
same cloud the v3 payload is byte for byte what Niantic's reference writer
(``saveSpz`` with ``from: RDF``) produces. Options:

* ``fractional_bits``: ``None`` (default) means 12 (the reference writer's
  choice, 1/4096 unit), lowered automatically just enough for the farthest
  splat to fit the 24-bit range (+-8388607 / 2**bits); an explicit 0..23
  is used as given and a position that does not fit raises `FormatError`.
  Splats farther than 8388607 units from the origin cannot be stored at all.
* ``sh1_bits`` (default 5) and ``sh_rest_bits`` (default 4): precision kept
  for SH band 1 and bands 2-3, as in the reference writer (8 = all of the byte).

Round-trip tolerances (max abs error after write + read, for values inside the
representable ranges; tests/formats/test_spz.py asserts each):

* positions: 2**-(fractional_bits + 1) per axis (1/8192 unit at 12 bits);
* log-scales: 1/32 within [-10, 5.9375] (clamped outside);
* opacity (sigmoid space): 0.5/255 (logit clamped to +-13.8 at 0 and 1);
* SH DC: 0.5/(0.15*255) = 0.0131 within [-3.33, 3.33] (colour 0.5 +- 0.94);
* SH bands 1-3: 4.5/128 = 0.035 (band 1, 5 bits), 8.5/128 = 0.066 (bands 2-3,
  4 bits) within [-1, 127/128] (clamped outside); with 8 bits 0.5/128;
* rotations: within 0.2 degrees (v3/v4 smallest-three, 9 bits per component).
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import zstandard

from editor.formats.base import (
    MAX_SPLATS,
    Codec,
    FormatError,
    LoadedSplats,
    Progress,
    check_count,
    check_finite,
    report,
)
from editor.model import sh as shmod
from editor.model.splat_cloud import (
    SplatCloud,
    logit,
    matrix_to_quaternion,
    normalize_quaternions,
    quaternion_multiply,
    sigmoid,
)

MAGIC = b"NGSP"
COLOR_SCALE = 0.15
FLAG_ANTIALIASED = 0x1
FLAG_EXTENSIONS = 0x2
EXT_COORDINATE_SYSTEM = 0xADBE0003
LEGACY_HEADER = struct.Struct("<4sIIBBBB")
V4_HEADER = struct.Struct("<4sIIBBBBI12x")
TOC_ENTRY = struct.Struct("<QQ")

#: Deflate cannot expand more than 1032:1, so a gzip file of S bytes can never
#: hold more than this many times S; headers claiming more are lying.
MAX_DEFLATE_RATIO = 1032
#: The reference loader's bound for v4: the positions stream (9 bytes a splat)
#: may be at most 1024 times the whole file. It stops a tiny zstd bomb from
#: making us inflate gigabytes of zeros.
MAX_ZSTD_RATIO = 1024
#: Extension records after the arrays of a legacy stream are read up to this size.
MAX_LEGACY_EXTENSION_BYTES = 64 * 1024
ZSTD_LEVEL = 12
CHUNK = 8 << 20
#: Splats per block where per-splat temporaries would otherwise be scene-sized.
BLOCK_ROWS = 65536

SQRT1_2 = math.sqrt(0.5)

#: Sign of each SH coefficient (k = 0..15, DC first) under RUB <-> RDF, i.e.
#: under (x, y, z) -> (x, -y, -z). From the reference's flipSh with x = 1,
#: y = z = -1: band 1 [y, z, x], band 2 [xy, yz, 1, xz, 1], band 3
#: [y, xyz, y, z, x, z, x].
RUB_RDF_SH_SIGNS = np.array(
    [1, -1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1], dtype=np.float32
)

#: CoordinateSystem enum of the reference library (value -> axis letters).
COORDINATE_SYSTEMS = {
    1: "LDB", 2: "RDB", 3: "LUB", 4: "RUB", 5: "LDF", 6: "RDF", 7: "LUF", 8: "RUF",
    9: "LFD", 10: "RFD", 11: "LFU", 12: "RFU", 13: "LBD", 14: "RBD", 15: "LBU", 16: "RBU",
}
_AXIS = {
    "R": (1, 0, 0), "L": (-1, 0, 0),
    "U": (0, 1, 0), "D": (0, -1, 0),
    "B": (0, 0, 1), "F": (0, 0, -1),
}


# ------------------------------------------------------------------ frames
def frame_matrix(source: str, target: str = "RDF") -> np.ndarray:
    """(3, 3) signed permutation taking coordinates in frame ``source`` (three
    axis letters such as "RUB") to frame ``target``: ``p_target = M @ p_source``."""
    src = np.array([_AXIS[c] for c in source.upper()], dtype=np.float64).T
    dst = np.array([_AXIS[c] for c in target.upper()], dtype=np.float64).T
    if abs(np.linalg.det(src)) != 1 or abs(np.linalg.det(dst)) != 1:
        raise ValueError(f"not a coordinate frame: {source!r} -> {target!r}")
    return dst.T @ src


def change_frame(cloud: SplatCloud, m: np.ndarray) -> SplatCloud:
    """Re-express ``cloud`` with the signed permutation ``m`` (``p' = m @ p``).

    The Gaussians are unchanged in space: covariances become ``m S m^T`` and
    view-dependent colour follows the directions (``f'(m d) = f(d)``). For a
    diagonal ``m`` (axis flips) the quaternion is conjugated, as the reference
    does, keeping w; otherwise it is pre-multiplied by ``det(m) * m``. Returns a
    new cloud (extras shared)."""
    m = np.asarray(m, dtype=np.float64)
    det = round(float(np.linalg.det(m)))
    pos = (cloud.positions.astype(np.float64) @ m.T).astype(np.float32)
    q = cloud.rotations.astype(np.float64)
    if np.count_nonzero(m - np.diag(np.diag(m))) == 0:
        d = np.diag(m)
        if d[0] == 1 and d[1] == -1 and d[2] == -1:
            sh = cloud.sh * RUB_RDF_SH_SIGNS[: cloud.sh.shape[1], None]
        else:
            sh = shmod.rotate_sh(cloud.sh, m)
        q = np.concatenate([q[:, :1], det * q[:, 1:] * d], axis=1)
    else:
        qr = matrix_to_quaternion(det * m)
        q = quaternion_multiply(qr[None, :], q)
        sh = shmod.rotate_sh(cloud.sh, m)
    return SplatCloud(pos, cloud.log_scales, normalize_quaternions(q), cloud.opacity_logits, sh, cloud.extras)


# ----------------------------------------------------------------- reading
def _sniff(head: bytes, path: Path) -> bool:
    if head[:4] == MAGIC:
        return True
    if head[:2] == b"\x1f\x8b":
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4) == MAGIC
        except zlib.error:
            return False
    return False


def _sh_dim(degree: int) -> int:
    return (degree + 1) ** 2


def _layout(n: int, version: int, degree: int) -> list[tuple[str, int]]:
    """(name, byte size) of each attribute array, in file order."""
    return [
        ("positions", n * (6 if version == 1 else 9)),
        ("alphas", n),
        ("colors", n * 3),
        ("scales", n * 3),
        ("rotations", n * (3 if version < 3 else 4)),
        ("sh", n * 3 * (_sh_dim(degree) - 1)),
    ]


class _Inflater:
    """Pulls bytes out of one gzip member, never more than asked for."""

    def __init__(self, path: Path, data: bytes):
        self.path = path
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = data

    def read(self, n: int, progress: Progress = None, done: int = 0, total: int = 1) -> bytes:
        """Up to ``n`` bytes (fewer only where the stream ends)."""
        parts: list[bytes] = []
        got = 0
        while got < n and not self._z.eof:
            try:
                out = self._z.decompress(self._tail, min(n - got, CHUNK))
            except zlib.error as e:
                raise FormatError(self.path, f"corrupt gzip data ({e})") from None
            stalled = not out and len(self._z.unconsumed_tail) == len(self._tail)
            self._tail = self._z.unconsumed_tail
            if out:
                parts.append(out)
                got += len(out)
                report(progress, (done + got) / total)
            elif stalled or not self._tail:
                break
        return b"".join(parts)


def _read_exact(path: Path, src: _Inflater, name: str, size: int, progress, done, total) -> bytes:
    data = src.read(size, progress, done, total)
    if len(data) < size:
        raise FormatError(
            path,
            f"truncated: the {name} array needs {size} bytes but the compressed stream ends after "
            f"{len(data)} of them",
        )
    return data


def _parse_extensions(path: Path, zone: bytes, complete: bool = True) -> dict:
    """Extension records ``[u32 type][u32 length][payload]`` -> {"coordinate_system": letters,
    "extension_types": [...]}; unknown types are skipped by length."""
    out: dict = {"extension_types": []}
    pos = 0
    while pos < len(zone):
        if pos + 8 > len(zone):
            if complete:
                raise FormatError(path, "corrupt extension block (a record header is cut short)")
            break
        kind, length = struct.unpack_from("<II", zone, pos)
        if pos + 8 + length > len(zone):
            if complete:
                raise FormatError(path, f"corrupt extension block (record 0x{kind:08x} claims {length} bytes)")
            break
        payload = zone[pos + 8 : pos + 8 + length]
        out["extension_types"].append(f"0x{kind:08x}")
        if kind == EXT_COORDINATE_SYSTEM:
            if length < 4:
                raise FormatError(path, "corrupt coordinate-system extension (payload shorter than 4 bytes)")
            value = struct.unpack_from("<I", payload)[0]
            if value > 16:
                raise FormatError(path, f"coordinate-system extension names unknown frame {value}")
            out["coordinate_system"] = COORDINATE_SYSTEMS.get(value, "RUB")  # 0 = unspecified -> RUB
        pos += 8 + length
    return out


def _check_header(path: Path, version: int, n: int, degree: int) -> None:
    if version < 1 or version > 4:
        raise FormatError(path, f"unsupported SPZ version {version} (this program reads versions 1 to 4)")
    if degree > 4:
        raise FormatError(path, f"SH degree {degree} in the header; SPZ allows 0 to 4")
    if n > MAX_SPLATS:
        check_count(path, n, 0, 1)


def _check_ratio(path: Path, n: int, need: int, file_size: int, ratio: int, what: str) -> None:
    """Refuse a count whose arrays (``need`` bytes) could not come out of this file."""
    if need > file_size * ratio:
        raise FormatError(
            path,
            f"header claims {n} splats ({need} bytes of {what}) but a {file_size}-byte file cannot hold that "
            f"much (at most {ratio}:1 expansion); the file is corrupt",
        )


def _read_legacy(path: Path, data: bytes, gzipped: bool, progress: Progress) -> tuple:
    if gzipped:
        src = _Inflater(path, data)
        head = src.read(LEGACY_HEADER.size)
    else:
        head = data[: LEGACY_HEADER.size]
    if len(head) < LEGACY_HEADER.size:
        raise FormatError(path, f"truncated: {len(head)} bytes where the 16-byte SPZ header should be")
    magic, version, n, degree, fbits, flags, _ = LEGACY_HEADER.unpack(head)
    if magic != MAGIC:
        raise FormatError(path, "not an SPZ file (no NGSP magic after gunzip)")
    _check_header(path, version, n, degree)
    layout = _layout(n, version, degree)
    need = sum(size for _, size in layout)
    per_splat = need / n if n else 1
    if gzipped:
        _check_ratio(path, n, need, len(data), MAX_DEFLATE_RATIO, "arrays")
    else:
        check_count(path, n, len(data) - LEGACY_HEADER.size, per_splat)
    arrays = {}
    done = 0
    for name, size in layout:
        if gzipped:
            arrays[name] = _read_exact(path, src, name, size, progress, done, need)
        else:
            start = LEGACY_HEADER.size + done
            arrays[name] = data[start : start + size]
        done += size
    report(progress, 1.0)
    ext: dict = {}
    if flags & FLAG_EXTENSIONS:
        if gzipped:
            tail = src.read(MAX_LEGACY_EXTENSION_BYTES)
            complete = len(tail) < MAX_LEGACY_EXTENSION_BYTES
        else:
            tail = data[LEGACY_HEADER.size + need :][:MAX_LEGACY_EXTENSION_BYTES]
            complete = len(data) - LEGACY_HEADER.size - need <= MAX_LEGACY_EXTENSION_BYTES
        ext = _parse_extensions(path, tail, complete)
    container = "gzip" if gzipped else "raw"
    return version, n, degree, fbits, flags, arrays, ext, container


def _unzstd(path: Path, frame: bytes, expected: int, name: str) -> bytes:
    """Decompress one stream, which must produce exactly ``expected`` bytes; never
    produces more than ``expected + 1`` whatever its frame headers claim."""
    parts: list[bytes] = []
    got = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(frame, read_across_frames=True) as reader:
            while got <= expected:
                chunk = reader.read(min(CHUNK, expected + 1 - got))
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
    except zstandard.ZstdError as e:
        raise FormatError(path, f"corrupt zstd data in the {name} stream ({e})") from None
    if got != expected:
        what = "more" if got > expected else f"only {got}"
        raise FormatError(path, f"the {name} stream holds {what} bytes where {expected} were expected")
    return b"".join(parts)


def _read_v4(path: Path, data: bytes, progress: Progress) -> tuple:
    if len(data) < V4_HEADER.size:
        raise FormatError(path, f"truncated: {len(data)} bytes, shorter than the 32-byte SPZ v4 header")
    _, version, n, degree, fbits, flags, nstreams, toc = V4_HEADER.unpack_from(data)
    _check_header(path, version, n, degree)
    layout = [(name, size) for name, size in _layout(n, version, degree) if size]
    _check_ratio(path, n, 9 * n, len(data), MAX_ZSTD_RATIO, "positions")
    if nstreams != len(layout):
        raise FormatError(
            path, f"header lists {nstreams} streams but {n} splats of SH degree {degree} need {len(layout)}"
        )
    if toc < V4_HEADER.size or toc + nstreams * TOC_ENTRY.size > len(data):
        raise FormatError(path, f"table of contents at byte {toc} lies outside the {len(data)}-byte file")
    ext: dict = {}
    if flags & FLAG_EXTENSIONS:
        ext = _parse_extensions(path, data[V4_HEADER.size : toc])
    offset = toc + nstreams * TOC_ENTRY.size
    entries = []
    for i, (name, size) in enumerate(layout):
        csize, usize = TOC_ENTRY.unpack_from(data, toc + i * TOC_ENTRY.size)
        if usize != size:
            raise FormatError(
                path, f"the {name} stream is listed as {usize} bytes but {n} splats need {size}"
            )
        if csize > len(data) - offset:
            raise FormatError(
                path, f"truncated: the {name} stream needs {csize} bytes but only {len(data) - offset} follow"
            )
        entries.append((name, size, offset, csize))
        offset += csize
    total = sum(size for _, size in layout) or 1
    arrays: dict = {}
    done = 0
    for name, size, start, csize in entries:
        arrays[name] = _unzstd(path, data[start : start + csize], size, name)
        done += size
        report(progress, done / total)
    for name, size in _layout(n, version, degree):
        arrays.setdefault(name, b"")
    if offset < len(data):
        ext["trailing_bytes"] = len(data) - offset
    return version, n, degree, fbits, flags, arrays, ext, "zstd"


def _lut(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


_BYTES = np.arange(256, dtype=np.float64)
_OPACITY_LUT = _lut(logit(_BYTES / 255.0))
_COLOR_LUT = _lut((_BYTES / 255.0 - 0.5) / COLOR_SCALE)
_SCALE_LUT = _lut(_BYTES / 16.0 - 10.0)
_SH_LUT = _lut((_BYTES - 128.0) / 128.0)
#: For smallest-three: the component indices (x, y, z, w order) that the three
#: 10-bit fields hold, lowest bits first, for each largest-component index.
_S3_ORDER = np.array([[j for j in (3, 2, 1, 0) if j != i] for i in range(4)])


def _u8(buf: bytes, n: int, width: int) -> np.ndarray:
    return np.frombuffer(buf, dtype=np.uint8, count=n * width).reshape(n, width)


def decode_positions(buf: bytes, n: int, version: int, fractional_bits: int) -> np.ndarray:
    """(N, 3) float32 positions in the file's frame."""
    if version == 1:
        return np.frombuffer(buf, dtype="<f2", count=n * 3).reshape(n, 3).astype(np.float32)
    b = _u8(buf, n, 9).reshape(n, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    fixed = (fixed ^ 0x800000) - 0x800000  # sign-extend 24 -> 32 bits
    return (fixed * math.ldexp(1.0, -fractional_bits)).astype(np.float32)


def decode_rotations(buf: bytes, n: int, version: int) -> np.ndarray:
    """(N, 4) wxyz quaternions (not yet normalised) in the file's frame."""
    if version < 3:
        xyz = _u8(buf, n, 3).astype(np.float64) / 127.5 - 1.0
        w = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyz * xyz, axis=1)))
        return np.column_stack([w, xyz]).astype(np.float32)
    comp = np.frombuffer(buf, dtype="<u4", count=n).astype(np.uint32)
    largest = (comp >> 30).astype(np.intp)
    fields = np.stack([(comp >> s) & 0x3FF for s in (0, 10, 20)], axis=1)
    vals = (fields & 0x1FF) * (SQRT1_2 / 511.0)
    vals = np.where(fields & 0x200, -vals, vals)
    q = np.zeros((n, 4), dtype=np.float64)
    rows = np.arange(n)[:, None]
    q[rows, _S3_ORDER[largest]] = vals
    q[np.arange(n), largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(vals * vals, axis=1)))
    return q[:, [3, 0, 1, 2]].astype(np.float32)


def _decode(n: int, version: int, degree: int, fbits: int, arrays: dict, rub_to_rdf: bool) -> SplatCloud:
    """Cloud from the raw attribute arrays: in the file's own frame, or with
    ``rub_to_rdf`` already turned from RUB into RDF (the flips of `change_frame`
    with ``diag(1, -1, -1)``, fused into decoding to spare a copy)."""
    positions = decode_positions(arrays["positions"], n, version, fbits)
    opacity = _OPACITY_LUT[np.frombuffer(arrays["alphas"], dtype=np.uint8, count=n)]
    colors = _COLOR_LUT[_u8(arrays["colors"], n, 3)]
    log_scales = _SCALE_LUT[_u8(arrays["scales"], n, 3)]
    rotations = normalize_quaternions(decode_rotations(arrays["rotations"], n, version))
    rest = _sh_dim(degree) - 1
    kept = min(rest, 15)
    sh = np.empty((n, kept + 1, 3), dtype=np.float32)
    sh[:, 0] = colors
    if kept:
        sh_bytes = np.frombuffer(arrays["sh"], dtype=np.uint8, count=n * rest * 3).reshape(n, rest, 3)
        lut = _SH_LUT[None, :] * (RUB_RDF_SH_SIGNS[1 : kept + 1, None] if rub_to_rdf else np.ones((kept, 1), np.float32))
        for start in range(0, n, BLOCK_ROWS):
            block = sh_bytes[start : start + BLOCK_ROWS, :kept]
            # lut[j, b]: value of byte b for coefficient j, with its frame sign
            sh[start : start + BLOCK_ROWS, 1:] = lut[np.arange(kept)[None, :, None], block]
    if rub_to_rdf:  # 0 - v rather than -v: no negative zeros in what users see
        with np.errstate(invalid="ignore"):  # NaN from a hostile file: refused by the finite check later
            positions[:, 1:] = 0.0 - positions[:, 1:]
            rotations[:, 2:] = 0.0 - rotations[:, 2:]
    return SplatCloud(positions, log_scales, rotations, opacity, sh)


def read_spz(path: Path, progress: Progress = None, *, assume_frame: str = "RUB") -> LoadedSplats:
    """Read an SPZ file (any version 1-4) into an RDF `SplatCloud`.

    ``assume_frame`` is the frame of files that do not name one (the spec says
    RUB; pass "RDF" for files written by splat-transform 3.x). A v4
    coordinate-system extension, when present, wins.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    if data[:2] == b"\x1f\x8b":
        parsed = _read_legacy(path, data, True, progress)
    elif data[:4] == MAGIC:
        version = struct.unpack_from("<I", data, 4)[0] if len(data) >= 8 else 0
        if version >= 4:
            parsed = _read_v4(path, data, progress)
        else:
            parsed = _read_legacy(path, data, False, progress)
    else:
        raise FormatError(path, "not an SPZ file (neither gzip nor NGSP magic)")
    version, n, degree, fbits, flags, arrays, ext, container = parsed
    frame = ext.get("coordinate_system", assume_frame)
    try:
        m = frame_matrix(frame, "RDF")
    except (KeyError, ValueError):
        raise FormatError(path, f"unknown coordinate frame {frame!r}") from None
    rub = bool(np.array_equal(m, np.diag([1.0, -1.0, -1.0])))
    cloud = _decode(n, version, degree, fbits, arrays, rub_to_rdf=rub)
    del arrays
    if not rub and not np.array_equal(m, np.eye(3)):
        cloud = change_frame(cloud, m)
    check_finite(path, cloud)
    details = {
        "antialiased": bool(flags & FLAG_ANTIALIASED),
        "fractional_bits": int(fbits),
        "container": container,
        "coordinate_system": frame,
    }
    if degree > 3:
        details["sh_degree_in_file"] = int(degree)
    details.update({k: v for k, v in ext.items() if k != "coordinate_system" and v})
    return LoadedSplats(cloud, "spz", str(version), details)


def _read(path: Path, progress: Progress = None, *, spz_frame: str | None = None) -> LoadedSplats:
    """Codec entry point; ``spz_frame`` ("RUB", the spec, or "RDF" for
    splat-transform 3.x files) overrides the frame assumed for files that do
    not name one."""
    return read_spz(path, progress, assume_frame=(spz_frame or "RUB").upper())


# ----------------------------------------------------------------- writing
def _round_away(x: np.ndarray) -> np.ndarray:
    """Round half away from zero, like C's std::round used by the reference."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _to_u8(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(_round_away(x), 0, 255).astype(np.uint8)


def choose_fractional_bits(positions: np.ndarray, requested: int | None, path=None) -> int:
    """Fractional bits for 24-bit fixed-point positions (see the module docstring)."""
    limit = (1 << 23) - 1
    extent = float(np.max(np.abs(positions))) if positions.size else 0.0
    if requested is not None:
        if isinstance(requested, bool) or int(requested) != requested or not 0 <= requested <= 23:
            raise FormatError(path, f"fractional_bits must be an integer 0..23, got {requested!r}")
        requested = int(requested)
        if _round_away(np.float64(extent) * (1 << requested)) > limit:
            raise FormatError(
                path,
                f"a splat lies {extent:g} units from the origin; SPZ positions with {requested} fractional "
                f"bits reach only {limit / (1 << requested):g} (use fewer fractional bits)",
            )
        return requested
    bits = 12
    while bits >= 0 and _round_away(np.float64(extent) * (1 << bits)) > limit:
        bits -= 1
    if bits < 0:
        raise FormatError(
            path,
            f"a splat lies {extent:g} units from the origin; SPZ positions reach at most {limit} units",
        )
    return bits


def _quantize_sh(x: np.ndarray, bits: int) -> np.ndarray:
    """SH values -> bytes ``round(x * 128) + 128`` snapped to the nearest multiple
    of ``2**(8 - bits)``, in float32 like the reference so ties round the same way."""
    bucket = 1 << (8 - bits)
    t = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=2.0, neginf=-2.0)
    np.clip(t, -2.0, 2.0, out=t)
    t *= np.float32(128.0)
    r = np.floor(np.abs(t) + np.float32(0.5))
    np.copysign(r, t, out=r)
    q = r.astype(np.int16) + 128
    q = (q + bucket // 2) // bucket * bucket  # negatives differ from C's division but clip to 0 alike
    return np.clip(q, 0, 255).astype(np.uint8)


def encode_rotations_smallest_three(q_wxyz: np.ndarray) -> np.ndarray:
    """(N, 4) unit wxyz quaternions -> (N,) little-endian u32 smallest-three codes."""
    q = np.asarray(q_wxyz, dtype=np.float64)[:, [1, 2, 3, 0]]  # x, y, z, w
    n = q.shape[0]
    largest = np.argmax(np.abs(q), axis=1)
    negate = q[np.arange(n), largest] < 0
    comp = largest.astype(np.uint32)
    for k in range(3):  # fields from the highest bits down: lowest component index first
        idx = _S3_ORDER[largest, 2 - k]
        v = q[np.arange(n), idx]
        negbit = ((v < 0) ^ negate).astype(np.uint32)
        mag = np.minimum(np.floor(511.0 * np.abs(v) / SQRT1_2 + 0.5), 511).astype(np.uint32)
        comp = (comp << np.uint32(10)) | (negbit << np.uint32(9)) | mag
    return comp.astype("<u4")


def encode_arrays(cloud: SplatCloud, fractional_bits: int, sh1_bits: int, sh_rest_bits: int) -> list[bytes]:
    """The six attribute arrays (v3+ layout) of an RDF cloud, converted to RUB
    (the flips of `change_frame` with ``diag(1, -1, -1)``, done block by block)."""
    n = len(cloud)
    flip = np.array([1.0, -1.0, -1.0])
    fixed = _round_away(cloud.positions.astype(np.float64) * flip * (1 << fractional_bits)).astype(np.int32)
    pos = fixed.astype("<i4").view(np.uint8).reshape(n, 3, 4)[:, :, :3]
    alphas = _to_u8(sigmoid(np.nan_to_num(cloud.opacity_logits)).astype(np.float64) * 255.0)
    colors = _to_u8(cloud.sh[:, 0].astype(np.float64) * (COLOR_SCALE * 255.0) + 127.5)
    scales = _to_u8((cloud.log_scales.astype(np.float64) + 10.0) * 16.0)
    rot = encode_rotations_smallest_three(normalize_quaternions(cloud.rotations) * np.float32([1, 1, -1, -1]))
    k = cloud.sh.shape[1]
    sh = np.empty((n, k - 1, 3), dtype=np.uint8)
    signs = RUB_RDF_SH_SIGNS[1:k, None]
    for start in range(0, n if k > 1 else 0, BLOCK_ROWS):
        rest = cloud.sh[start : start + BLOCK_ROWS, 1:] * signs
        sh[start : start + BLOCK_ROWS, :3] = _quantize_sh(rest[:, :3], sh1_bits)
        sh[start : start + BLOCK_ROWS, 3:] = _quantize_sh(rest[:, 3:], sh_rest_bits)
    return [
        np.ascontiguousarray(pos).tobytes(),
        alphas.tobytes(),
        colors.tobytes(),
        scales.tobytes(),
        rot.tobytes(),
        sh.tobytes(),
    ]


def _write(
    cloud: SplatCloud,
    path: Path,
    progress: Progress = None,
    version: int = 3,
    fractional_bits: int | None = None,
    sh1_bits: int = 5,
    sh_rest_bits: int = 4,
) -> None:
    """Write ``cloud`` (RDF) as SPZ version 3 (gzip) or 4 (zstd); see the module docstring."""
    path = Path(path)
    if version not in (3, 4):
        raise FormatError(path, f"SPZ version {version!r} cannot be written (choose 3 or 4)")
    for name, bits in (("sh1_bits", sh1_bits), ("sh_rest_bits", sh_rest_bits)):
        if isinstance(bits, bool) or bits not in range(1, 9):
            raise FormatError(path, f"{name} must be 1..8, got {bits!r}")
    n = len(cloud)
    if n == 0:
        raise FormatError(path, "cannot write an empty scene as SPZ (SPZ readers refuse files with no splats)")
    if n > MAX_SPLATS:
        raise FormatError(path, f"{n} splats is more than SPZ writing supports here ({MAX_SPLATS})")
    if not np.isfinite(cloud.positions).all():
        bad = int((~np.isfinite(cloud.positions).all(axis=1)).sum())
        raise FormatError(path, f"{bad} splat(s) have non-finite positions; SPZ cannot store them")
    degree = cloud.sh_degree
    fbits = choose_fractional_bits(cloud.positions, fractional_bits, path)
    arrays = [a for a in encode_arrays(cloud, fbits, sh1_bits, sh_rest_bits) if a]
    report(progress, 0.2)
    total = sum(len(a) for a in arrays)
    done = 0

    def pieces(arr: bytes):
        nonlocal done
        view = memoryview(arr)
        for start in range(0, len(view), CHUNK):
            yield view[start : start + CHUNK]
            done += min(CHUNK, len(view) - start)
            report(progress, 0.2 + 0.8 * done / total)

    with open(path, "wb") as f:
        if version == 3:
            z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
            f.write(z.compress(LEGACY_HEADER.pack(MAGIC, 3, n, degree, fbits, 0, 0)))
            for arr in arrays:
                for piece in pieces(arr):
                    f.write(z.compress(piece))
            f.write(z.flush())
        else:
            chunks = []
            for arr in arrays:
                z = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj(size=len(arr))
                chunks.append(b"".join([z.compress(piece) for piece in pieces(arr)] + [z.flush()]))
            f.write(V4_HEADER.pack(MAGIC, 4, n, degree, fbits, 0, len(arrays), V4_HEADER.size))
            for arr, chunk in zip(arrays, chunks):
                f.write(TOC_ENTRY.pack(len(chunk), len(arr)))
            for chunk in chunks:
                f.write(chunk)
    report(progress, 1.0)


CODEC = Codec(
    name="spz",
    description="Niantic SPZ (compressed splats, versions 1-4; writes 3 or 4)",
    extensions=(".spz",),
    sniff=_sniff,
    read=_read,
    write=_write,
    lossy="quantises every attribute (positions 1/4096 unit, 8-bit colour/opacity/scale, "
    "9-bit rotations, 4-5-bit SH) and drops extra attributes",
)
