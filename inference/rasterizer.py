"""Differentiable Gaussian splat rasterizer in torch (CPU-friendly, tile-based).

The maths is the project contract written down in `editor.rendering.reference`
(whose constants and near-plane rule are imported from there), in short:

* Camera: `editor.model.camera.Camera`; world -> camera with x right, y down,
  z forward; ``fx = fy = 0.5 H / tan(fov_y / 2)``; principal point at the image
  centre; pixel (0, 0) is the top-left pixel and pixel centres sit at
  integer + 0.5.
* A splat is drawn only if its centre's depth exceeds
  ``near_plane(camera) = min(0.2, 0.05 |target - eye|)`` and all its values
  are finite.
* Colour: 3DGS real SH (`editor.model.sh` constants and signs) along the unit
  direction from the camera eye to the splat centre, ``+ 0.5``, clamped to
  [0, 1]. Opacity ``sigmoid(opacity_logit)``.
* Covariance ``Sigma = R S S^T R^T``; EWA projection ``cov2d = J W Sigma W^T
  J^T + 0.3 I`` with ``J`` the perspective Jacobian at the camera-space centre
  whose ``x/z``, ``y/z`` are clamped to 1.3x the frustum half-tangents.
* ``alpha = min(0.99, opacity * exp(-q / 2))`` with ``q = d^T cov2d^-1 d``
  (``d``: pixel centre minus projected centre); a splat touches a pixel only
  inside its 3-sigma ellipse (``q <= 9``) and where ``alpha >= 1/255``.
* Front-to-back compositing in increasing depth (ties by splat index), the
  background added with the remaining transmittance. No early termination by
  default (as the reference); ``t_min=1e-4`` gives the 3DGS rule.

Two implementations of the compositing share the projection:

`rasterize`
    Tile-based: each splat's screen box (the bounding box of its extent
    ellipse) is binned to ``tile x tile`` pixel tiles, each tile's splats are
    sorted by depth, and tiles of similar load are composited together in
    batches of dense ``pixels x splats`` tensors (memory bounded by
    ``budget`` elements per batch, long tiles split in depth chunks). The
    backward pass is written by hand (`_Composite`): it recomputes alpha
    chunk by chunk instead of storing it, so memory stays bounded too.
`rasterize_reference_torch`
    Plain autograd twin: every pixel against every splat, `torch.cumprod`
    for the transmittance. Obviously right, slow; the tests check that both
    agree in values and gradients.

Tensors: ``means`` (N, 3) world units, ``log_scales`` (N, 3) natural log of
the per-axis standard deviation, ``quats`` (N, 4) wxyz (normalised here, so
they need not be unit), ``opacity_logits`` (N,), ``sh`` (N, K, 3) with
K = (d + 1)**2, ``background`` (3,). CPU tensors of any float dtype (float64
for gradcheck); the image has the dtype of ``means``.

Gradients are the true derivatives of the forward maths, so they are zero
where the forward is flat: colour channels clamped at 0 or 1, alpha capped at
0.99 (3DGS passes gradients straight through that cap; we do not), x/z or y/z
beyond the Jacobian clamp. The 3-sigma and 1/255 cut-offs are steps with no
gradient. Dropped splats (behind the near plane, non-finite) get exactly zero
gradients.

Memory: the dense tensors are bounded by ``budget`` (plus ``cache_bytes``
when gradients are wanted); the binning lists are O(number of splat-tile
overlaps), like any tile rasterizer's.

Speed: call ``torch.set_flush_denormal(True)`` once in a process that renders
a lot (training, the appearance pass): behind many opaque splats the
transmittance sinks into float32 denormals, which makes CPU arithmetic ~20%
slower on real scenes. `bench/raster.py` measures the rasterizer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from editor.model.camera import Camera
from editor.model.sh import SH_C0, SH_C1, SH_C2, SH_C3
from editor.rendering.reference import (
    ALPHA_MAX,
    ALPHA_MIN,
    JACOBIAN_CLAMP,
    LOW_PASS,
    MAX_POWER,
    near_plane,
    resolve_sh_degree,
)

EXTENT_SIGMA = math.sqrt(2.0 * MAX_POWER)  # a splat covers pixels with d^T cov2d^-1 d <= 9
T_MIN_3DGS = 1e-4  # the 3DGS early-termination threshold, for ``t_min``

DEFAULT_BUDGET = 1 << 19  # elements of one pixels x splats batch tensor
DEFAULT_CACHE_BYTES = 1 << 29  # alpha and T kept for the backward when they fit
DEFAULT_TILE = 8  # tile edge in pixels (8 beat 16 and 32 in bench/raster.py)


# --------------------------------------------------------------------------- SH
def sh_basis_torch(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """3DGS real SH basis (S, (degree+1)**2) at unit directions ``dirs`` (S, 3);
    the torch twin of `editor.model.sh.sh_basis` (same constants and signs)."""
    x, y, z = dirs.unbind(-1)
    cols = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        cols += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        cols += [
            SH_C2[0] * x * y,
            SH_C2[1] * y * z,
            SH_C2[2] * (2 * zz - xx - yy),
            SH_C2[3] * x * z,
            SH_C2[4] * (xx - yy),
        ]
    if degree >= 3:
        cols += [
            SH_C3[0] * y * (3 * xx - yy),
            SH_C3[1] * x * y * z,
            SH_C3[2] * y * (4 * zz - xx - yy),
            SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            SH_C3[4] * x * (4 * zz - xx - yy),
            SH_C3[5] * z * (xx - yy),
            SH_C3[6] * x * (xx - 3 * yy),
        ]
    return torch.stack(cols, dim=-1)


def _stored_sh_degree(k: int) -> int:
    """SH degree of K coefficients per channel; ValueError unless K is 1, 4, 9 or 16."""
    stored = int(round(math.sqrt(k))) - 1
    if (stored + 1) ** 2 != k or not 0 <= stored <= 3:
        raise ValueError(f"{k} SH coefficients per channel is not a degree 0..3 layout")
    return stored


# ------------------------------------------------------------------- projection
@dataclass
class Projected:
    """Per-splat screen-space quantities, differentiable where they are floats.

    mean2d (N, 2) pixels (continuous, pixel centres at integer + 0.5);
    cov2d (N, 3) the blurred 2D covariance as (xx, xy, yy), pixels^2;
    conic (N, 3) its inverse as (a, b, c): ``q = a dx^2 + 2 b dx dy + c dy^2``;
    depth (N,) camera-space z; opacity (N,) in [0, 1]; colour (N, 3) >= 0;
    valid (N,) bool: in front of the near plane and finite.
    """

    mean2d: torch.Tensor
    cov2d: torch.Tensor
    conic: torch.Tensor
    depth: torch.Tensor
    opacity: torch.Tensor
    colour: torch.Tensor
    valid: torch.Tensor


def quaternion_to_matrix_torch(quats: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (N, 3, 3) of wxyz quaternions (N, 4), normalised first
    (a zero quaternion gives the identity)."""
    n = quats.norm(dim=-1, keepdim=True)
    ident = torch.zeros_like(quats)
    ident[:, 0] = 1.0
    q = torch.where(n > 1e-12, quats / n.clamp_min(1e-12), ident)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        (
            torch.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1),
            torch.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1),
            torch.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1),
        ),
        dim=-2,
    )


