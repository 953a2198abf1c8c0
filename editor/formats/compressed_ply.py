"""PlayCanvas compressed PLY (``.compressed.ply``), as written by SuperSplat and
splat-transform and read by the PlayCanvas engine.

A binary PLY with three elements:

``chunk`` (one row per 256 splats, float32)
    ``min_x min_y min_z max_x max_y max_z`` -- position bounds;
    ``min_scale_x.. max_scale_z`` -- log-scale bounds (clamped to [-20, 20]);
    optionally ``min_r min_g min_b max_r max_g max_b`` -- bounds of the base
    colour ``0.5 + SH_C0 * f_dc`` (older files have no colour bounds; their
    colour bytes are the colour itself in [0, 1]).
``vertex`` (one row per splat, four uint32)
    ``packed_position``: x 11 bits (31..21), y 10 bits (20..11), z 11 bits
    (10..0), each the unorm position of the splat inside its chunk's bounds.
    ``packed_rotation``: bits 31..30 = index of the largest-magnitude
    component in **w, x, y, z** order (that component made positive); bits
    29..20, 19..10, 9..0 = the other three in index order, each stored as
    ``unorm10(v * sqrt(2)/2 + 0.5)``; the largest is ``sqrt(1 - a^2 - b^2 - c^2)``.
    ``packed_scale``: 11-10-11 like position, in log-scale space.
    ``packed_color``: R 31..24, G 23..16, B 15..8 (unorm8 inside the chunk's
    colour bounds), A 7..0 = ``sigmoid(opacity)`` as unorm8.
    unorm``k``(t) = ``floor(t * (2^k - 1) + 0.5)``; decoding is ``u / (2^k - 1)``
    and positions/scales/colours are ``min * (1 - t) + max * t``.
``sh`` (optional, one row per splat, uchar)
    ``f_rest_0..M-1`` (M = 9, 24 or 45, channel-major like 3DGS PLY), written
    as ``clamp(trunc((v / 8 + 0.5) * 256), 0, 255)`` and read as
    ``(n - 0.5) * 8`` with ``n = 0`` for byte 0, ``1`` for 255, else ``(b + 0.5) / 256``
    (the splat-transform convention: SH rest values are limited to [-4, 4]).

Writing sorts splats in Morton (Z-curve) order of their positions (21 bits per
axis), so each 256-splat chunk is spatially tight, as SuperSplat does; the
splat order therefore changes.

Tolerances of a write -> read round trip (per splat, after reordering by
`morton_order`; "extent" is the chunk's max - min of that quantity):

* positions: |error| <= extent_x / 4094 (x, z: 11 bits) and extent_y / 2046 (y: 10 bits), + float32 rounding;
* log-scales: the same bit budget over the chunk's log-scale extent; log-scales
  outside [-20, 20] are clamped;
* base colour ``0.5 + SH_C0 * f_dc``: |error| <= chunk colour extent / 510
  (so f_dc within that / SH_C0);
* opacity: |sigmoid error| <= 1/510; a stored alpha of 0 or 255 reads as
  logit(1e-6) = -13.8 or +13.8;
* rotations: each component of the unit quaternion within ~1e-3 (up to sign);
* SH rest: |error| <= 1/32 for values in [-4, 4]; values outside are clamped.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from editor.formats.base import Codec, FormatError, LoadedSplats, Progress, report
from editor.formats.ply import (
    PlyElement,
    PlyHeader,
    fields_view,
    looks_like_ply,
    read_header,
    skip_binary_element,
)
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, sigmoid

CHUNK_SIZE = 256
_POSITION_BOUNDS = ("min_x", "min_y", "min_z", "max_x", "max_y", "max_z")
_SCALE_BOUNDS = ("min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z")
_COLOR_BOUNDS = ("min_r", "min_g", "min_b", "max_r", "max_g", "max_b")
_PACKED = ("packed_position", "packed_rotation", "packed_scale", "packed_color")
_SQRT2 = math.sqrt(2.0)
#: For each largest-component index, the indices of the other three (in order).
_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
#: SH byte -> value: (n - 0.5) * 8 with n = 0 for 0, 1 for 255, else (b + 0.5) / 256.
_SH_LUT = ((np.r_[0.0, (np.arange(1, 255) + 0.5) / 256.0, 1.0] - 0.5) * 8.0).astype(np.float32)
#: Splats decoded / encoded per step, to bound temporaries (a multiple of CHUNK_SIZE).
_STEP = CHUNK_SIZE * 1024


# ---------------------------------------------------------------------- read
def _require(path, el: PlyElement, names, kinds: str, what: str) -> None:
    for name in names:
        p = el.property(name)
        if p is None:
            raise FormatError(path, f"compressed PLY: element {el.name} has no property {name}")
        if p.is_list or p.type[0] not in kinds:
            raise FormatError(path, f"compressed PLY: property {name} must be {what}")


def _layout(path, header: PlyHeader):
    if header.is_ascii:
        raise FormatError(path, "ASCII compressed PLY is not supported (only binary)")
    chunk, vertex, sh = header.element("chunk"), header.element("vertex"), header.element("sh")
    if chunk is None or vertex is None or vertex.property("packed_position") is None:
        raise FormatError(path, "not a PlayCanvas compressed PLY (needs a chunk element and packed vertex data)")
    _require(path, chunk, _POSITION_BOUNDS + _SCALE_BOUNDS, "f", "a float")
    has_color = any(chunk.property(name) is not None for name in _COLOR_BOUNDS)
    if has_color:  # all six colour bounds or none
        _require(path, chunk, _COLOR_BOUNDS, "f", "a float")
    for name in _PACKED:
        _require(path, vertex, (name,), "iu", "a 32-bit integer")
        if np.dtype(vertex.property(name).type).itemsize != 4:
            raise FormatError(path, f"compressed PLY: property {name} must be a 32-bit integer")
    n = vertex.count
    if chunk.count != -(-n // CHUNK_SIZE):
        raise FormatError(path, f"compressed PLY: {chunk.count} chunks for {n} splats "
                                f"(expected {-(-n // CHUNK_SIZE)})")
    rest = 0
    if sh is not None:
        rest = len(sh.properties)
        if rest not in (9, 24, 45):
            raise FormatError(path, f"compressed PLY: sh element has {rest} properties, expected 9, 24 or 45")
        _require(path, sh, [f"f_rest_{i}" for i in range(rest)], "u", "a uchar")
        if any(np.dtype(p.type).itemsize != 1 for p in sh.properties):
            raise FormatError(path, "compressed PLY: sh properties must be uchar")
        if sh.count != n:
            raise FormatError(path, f"compressed PLY: sh element has {sh.count} rows for {n} splats")
    return chunk, vertex, sh, has_color, rest


def read(path: Path, progress: Progress = None) -> LoadedSplats:
    """Read a PlayCanvas compressed PLY into a `SplatCloud` (see the module docstring)."""
    path = Path(path)
    with open(path, "rb") as f:
        header = read_header(path, f)
        chunk_el, vertex_el, sh_el, has_color, rest = _layout(path, header)
        wanted = {e.name for e in (chunk_el, vertex_el, sh_el) if e is not None}
        tables: dict[str, np.ndarray] = {}
        offset = header.data_offset
        for el in header.elements:
            if el.name in wanted:
                if el.has_lists:
                    raise FormatError(path, f"compressed PLY: element {el.name} has list properties")
                dtype = el.dtype(header.endian)
                need = el.count * dtype.itemsize
                if need > header.file_size - offset:
                    raise FormatError(path, f"truncated: element {el.name} needs {need} bytes "
                                            f"but only {header.file_size - offset} follow")
                f.seek(offset)
                tables[el.name] = np.fromfile(f, dtype, el.count)
                if len(tables[el.name]) != el.count:
                    raise FormatError(path, f"file ended early while reading element {el.name}")
                offset += need
                wanted.discard(el.name)
                if not wanted:
                    break
            else:
                offset = skip_binary_element(path, header, el, offset, _whole_file(f) if el.has_lists else None)
    report(progress, 0.2)
    cloud = _decode(tables["chunk"], tables["vertex"], tables.get("sh"), has_color, rest, progress)
    report(progress, 1.0)
    return LoadedSplats(
        cloud, "compressed-ply", f"{header.format} {header.version}",
        {"chunks": chunk_el.count, "chunk_colors": has_color,
         "elements": [f"{e.name} {e.count}" for e in header.elements]},
    )


def _whole_file(f) -> bytes:
    f.seek(0)
    return f.read()


def _unorm(v: np.ndarray, shift: int, bits: int) -> np.ndarray:
    return ((v >> np.uint32(shift)) & np.uint32((1 << bits) - 1)).astype(np.float64) / ((1 << bits) - 1)


def _lerp(lo: np.ndarray, hi: np.ndarray, t: np.ndarray) -> np.ndarray:
    return lo * (1.0 - t) + hi * t


def _decode(chunks: np.ndarray, vertices: np.ndarray, sh_rows, has_color: bool, rest: int,
            progress: Progress) -> SplatCloud:
    """Unpack the structured ``chunk``/``vertex``/``sh`` tables into a SplatCloud."""
    n = len(vertices)
    f32 = np.float32
    out = SplatCloud(np.empty((n, 3), f32), np.empty((n, 3), f32), np.empty((n, 4), f32), np.empty(n, f32),
                     np.empty((n, 1 + rest // 3, 3), f32))

    def bounds(names):  # (C, 6) float64 in min_xyz, max_xyz order
        return np.stack([chunks[name].astype(np.float64) for name in names], axis=1)

    with np.errstate(all="ignore"):  # hostile bounds (inf, NaN) must not warn; check_finite handles them
        _decode_steps(out, vertices, sh_rows, rest, progress, bounds(_POSITION_BOUNDS), bounds(_SCALE_BOUNDS),
                      bounds(_COLOR_BOUNDS) if has_color else None)
    return out


def _decode_steps(out: SplatCloud, vertices, sh_rows, rest: int, progress, pos_b, scale_b, color_b) -> None:
    n = len(vertices)
    k1 = rest // 3
    if k1:
        names = [f"f_rest_{i}" for i in range(rest)]
        sh_table = fields_view(sh_rows, names)  # zero-copy when the columns are in order
        if sh_table is None:
            sh_table = np.stack([sh_rows[name] for name in names], axis=1)
    for s in range(0, n, _STEP):
        e = min(n, s + _STEP)
        ci = np.arange(s, e) // CHUNK_SIZE
        v = {name: vertices[name][s:e].astype(np.uint32) for name in _PACKED}

        def three(packed, b):  # 11-10-11 unorm -> lerp inside the chunk's bounds (e-s, 3)
            t = np.stack([_unorm(packed, 21, 11), _unorm(packed, 11, 10), _unorm(packed, 0, 11)], axis=1)
            bb = b[ci]
            return _lerp(bb[:, :3], bb[:, 3:], t)

        out.positions[s:e] = three(v["packed_position"], pos_b)
        out.log_scales[s:e] = three(v["packed_scale"], scale_b)

        r = v["packed_rotation"]
        abc = (np.stack([_unorm(r, 20, 10), _unorm(r, 10, 10), _unorm(r, 0, 10)], axis=1) - 0.5) * _SQRT2
        largest = (r >> np.uint32(30)).astype(np.intp)
        q = np.empty((e - s, 4))
        rows = np.arange(e - s)
        q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", abc, abc)))
        others = _OTHERS[largest]
        for j in range(3):
            q[rows, others[:, j]] = abc[:, j]
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        out.rotations[s:e] = q

        c = v["packed_color"]
        rgb = np.stack([_unorm(c, 24, 8), _unorm(c, 16, 8), _unorm(c, 8, 8)], axis=1)
        if color_b is not None:
            cb = color_b[ci]
            rgb = _lerp(cb[:, :3], cb[:, 3:], rgb)
        out.sh[s:e, 0, :] = (rgb - 0.5) / SH_C0
        out.opacity_logits[s:e] = logit(_unorm(c, 0, 8))

        if k1:
            b = sh_table[s:e]  # (e-s, 3*k1) uint8, channel-major
            out.sh[s:e, 1:, :] = _SH_LUT[b].reshape(-1, 3, k1).transpose(0, 2, 1)
        report(progress, 0.2 + 0.8 * e / n)


# --------------------------------------------------------------------- write
def _part1by2(v: np.ndarray) -> np.ndarray:
    """Spread the low 21 bits of ``v`` (uint64) to every third bit."""
    v = v & np.uint64(0x1FFFFF)
    v = (v | (v << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    v = (v | (v << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    v = (v | (v << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    v = (v | (v << np.uint64(2))) & np.uint64(0x1249249249249249)
    return v


def morton_order(positions: np.ndarray) -> np.ndarray:
    """Permutation (N,) sorting finite positions (N, 3) along a 3D Z-curve with
    21 bits per axis over the bounding box (z in the high bit of each triple,
    as splat-transform). Stable, so equal codes keep their input order."""
    p = np.asarray(positions, dtype=np.float64)
    if len(p) == 0:
        return np.zeros(0, np.intp)
    lo, hi = p.min(axis=0), p.max(axis=0)
    ext = hi - lo
    mul = np.where(ext > 0, (1 << 21) / np.where(ext > 0, ext, 1.0), 0.0)
    q = np.clip((p - lo) * mul, 0, (1 << 21) - 1).astype(np.uint64)
    code = _part1by2(q[:, 0]) | (_part1by2(q[:, 1]) << np.uint64(1)) | (_part1by2(q[:, 2]) << np.uint64(2))
    return np.argsort(code, kind="stable")


def _normalize_in(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """splat-transform's chunk normalisation: 0 at/below min, 1 at/above max,
    0 for (near-)empty ranges, else linear."""
    rng = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (x - lo) / np.where(rng < 1e-5, 1.0, rng)
    t = np.where(rng < 1e-5, 0.0, t)
    t = np.where(x >= hi, 1.0, t)
    return np.where(x <= lo, 0.0, t)


def _pack_unorm(t: np.ndarray, bits: int) -> np.ndarray:
    m = (1 << bits) - 1
    return np.clip(np.floor(t * m + 0.5), 0, m).astype(np.uint32)


def _pack_111011(t: np.ndarray) -> np.ndarray:
    return (_pack_unorm(t[..., 0], 11) << np.uint32(21)) | (_pack_unorm(t[..., 1], 10) << np.uint32(11)) \
        | _pack_unorm(t[..., 2], 11)


def _chunk_bounds(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, 256, 3) -> per-chunk (min, max) (C, 1, 3), rounded to float32 as stored."""
    lo = values.min(axis=1, keepdims=True).astype(np.float32).astype(np.float64)
    hi = values.max(axis=1, keepdims=True).astype(np.float32).astype(np.float64)
    return lo, hi


