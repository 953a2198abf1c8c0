"""antimatter15 ``.splat``: a headerless array of 32-byte records, little-endian.

=======  =====  =========================================================
bytes    type   meaning
=======  =====  =========================================================
0..11    3×f32  position x, y, z (same frame as 3DGS PLY)
12..23   3×f32  scale x, y, z, **linear** standard deviations
24..27   4×u8   R, G, B = base colour ``0.5 + SH_C0 * f_dc`` × 255;
                A = opacity ``sigmoid(logit)`` × 255
28..31   4×u8   rotation w, x, y, z, each ``b -> (b - 128) / 128``
=======  =====  =========================================================

Reading: the rotation decoding follows antimatter15's viewer and converter
(``q * 128 + 128`` on write, ``(b - 128) / 128`` on read; splat-transform uses
``b / 255 * 2 - 1``, which differs by less than 1/128 per component); the
result is normalised, an all-128 quaternion becoming the identity. Colour DC =
``(b / 255 - 0.5) / SH_C0``; opacity logit = ``logit(a / 255)`` with a clipped
to [1e-6, 1 - 1e-6]; log-scale = ``log(s)`` (scales <= 0 become ``log(1e-30)``).
The file has no header, so it is recognised by its extension only, and its size
must be a multiple of 32 bytes.

Writing is lossy: SH bands above 0 are dropped; colour is clamped to [0, 1] and
rounded to 8 bits (DC error <= 0.5/255/SH_C0 ~ 0.007 inside the clamp);
opacity rounded to 8 bits (sigmoid error <= 1/510); rotations quantised to
8 bits per component (components within ~0.01 after renormalising); positions
and scales are float32 (scale = exp(log-scale), exact to float32 rounding).
Splats are written in decreasing "importance" ``scale_x·scale_y·scale_z ×
opacity`` (as antimatter15's converter does, so progressive loaders show the
big opaque splats first); the splat order therefore changes -- `importance_order`
gives the permutation. Extras are not stored.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from editor.formats.base import Codec, FormatError, LoadedSplats, Progress, check_count, report
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, sigmoid

RECORD = np.dtype([("position", "<f4", (3,)), ("scale", "<f4", (3,)), ("rgba", "u1", (4,)), ("rotation", "u1", (4,))])
assert RECORD.itemsize == 32


def read(path: Path, progress: Progress = None) -> LoadedSplats:
    """Read a ``.splat`` file into a `SplatCloud` (see the module docstring)."""
    path = Path(path)
    size = path.stat().st_size
    if size % RECORD.itemsize:
        raise FormatError(path, f"a .splat file holds 32-byte records, but this one has {size} bytes "
                                f"({size % RECORD.itemsize} left over); it is truncated or not a .splat file")
    n = check_count(path, size // RECORD.itemsize, size, RECORD.itemsize)
    rec = np.fromfile(path, RECORD, n)
    if len(rec) != n:
        raise FormatError(path, "file ended early")
    report(progress, 0.3)
    q = (rec["rotation"].astype(np.float64) - 128.0) / 128.0
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    bad = ~(norm[:, 0] > 1e-12)
    q /= np.where(bad[:, None], 1.0, norm)
    q[bad] = (1.0, 0.0, 0.0, 0.0)
    with np.errstate(invalid="ignore"):
        log_scales = np.log(np.where(rec["scale"] > 0, rec["scale"], np.float32(1e-30)))
    rgba = rec["rgba"].astype(np.float64) / 255.0
    cloud = SplatCloud(
        rec["position"], log_scales, q, logit(rgba[:, 3]), ((rgba[:, :3] - 0.5) / SH_C0)[:, None, :],
    )
    report(progress, 1.0)
    return LoadedSplats(cloud, "splat", "", {"record_bytes": RECORD.itemsize})


def importance_order(cloud: SplatCloud) -> np.ndarray:
    """Permutation (N,) putting splats in decreasing ``volume × opacity``
    (computed in log space, so huge scales cannot overflow); stable."""
    log_scales = np.clip(np.nan_to_num(cloud.log_scales.astype(np.float64), nan=-1e4), -1e4, 1e4)
    key = log_scales.sum(axis=1) + np.log(np.maximum(sigmoid(cloud.opacity_logits).astype(np.float64), 1e-300))
    return np.argsort(-key, kind="stable")


def write(cloud: SplatCloud, path: Path, progress: Progress = None, **options) -> None:
    """Write ``cloud`` as ``.splat`` (lossy; see the module docstring)."""
    if options:
        raise ValueError(f"unknown option(s) for splat: {', '.join(sorted(options))}")
    order = importance_order(cloud)
    report(progress, 0.1)
    n = len(cloud)
    rec = np.empty(n, RECORD)
    rec["position"] = cloud.positions[order]
    with np.errstate(over="ignore"):
        rec["scale"] = np.exp(np.clip(cloud.log_scales[order].astype(np.float64), -80.0, 80.0))
    color = 0.5 + SH_C0 * np.clip(cloud.sh[order, 0, :].astype(np.float64), -1e4, 1e4)
    rgba = np.empty((n, 4))
    rgba[:, :3] = color
    rgba[:, 3] = sigmoid(cloud.opacity_logits[order])
    rec["rgba"] = np.round(np.clip(np.nan_to_num(rgba, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
    q = np.nan_to_num(cloud.rotations[order].astype(np.float64), nan=0.0)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 1e-12, q / np.where(norm > 1e-12, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))
    rec["rotation"] = np.clip(np.round(q * 128.0 + 128.0), 0, 255).astype(np.uint8)
    report(progress, 0.7)
    rec.tofile(path)
    report(progress, 1.0)


def sniff(head: bytes, path: Path) -> bool:
    """.splat has no header or magic; the registry falls back to the extension."""
    return False


CODEC = Codec(
    name="splat",
    description="antimatter15 .splat (32 bytes a splat, no SH)",
    extensions=(".splat",),
    sniff=sniff,
    read=read,
    write=write,
    lossy="drops SH bands above 0 and extras; colour, opacity and rotation quantised to 8 bits; "
          "splats reordered by size x opacity",
)