def project(
    means: torch.Tensor,
    log_scales: torch.Tensor,
    quats: torch.Tensor,
    opacity_logits: torch.Tensor,
    sh: torch.Tensor,
    camera: Camera,
    sh_degree: int | None = None,
) -> Projected:
    """Project splats to the image plane (EWA) and shade them (SH); see the
    module docstring for the rules. Differentiable w.r.t. every input tensor."""
    dtype, device = means.dtype, means.device
    rot = torch.as_tensor(camera.basis(), dtype=dtype, device=device)  # (3, 3) rows r, d, f
    eye = torch.as_tensor(camera.eye, dtype=dtype, device=device)
    fx, fy, cx, cy = camera.fx, camera.fy, camera.cx, camera.cy

    finite = torch.isfinite(means).all(-1) & torch.isfinite(log_scales).all(-1) & torch.isfinite(quats).all(-1)
    finite = finite & torch.isfinite(opacity_logits) & torch.isfinite(sh).flatten(1).all(-1)
    # Dropped splats never reach the compositor; every value of theirs is
    # swapped for a harmless one first so that no inf/NaN reaches the
    # gradients (0 * NaN is NaN) and their gradients are exactly zero.
    rel = torch.where(finite[:, None], means, eye) - eye  # (N, 3)
    pc = rel @ rot.T  # camera space
    z = pc[:, 2]
    valid = finite & (z > near_plane(camera))
    one = torch.ones((), dtype=dtype, device=device)
    zs = torch.where(valid, z, one)
    xs = torch.where(valid, pc[:, 0], 0 * one)
    ys = torch.where(valid, pc[:, 1], 0 * one)

    mean2d = torch.stack((fx * xs / zs + cx, fy * ys / zs + cy), dim=-1)

    # cov2d = J W Sigma W^T J^T = (J W R S)(J W R S)^T with Sigma = R S S^T R^T;
    # written with (N, 3) rows rather than batched 3x3 matmuls, which are slow
    # on CPU for large N.
    r = quaternion_to_matrix_torch(torch.where(valid[:, None], quats, quats.new_tensor([1.0, 0, 0, 0])))
    s = torch.exp(torch.where(valid[:, None], log_scales, 0 * one))
    wrs = torch.einsum("ij,njk->nik", rot, r) * s[:, None, :]  # W R S, (N, 3, 3)
    lim_x = JACOBIAN_CLAMP * 0.5 * camera.width / fx
    lim_y = JACOBIAN_CLAMP * 0.5 * camera.height / fy
    tx = torch.clamp(xs / zs, -lim_x, lim_x) * zs
    ty = torch.clamp(ys / zs, -lim_y, lim_y) * zs
    # J = [[fx/z, 0, -fx x'/z^2], [0, fy/z, -fy y'/z^2]] (x', y' clamped).
    row_x = (fx / zs)[:, None] * wrs[:, 0] - (fx * tx / (zs * zs))[:, None] * wrs[:, 2]  # (N, 3)
    row_y = (fy / zs)[:, None] * wrs[:, 1] - (fy * ty / (zs * zs))[:, None] * wrs[:, 2]
    cxx = (row_x * row_x).sum(-1) + LOW_PASS
    cxy = (row_x * row_y).sum(-1)
    cyy = (row_y * row_y).sum(-1) + LOW_PASS
    det = cxx * cyy - cxy * cxy
    conic = torch.stack((cyy / det, -cxy / det, cxx / det), dim=-1)

    degree = resolve_sh_degree(_stored_sh_degree(sh.shape[1]), sh_degree)
    k = (degree + 1) ** 2
    dist = rel.norm(dim=-1, keepdim=True)
    dirs = torch.where(valid[:, None], rel / torch.where(dist > 0, dist, one), 0 * one)
    basis = sh_basis_torch(dirs, degree)  # (N, k)
    shv = torch.where(valid[:, None, None], sh[:, :k], 0 * one)
    colour = torch.clamp((basis[:, :, None] * shv).sum(1) + 0.5, 0.0, 1.0)

    opacity = torch.sigmoid(torch.where(valid, opacity_logits, 0 * one))
    # Finite inputs can still overflow (a scale of e^100): drop what is not finite now.
    valid = valid & torch.isfinite(mean2d).all(-1) & torch.isfinite(conic).all(-1) & torch.isfinite(det)
    valid = valid & (det > 0)
    return Projected(mean2d, torch.stack((cxx, cxy, cyy), -1), conic, z, opacity, colour, valid)