def write(cloud: SplatCloud, path: Path, progress: Progress = None, **options) -> None:
    """Write ``cloud`` as a PlayCanvas compressed PLY (lossy; see the module docstring)."""
    if options:
        raise ValueError(f"unknown option(s) for compressed-ply: {', '.join(sorted(options))}")
    n = len(cloud)
    if n and not np.isfinite(cloud.positions).all():
        raise ValueError("the scene has splats with non-finite positions; remove them before saving")
    k1 = cloud.sh.shape[1] - 1
    n_chunks = -(-n // CHUNK_SIZE)
    order = morton_order(cloud.positions)
    if n % CHUNK_SIZE:  # repeat the last splat to fill the last chunk (bounds only)
        order = np.concatenate([order, np.full(n_chunks * CHUNK_SIZE - n, order[-1])])
    chunk_data = np.empty((n_chunks, 18), np.float32)
    packed = np.empty((n, 4), "<u4")
    sh_bytes = np.empty((n, 3 * k1), np.uint8)
    step_chunks = _STEP // CHUNK_SIZE
    for c0 in range(0, n_chunks, step_chunks):
        c1 = min(n_chunks, c0 + step_chunks)
        idx = order[c0 * CHUNK_SIZE: c1 * CHUNK_SIZE]
        rows = slice(c0 * CHUNK_SIZE, min(n, c1 * CHUNK_SIZE))
        keep = rows.stop - rows.start
        shape = (c1 - c0, CHUNK_SIZE, 3)

        pos = cloud.positions[idx].astype(np.float64).reshape(shape)
        plo, phi = _chunk_bounds(pos)
        # splat-transform clamps the chunk's log-scale bounds to [-20, 20]; clamping the
        # values first gives the same packed bits and keeps inf out of the bounds
        scl = np.clip(np.nan_to_num(cloud.log_scales[idx].astype(np.float64), nan=0.0), -20, 20).reshape(shape)
        slo, shi = _chunk_bounds(scl)
        dc = np.clip(np.nan_to_num(cloud.sh[idx, 0, :].astype(np.float64), nan=0.0), -1e30, 1e30)
        col = (0.5 + SH_C0 * dc).reshape(shape)
        clo, chi = _chunk_bounds(col)
        chunk_data[c0:c1] = np.concatenate([plo, phi, slo, shi, clo, chi], axis=2)[:, 0, :]

        pp = _pack_111011(_normalize_in(pos, plo, phi)).reshape(-1)[:keep]
        ps = _pack_111011(_normalize_in(scl, slo, shi)).reshape(-1)[:keep]
        rgb = _pack_unorm(_normalize_in(col, clo, chi), 8).reshape(-1, 3)[:keep]
        alpha = _pack_unorm(sigmoid(np.nan_to_num(cloud.opacity_logits[idx[:keep]], nan=0.0)).astype(np.float64), 8)
        packed[rows, 0] = pp
        packed[rows, 1] = _pack_rotations(cloud.rotations[idx[:keep]])
        packed[rows, 2] = ps
        packed[rows, 3] = (rgb[:, 0] << np.uint32(24)) | (rgb[:, 1] << np.uint32(16)) \
            | (rgb[:, 2] << np.uint32(8)) | alpha
        if k1:
            rest = np.clip(np.nan_to_num(cloud.sh[idx[:keep], 1:, :].astype(np.float64), nan=0.0), -8, 8)
            rest = rest.transpose(0, 2, 1).reshape(keep, 3 * k1)  # channel-major f_rest order
            sh_bytes[rows] = np.clip(np.trunc((rest / 8.0 + 0.5) * 256.0), 0, 255).astype(np.uint8)
        report(progress, 0.9 * c1 / max(n_chunks, 1))

    lines = ["ply", "format binary_little_endian 1.0", "comment Generated by SplatForge",
             f"element chunk {n_chunks}"]
    lines += [f"property float {p}" for p in _POSITION_BOUNDS + _SCALE_BOUNDS + _COLOR_BOUNDS]
    lines.append(f"element vertex {n}")
    lines += [f"property uint {p}" for p in _PACKED]
    if k1:
        lines.append(f"element sh {n}")
        lines += [f"property uchar f_rest_{i}" for i in range(3 * k1)]
    lines.append("end_header")
    with open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("ascii"))
        chunk_data.astype("<f4").tofile(f)
        packed.tofile(f)
        if k1:
            sh_bytes.tofile(f)
    report(progress, 1.0)