# ------------------------------------------------------------------- the twin
def rasterize_reference_torch(
    means: torch.Tensor,
    log_scales: torch.Tensor,
    quats: torch.Tensor,
    opacity_logits: torch.Tensor,
    sh: torch.Tensor,
    camera: Camera,
    background: torch.Tensor | None = None,
    sh_degree: int | None = None,
    t_min: float = 0.0,
) -> torch.Tensor:
    """Image (H, W, 3): every pixel against every splat with plain autograd.
    O(H W N) memory; meant for tests on small images. Same arguments as
    `rasterize`."""
    p = project(means, log_scales, quats, opacity_logits, sh, camera, sh_degree)
    bg = _background(background, means)
    h, w = camera.height, camera.width
    keep = torch.nonzero(p.valid).squeeze(1)
    order = keep[torch.argsort(p.depth.detach()[keep], stable=True)]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=means.dtype) + 0.5, torch.arange(w, dtype=means.dtype) + 0.5, indexing="ij"
    )
    dx = xs.reshape(-1, 1) - p.mean2d[order, 0]  # (H W, M)
    dy = ys.reshape(-1, 1) - p.mean2d[order, 1]
    a, b, c = p.conic[order].unbind(-1)
    q = a * dx * dx + 2 * b * dx * dy + c * dy * dy
    alpha = torch.clamp_max(p.opacity[order] * torch.exp(-0.5 * q), ALPHA_MAX)
    alpha = torch.where((q <= EXTENT_SIGMA**2) & (alpha >= ALPHA_MIN), alpha, 0.0 * alpha)
    t_incl = torch.cumprod(1 - alpha, dim=1)
    include = ((t_incl >= t_min) | (t_min <= 0)).to(alpha.dtype)  # a prefix of each row
    alpha = alpha * include
    t_excl = torch.cumprod(torch.cat((torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1]), 1), dim=1)
    weights = alpha * t_excl
    t_final = torch.prod(1 - alpha, dim=1)
    img = weights @ p.colour[order] + t_final[:, None] * bg
    return img.reshape(h, w, 3)


def _background(background, like: torch.Tensor) -> torch.Tensor:
    if background is None:
        return torch.zeros(3, dtype=like.dtype, device=like.device)
    return torch.as_tensor(background, dtype=like.dtype, device=like.device).reshape(3)


# ------------------------------------------------------------------- binning
@dataclass
class _Plan:
    """Which splats each tile composites, grouped in batches of tiles.

    batches: list of (tile_ids (B,) long, ids (B, M) long) where ``ids`` lists
    each tile's splats front to back, padded with the dummy index N.
    """

    width: int
    height: int
    tile: int
    tiles_x: int
    tiles_y: int
    batches: list
    chunk: int
    n_intersections: int
    t_min: float
    elements: int  # of all the dense batch tensors together
    cache: bool = False  # forward keeps alpha and T for the backward


def _bin(p: Projected, camera: Camera, tile: int, budget: int, t_min: float) -> _Plan:
    w, h = camera.width, camera.height
    ntx, nty = -(-w // tile), -(-h // tile)
    n = p.mean2d.shape[0]
    mean = p.mean2d.detach().cpu().double().numpy()
    cov = p.cov2d.detach().cpu().double().numpy()
    opac = p.opacity.detach().cpu().double().numpy()
    depth = p.depth.detach().cpu().double().numpy()
    valid = p.valid.detach().cpu().numpy() & (opac >= ALPHA_MIN)

    # Extent: q <= min(9, 2 ln(255 opacity)) is where alpha can reach 1/255.
    with np.errstate(divide="ignore", invalid="ignore"):
        k2 = np.minimum(EXTENT_SIGMA**2, 2.0 * np.log(np.maximum(opac, 1e-30) / ALPHA_MIN))
        rx = np.sqrt(np.maximum(k2 * cov[:, 0], 0.0)) + 1e-3
        ry = np.sqrt(np.maximum(k2 * cov[:, 2], 0.0)) + 1e-3
        # Pixel i is covered when |i + 0.5 - mean| <= r.
        x0 = np.ceil(mean[:, 0] - rx - 0.5)
        x1 = np.floor(mean[:, 0] + rx - 0.5)
        y0 = np.ceil(mean[:, 1] - ry - 0.5)
        y1 = np.floor(mean[:, 1] + ry - 0.5)
    valid &= np.isfinite(x0) & np.isfinite(x1) & np.isfinite(y0) & np.isfinite(y1)
    valid &= (x1 >= 0) & (x0 <= w - 1) & (y1 >= 0) & (y0 <= h - 1) & (x0 <= x1) & (y0 <= y1)
    idx = np.nonzero(valid)[0]
    idx = idx[np.argsort(depth[idx], kind="stable")]  # front to back
    tx0 = (np.clip(x0[idx], 0, w - 1) // tile).astype(np.int64)
    tx1 = (np.clip(x1[idx], 0, w - 1) // tile).astype(np.int64)
    ty0 = (np.clip(y0[idx], 0, h - 1) // tile).astype(np.int64)
    ty1 = (np.clip(y1[idx], 0, h - 1) // tile).astype(np.int64)
    span_x = tx1 - tx0 + 1
    counts = span_x * (ty1 - ty0 + 1)
    total = int(counts.sum())

    sid = np.repeat(np.arange(len(idx)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    local = np.arange(total) - first
    sx = span_x[sid]
    tiles = (ty0[sid] + local // sx) * ntx + tx0[sid] + local % sx
    tile_dtype = np.int16 if ntx * nty < 32768 else np.int32  # 16-bit keys sort by radix
    order = np.argsort(tiles.astype(tile_dtype), kind="stable")  # keeps depth order within a tile
    splat_of = idx[sid[order]]
    per_tile = np.bincount(tiles, minlength=ntx * nty)
    starts = np.cumsum(per_tile) - per_tile

    pix = tile * tile
    chunk = max(1, budget // pix)
    busy = np.nonzero(per_tile)[0]
    busy = busy[np.argsort(-per_tile[busy], kind="stable")]
    padded = np.concatenate((splat_of, [n]))  # index N is the dummy splat
    batches = []
    i = 0
    while i < len(busy):
        m = int(per_tile[busy[i]])
        b = max(1, budget // (pix * min(m, chunk)))
        group = busy[i : i + b]
        cols = np.arange(m)
        pos = starts[group][:, None] + cols[None, :]
        pos = np.where(cols[None, :] < per_tile[group][:, None], pos, total)
        batches.append((torch.from_numpy(group.astype(np.int64)), torch.from_numpy(padded[pos].astype(np.int64))))
        i += b
    elements = sum(int(ids.shape[0]) * int(ids.shape[1]) * pix for _, ids in batches)
    return _Plan(w, h, tile, ntx, nty, batches, chunk, total, float(t_min), elements)


# ------------------------------------------------------------------ compositing
def _pixel_centres(tile_ids: torch.Tensor, plan: _Plan, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre x (B, tile) and y (B, tile) of each tile's columns and rows."""
    r = torch.arange(plan.tile, dtype=dtype) + 0.5
    x = (tile_ids % plan.tiles_x).to(dtype)[:, None] * plan.tile + r
    y = (tile_ids // plan.tiles_x).to(dtype)[:, None] * plan.tile + r
    return x, y


_LOG_ALPHA_MAX = math.log(ALPHA_MAX)
_LOG_ALPHA_MIN = math.log(ALPHA_MIN)
_H_FLOOR = -30.0  # below every threshold; keeps exp() off its slow underflow path


def _deltas(px, py, rows):
    """Pixel centre minus splat centre along x (B, t, m) and y (B, t, m)."""
    return px[:, :, None] - rows[:, None, :, _MX], py[:, :, None] - rows[:, None, :, _MY]


def _live_from_alpha(alpha):
    """alpha where it is not capped at 0.99, else 0 (capped entries all equal
    exp(log 0.99) exactly, and uncapped ones are below it)."""
    cap = torch.tensor(_LOG_ALPHA_MAX, dtype=alpha.dtype).exp()
    return alpha * torch.lt(alpha, cap, out=torch.empty_like(alpha))


def _alpha(px, py, rows, want_live: bool = False):
    """Alpha of a chunk and the pieces the backward needs.

    px, py (B, t) pixel centres of the tiles' columns and rows; rows (B, m, 10)
    the chunk's splats from the `_pack` table.
    Returns alpha (B, t*t, m) (pixel index = row * t + column), dx (B, t, m),
    dy (B, t, m), and with ``want_live`` alpha again but zero where it is
    capped at 0.99 (B, t*t, m): d alpha / d h where alpha = exp(h).

    ``h = log(opacity) - q/2`` so that ``alpha = exp(min(h, log 0.99))``; the
    3-sigma rule (``q <= 9``) and the 1/255 rule fold into one per-splat
    threshold on h. Masks are float tensors written by ``torch.ge(out=...)``:
    bool masks and ``torch.where`` are an order of magnitude slower on CPU.
    """
    bsz, t, m = px.shape[0], px.shape[1], rows.shape[1]
    dx, dy = _deltas(px, py, rows)
    a, b, c = rows[:, None, :, _CA], rows[:, None, :, _CB], rows[:, None, :, _CC]
    log_op = rows[..., _LOGOP]
    h = (log_op[:, None] - 0.5 * c * dy * dy)[:, :, None, :] + (-0.5 * a * dx * dx)[:, None, :, :]
    h.addcmul_((-b * dy)[:, :, None, :], dx[:, None, :, :])  # - b dx dy
    thr = torch.clamp_min(log_op - 0.5 * EXTENT_SIGMA**2, _LOG_ALPHA_MIN)
    keep = torch.ge(h, thr[:, None, None, :], out=torch.empty_like(h))
    uncapped = torch.lt(h, _LOG_ALPHA_MAX, out=torch.empty_like(h)) if want_live else None
    alpha = h.clamp_(_H_FLOOR, _LOG_ALPHA_MAX).exp_().mul_(keep).reshape(bsz, t * t, m)
    live = alpha * uncapped.reshape(bsz, t * t, m) if want_live else None
    return alpha, dx, dy, live


def _composite_chunk(alpha, t0, done, t_min):
    """Transmittance bookkeeping of one depth chunk.

    alpha (B, P, m); t0 (B, P) transmittance before the chunk; done (B, P)
    bool, pixels already terminated (only with ``t_min > 0``).
    Returns weights (B, P, m) = alpha * T_before * include, t_excl (B, P, m)
    the transmittance before each splat, 1 - alpha, include (B, P, m) float
    or None when every splat counts, and the updated (t, done)."""
    bsz, pix, m = alpha.shape
    # One cumulative product over [t0, 1 - a_0, 1 - a_1, ...] gives the
    # transmittance before every splat and after the last one.
    buf = torch.empty(bsz, pix, m + 1, dtype=alpha.dtype)
    buf[..., 0] = t0
    one_minus = torch.sub(1.0, alpha, out=buf[..., 1:])  # >= 0.01
    trans = torch.cumprod(buf, dim=-1)
    t_excl, t_incl = trans[..., :-1], trans[..., 1:]
    if t_min <= 0:
        return alpha * t_excl, t_excl, one_minus, None, trans[..., -1], done
    # 3DGS early termination: the first splat that would take T below t_min
    # and every later one are left out (a prefix of each row is kept).
    inc = ((t_incl >= t_min) & ~done[..., None]).to(alpha.dtype)
    weights = alpha * t_excl * inc
    t_new = t0 * torch.prod(1 - alpha * inc, dim=-1)
    return weights, t_excl, one_minus, inc, t_new, done | (t_incl[..., -1] < t_min)


# Columns of the packed per-splat table the compositor gathers from.
_MX, _MY, _CA, _CB, _CC, _OP, _LOGOP, _R, _G, _B = range(10)


def _pack(mean2d, conic, opacity, colour) -> torch.Tensor:
    """(N + 1, 10) table [mean x, y, conic a, b, c, opacity, log opacity, r, g, b];
    row N is the dummy splat used for padding (zero opacity: never drawn).
    One gather per chunk from one table is much cheaper than four."""
    n = mean2d.shape[0]
    table = torch.zeros(n + 1, 10, dtype=mean2d.dtype)
    table[:n, _MX : _MY + 1] = mean2d
    table[:n, _CA : _CC + 1] = conic
    table[:n, _OP] = opacity
    table[:, _LOGOP] = torch.log(table[:, _OP].clamp_min(1e-30))
    table[:n, _R : _B + 1] = colour
    return table


class _Composite(torch.autograd.Function):
    """Tile compositing with a hand-written backward that recomputes alpha.

    Inputs: mean2d (N, 2), conic (N, 3), opacity (N,), colour (N, 3),
    background (3,), and the `_Plan`. Output: image (H, W, 3)."""

    @staticmethod
    def forward(ctx, mean2d, conic, opacity, colour, background, plan: _Plan):
        dtype = mean2d.dtype
        table = _pack(mean2d, conic, opacity, colour)
        pix = plan.tile * plan.tile
        ntiles = plan.tiles_x * plan.tiles_y
        bg = background.to(dtype)
        out = bg.expand(ntiles, pix, 3).clone()
        t_final = torch.ones(ntiles, pix, dtype=dtype)
        saved = []  # per batch: (t0, done) at the start of each chunk drawn
        for tile_ids, ids in plan.batches:
            px, py = _pixel_centres(tile_ids, plan, dtype)
            bsz = ids.shape[0]
            t = torch.ones(bsz, pix, dtype=dtype)
            done = torch.zeros(bsz, pix, dtype=torch.bool)
            acc = torch.zeros(bsz, pix, 3, dtype=dtype)
            starts = []
            for s in range(0, ids.shape[1], plan.chunk):
                if plan.t_min > 0 and bool(done.all()):
                    break
                cid = ids[:, s : s + plan.chunk]
                rows = table.index_select(0, cid.reshape(-1)).reshape(bsz, cid.shape[1], 10)
                t0, done0 = t, done
                alpha = _alpha(px, py, rows)[0]
                weights, t_excl, _, _, t, done = _composite_chunk(alpha, t, done, plan.t_min)
                acc.baddbmm_(weights, rows[..., _R : _B + 1])
                starts.append((t0, done0, (alpha, t_excl) if plan.cache else None))
            out.index_copy_(0, tile_ids, acc.add_(t[..., None] * bg))
            t_final.index_copy_(0, tile_ids, t)
            saved.append(starts)
        ctx.plan = plan
        ctx.saved_starts = saved
        ctx.save_for_backward(table, background, t_final)
        return _untile(out, plan)

    @staticmethod
    def backward(ctx, grad_img):
        plan = ctx.plan
        table, background, t_final = ctx.saved_tensors
        dtype = table.dtype
        tl = plan.tile
        grad_tiles = _tile(grad_img.to(dtype), plan)  # (ntiles, P, 3)
        # Gradients w.r.t. [mean x, y, conic a, b, c, opacity, r, g, b] per table row.
        grads = torch.zeros(table.shape[0], 9, dtype=dtype)
        bg = background.to(dtype)
        g_bg = (grad_tiles * t_final[..., None]).sum((0, 1))
        for (tile_ids, ids), starts in zip(plan.batches, ctx.saved_starts):
            px, py = _pixel_centres(tile_ids, plan, dtype)
            bsz = ids.shape[0]
            gout = grad_tiles.index_select(0, tile_ids)  # (B, P, 3)
            # dL/dC . (sum over later splats j of c_j w_j + T_final bg), built back to front.
            suffix = t_final.index_select(0, tile_ids) * (gout @ bg)
            for ci in range(len(starts) - 1, -1, -1):
                t0, done, cached = starts[ci]
                cid = ids[:, ci * plan.chunk : (ci + 1) * plan.chunk]
                m = cid.shape[1]
                flat = cid.reshape(-1)
                rows = table.index_select(0, flat).reshape(bsz, m, 10)
                if cached is None:
                    alpha, dx, dy, live = _alpha(px, py, rows, want_live=True)
                    weights, t_excl, one_minus, inc, _, _ = _composite_chunk(alpha, t0, done, plan.t_min)
                else:  # forward kept alpha and T (only without early termination)
                    alpha, t_excl = cached
                    dx, dy = _deltas(px, py, rows)
                    live = _live_from_alpha(alpha)
                    one_minus, inc = 1 - alpha, None
                    weights = alpha * t_excl
                g_col = torch.bmm(weights.transpose(1, 2), gout)  # (B, m, 3)
                gc = torch.bmm(gout, rows[..., _R : _B + 1].transpose(1, 2))  # (B, P, m): dL/dC . c_j
                contrib = gc * weights
                total = contrib.sum(-1)
                later = (total + suffix)[..., None] - torch.cumsum(contrib, -1)
                suffix = suffix + total
                # C = sum_j c_j a_j T_j + T_final bg with T_j = prod_{k<j} (1 - a_k).
                g_alpha = torch.mul(t_excl, gc).sub_(later.div_(one_minus))
                if inc is not None:
                    g_alpha.mul_(inc)
                # alpha = exp(h) where uncapped, h = log(opacity) - q/2: dL/dh = dL/dalpha * alpha.
                g_h = g_alpha.mul_(live).reshape(bsz, tl, tl, m)  # rows y, columns x
                u_x = g_h.sum(1)  # (B, columns, m)
                u_y = g_h.sum(2)  # (B, rows, m)
                s_1 = u_x.sum(1)
                s_x = (u_x * dx).sum(1)
                s_xx = (u_x * dx * dx).sum(1)
                s_y = (u_y * dy).sum(1)
                s_yy = (u_y * dy * dy).sum(1)
                s_xy = ((g_h * dx[:, None]).sum(2) * dy).sum(1)
                # q = a dx^2 + 2 b dx dy + c dy^2 with dx = px - mean_x; dL/dq = -dL/dh / 2.
                a, b, c = rows[..., _CA], rows[..., _CB], rows[..., _CC]
                g_rows = torch.stack(
                    (
                        a * s_x + b * s_y,
                        b * s_x + c * s_y,
                        -0.5 * s_xx,
                        -s_xy,
                        -0.5 * s_yy,
                        s_1 / rows[..., _OP].clamp_min(1e-30),
                    ),
                    -1,
                )
                grads.index_add_(0, flat, torch.cat((g_rows, g_col), -1).reshape(-1, 9))
        n = table.shape[0] - 1
        g = grads[:n]
        return g[:, 0:2], g[:, 2:5], g[:, 5], g[:, 6:9], g_bg.to(background.dtype), None


def _untile(tiles: torch.Tensor, plan: _Plan) -> torch.Tensor:
    """(ntiles, P, 3) in tile order -> image (H, W, 3)."""
    t = plan.tile
    img = tiles.reshape(plan.tiles_y, plan.tiles_x, t, t, 3).permute(0, 2, 1, 3, 4)
    return img.reshape(plan.tiles_y * t, plan.tiles_x * t, 3)[: plan.height, : plan.width]


def _tile(img: torch.Tensor, plan: _Plan) -> torch.Tensor:
    """Image (H, W, 3) -> (ntiles, P, 3), zero-padded to whole tiles."""
    t = plan.tile
    full = img.new_zeros(plan.tiles_y * t, plan.tiles_x * t, 3)
    full[: plan.height, : plan.width] = img
    return full.reshape(plan.tiles_y, t, plan.tiles_x, t, 3).permute(0, 2, 1, 3, 4).reshape(-1, t * t, 3)


# ------------------------------------------------------------------ public API
def rasterize(
    means: torch.Tensor,
    log_scales: torch.Tensor,
    quats: torch.Tensor,
    opacity_logits: torch.Tensor,
    sh: torch.Tensor,
    camera: Camera,
    background: torch.Tensor | None = None,
    sh_degree: int | None = None,
    tile: int = DEFAULT_TILE,
    budget: int = DEFAULT_BUDGET,
    t_min: float = 0.0,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> torch.Tensor:
    """Render splats to an image (H, W, 3) of ``means.dtype``, differentiable
    w.r.t. means, log_scales, quats, opacity_logits, sh and background.

    ``tile``: tile edge in pixels; ``budget``: elements of the largest dense
    (tiles x pixels x splats) tensor built at once (memory knob, not maths).
    ``t_min``: 0 composites every splat (the project contract, as
    `editor.rendering.reference`); `T_MIN_3DGS` (1e-4) stops each pixel like
    3DGS does; tiles whose pixels all stop skip their later depth chunks (the
    image changes by at most 0.01 where a pixel saturates).
    ``cache_bytes``: when gradients are wanted and alpha and T of the whole
    image fit in this many bytes, the forward keeps them for the backward
    (the backward is about a third faster) instead of recomputing them.
    """
    if means.ndim != 2 or means.shape[1] != 3:
        raise ValueError(f"means has shape {tuple(means.shape)}, expected (N, 3)")
    if int(tile) < 1 or int(budget) < 1:
        raise ValueError(f"tile ({tile}) and budget ({budget}) must be positive")
    bg = _background(background, means)
    p = project(means, log_scales, quats, opacity_logits, sh, camera, sh_degree)
    plan = _bin(p, camera, int(tile), int(budget), float(t_min))
    wants_grad = torch.is_grad_enabled() and any(
        x.requires_grad for x in (means, log_scales, quats, opacity_logits, sh, bg)
    )
    plan.cache = wants_grad and t_min <= 0 and 2 * plan.elements * means.element_size() <= cache_bytes
    return _Composite.apply(p.mean2d, p.conic, p.opacity, p.colour, bg, plan)


def cloud_tensors(cloud, dtype=torch.float32, requires_grad: bool = False) -> dict[str, torch.Tensor]:
    """The splat tensors of a `SplatCloud` as keyword arguments for `rasterize`."""
    out = {
        "means": torch.tensor(cloud.positions, dtype=dtype),
        "log_scales": torch.tensor(cloud.log_scales, dtype=dtype),
        "quats": torch.tensor(cloud.rotations, dtype=dtype),
        "opacity_logits": torch.tensor(cloud.opacity_logits, dtype=dtype),
        "sh": torch.tensor(cloud.sh, dtype=dtype),
    }
    if requires_grad:
        for v in out.values():
            v.requires_grad_(True)
    return out


def render_cloud(
    cloud,
    camera: Camera,
    background=(0.0, 0.0, 0.0),
    sh_degree: int | None = None,
    tile: int = DEFAULT_TILE,
) -> np.ndarray:
    """Render a `SplatCloud` with `rasterize` (no gradients); (H, W, 3) float32."""
    with torch.no_grad():
        img = rasterize(
            **cloud_tensors(cloud),
            camera=camera,
            background=torch.tensor(background, dtype=torch.float32),
            sh_degree=sh_degree,
            tile=tile,
        )
    return img.numpy().astype(np.float32)