def _pack_rotations(q: np.ndarray) -> np.ndarray:
    """wxyz quaternions (M, 4) -> packed 2-10-10-10 uint32 (M,)."""
    q = np.nan_to_num(np.asarray(q, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    bad = ~(norm[:, 0] > 1e-12)
    q = q / np.where(norm > 1e-12, norm, 1.0)
    q[bad] = (1.0, 0.0, 0.0, 0.0)
    largest = np.argmax(np.abs(q), axis=1)
    rows = np.arange(len(q))
    q *= np.where(q[rows, largest] < 0, -1.0, 1.0)[:, None]
    others = _OTHERS[largest]
    out = largest.astype(np.uint32)
    for j in range(3):
        out = (out << np.uint32(10)) | _pack_unorm(q[rows, others[:, j]] * (_SQRT2 * 0.5) + 0.5, 10)
    return out


def sniff(head: bytes, path: Path) -> bool:
    """A PLY header with a ``chunk`` element and packed vertex data."""
    return looks_like_ply(head) and b"element chunk" in head and b"packed_position" in head


CODEC = Codec(
    name="compressed-ply",
    description="PlayCanvas compressed PLY (SuperSplat; chunked, quantised)",
    extensions=(".compressed.ply",),
    sniff=sniff,
    read=read,
    write=write,
    lossy="quantised: positions/scales 11-10-11 bits per 256-splat chunk, colour and opacity 8 bits, "
          "rotation 2-10-10-10, SH rest 8 bits in [-4, 4]; splats are reordered (Morton order)",
)
