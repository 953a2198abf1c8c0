"""The appearance pass: new splats for a layout, fitted to one photo.

`regenerate(layout, photo, camera, ...)` seeds Gaussians on the layout's
surfaces (and optionally from an existing splat scene), then optimises them
with the differentiable rasterizer (`inference.rasterizer.rasterize`) so that
the camera's view matches the photo. Steps:

1. **Working resolution.** The photo is used at its own resolution with the
   longest side capped at ``options.max_side`` (512 by default; larger photos
   are area-downscaled). The camera keeps its pose and vertical field of view
   and takes the photo's size (`Camera.with_size`); the camera's and the
   photo's aspect ratios must agree within 2 %. Optionally the first
   ``options.coarse_fraction`` of the steps run at half that resolution (off
   by default: with the tile rasterizer a step costs about splats x tile
   area, not pixels, so half-resolution steps were no cheaper).
2. **Seeds** (`Seeds`). Layout seeds (`seed_layout`): a ray per cell of a
   jittered pixel grid, cast against the triangle meshes of the visible solid
   primitives (`editor.geometry.meshing.layout_meshes`); the first hit is a
   splat, so only surfaces visible from the camera get splats and their
   density is uniform on screen. Each is flattened along the face normal
   (normal sigma a tenth of the in-plane one), oriented to the face, and its
   in-plane sigmas are 0.6x the grid spacing on the surface (stretched along
   the ray's slope on oblique faces). Scene seeds (`seed_from_cloud`): the
   existing splats whose centres the camera sees, with their shape and
   opacity; their anchor is their own centre and their normal the axis of
   their smallest scale. A future feed-forward predictor plugs in here: it
   returns a `Seeds` (or a `SplatCloud` for `seed_from_cloud`) and passes it
   as ``seeds=`` to `regenerate`.
   When both are there, `reconcile_seeds` settles where they overlap on
   screen (``options.reconcile_tolerance``): layout seeds fill only what
   the scene's splats do not cover, and an *edited* primitive (changed or
   added since `editor.geometry.layout_proposal.propose_layout` proposed
   the layout; every primitive of a layout nobody proposed) drops the
   scene splats it hides. Measured on 8 held-out generated scenes at 64 px
   (`inference.evaluation`, predictor + its unedited proposal): without
   this the layout seeds cost 2.5 dB at 10-30 degrees from the photo; with
   it (and no splitting, step 4) the pass ends within 0.1-0.2 dB of the
   prediction there.
   Every seed's colour starts as the photo's colour (bilinear) where its
   centre projects.
3. **Optimisation.** Adam on colour (SH DC; band 1 too with
   ``sh_degree=1``), opacity logit, log scales, rotation and a position
   offset. The offset is in units of each seed's ``spacing`` (its grid
   footprint in world units), ``position = anchor + spacing * u``, so one
   learning rate fits near and far splats. Loss
   ``(1 - λ) L1 + λ (1 - SSIM)``, λ = 0.2 (`inference.ssim`), masked by the
   photo's alpha when it has one, plus the layout prior
   ``prior_weight * mean(u_n^2 + 0.1 |u_t|^2)`` (u_n: the offset along the
   seed's normal, u_t: along the surface); the offset is also clamped to
   ``max_offset`` spacings, so a splat never leaves its surface by more than
   that.
4. **Densify and prune** every ``densify_every`` steps until
   ``densify_until`` of the run: splats whose accumulated screen-space
   position gradient is in the top ``densify_fraction`` and that cover more
   than ~1.5 pixels are split in two (children sampled inside the parent's
   in-plane footprint, in-plane scales / 1.6, anchored on the parent's
   surface plane), up to ``max_splats`` and never past one splat per
   working pixel (a dense prediction is not split at all); splats with
   opacity below ``prune_opacity`` / 255, or wider on screen than
   ``max_screen_fraction`` of the image after growing to 1.5x their seeded
   size, are removed (sizes on screen: each axis across the view ray).
   Split children get opacity ``1 - sqrt(1 - a)`` so that the pair is as
   opaque as the parent was. With a ``time_limit``, densification also stops
   after ``densify_until`` of that time (a split costs a loss spike that
   takes ~10 steps to pay back).
5. **Early stop** after densification once the mean loss of a window of
   steps improves by less than ``plateau_tol`` (relative) over the previous
   window, or when ``time_limit`` seconds have passed since the call began
   (the result then depends on the machine's speed; None by default).

Cancellation and progress: ``progress(fraction)`` is called after every step;
raising `editor.formats.Cancelled` from it stops the pass (the exception
propagates; nothing is returned). Threads: the pass runs torch on
``options.threads`` threads (default 1, restored afterwards; on the 2-core
machines here 2 threads were up to 30x slower per step whenever another
process kept a core busy) and turns on ``torch.set_flush_denormal(True)``
(left on: it only speeds CPU maths up).

Speed (2-core shared CPU, 1 thread, 512x384, ~85-95k splats): 0.6-1.1 s a
step; about 25-45 steps fit in 30 s. See the report of issue #7 for figures.

Output: a `SplatCloud` in the scene frame (SH degree ``options.sh_degree``)
holding only the fitted splats (what the camera sees), and a stats dict.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from editor.formats.base import report
from editor.geometry.layout_proposal import edited_solid_ids
from editor.geometry.meshing import layout_meshes
from editor.model.camera import Camera
from editor.model.layout import Layout
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, normalize_quaternions, quaternion_to_matrix
from editor.rendering.reference import near_plane
from inference.rasterizer import rasterize
from inference.ssim import psnr, ssim

Progress = Callable[[float], None] | None

#: Weight of the SSIM term in the photometric loss.
SSIM_LAMBDA = 0.2


class AppearanceError(ValueError):
    """The appearance pass cannot run on these inputs (one-line message)."""


@dataclass
class RegenerateOptions:
    """Knobs of `regenerate`; the defaults are what the CLI uses."""

    max_side: int = 512  # working resolution: longest side of the photo, pixels
    max_splats: int = 100_000  # densification stops here
    seed_fraction: float = 0.85  # layout seeds ~ this x max_splats (fewer where rays miss)
    sh_degree: int = 0  # 0 or 1
    ssim_lambda: float = SSIM_LAMBDA
    prior_weight: float = 0.02  # of mean(u_n^2 + 0.1 |u_t|^2), u in spacings
    max_offset: float = 2.0  # |u| clamp per axis group (normal, tangential), spacings
    lr_offset: float = 0.05  # spacings per step
    lr_colour: float = 0.04  # SH units (colour = 0.5 + 0.282 DC)
    lr_opacity: float = 0.05
    lr_scale: float = 0.02
    lr_rotation: float = 0.01
    coarse_fraction: float = 0.0  # of the steps at half resolution (no faster with this rasterizer: tile cost ~ splats x tile area)
    densify_every: int = 20
    densify_until: float = 0.6  # fraction of the steps
    densify_fraction: float = 0.05  # of the live splats split each time, at most
    prune_opacity: float = 2.0  # x 1/255
    max_screen_fraction: float = 0.25  # of the image's longest side
    plateau_window: int = 15
    plateau_tol: float = 2e-3
    background: tuple = (0.0, 0.0, 0.0)
    threads: int = 1  # 2 was up to 30x slower whenever another process kept a core busy
    cache_bytes: int = 0  # rasterizer alpha cache; 0 recomputes (steadier on CPU)
    time_limit: float | None = None  # seconds of optimisation; None: only steps and the plateau stop
    # `reconcile_seeds` tolerance: how far behind an edited primitive's surface (measured
    # across it, as a fraction of the surface's depth) a scene splat may lie and stay;
    # None skips reconciling and keeps both seed sets whole.
    reconcile_tolerance: float | None = 0.1


@dataclass
class Seeds:
    """Initial splats and what the prior needs, N rows, float64 world units.

    anchors (N, 3) the surface point each splat is tied to; normals (N, 3)
    unit surface normals (facing the camera); spacing (N,) the seed's
    footprint (world units) that offsets are measured in; positions (N, 3)
    starting centres (usually the anchors); log_scales (N, 3); rotations
    (N, 4) wxyz; opacities (N,) in (0, 1); colours (N, 3) in [0, 1] or None
    (then taken from the photo); prior (N,) per-splat prior weight factor
    (1 = the layout prior, 0 = free).
    """

    anchors: np.ndarray
    normals: np.ndarray
    spacing: np.ndarray
    positions: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    colours: np.ndarray | None = None
    prior: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.anchors.shape[0])

    @staticmethod
    def empty() -> "Seeds":
        z = np.zeros((0, 3))
        return Seeds(z, z, np.zeros(0), z, z, np.zeros((0, 4)), np.zeros(0), None, np.zeros(0))

    def subset(self, keep: np.ndarray) -> "Seeds":
        """The rows selected by ``keep`` (a boolean mask or indices)."""
        pick = lambda a: None if a is None else np.asarray(a)[keep]  # noqa: E731
        return Seeds(pick(self.anchors), pick(self.normals), pick(self.spacing), pick(self.positions),
                     pick(self.log_scales), pick(self.rotations), pick(self.opacities), pick(self.colours),
                     pick(self.prior))

    @staticmethod
    def concatenate(parts: list["Seeds"]) -> "Seeds":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Seeds.empty()
        if len(parts) == 1:
            return parts[0]

        def cat(name):
            return np.concatenate([np.asarray(getattr(p, name)) for p in parts])

        colours = None
        if any(p.colours is not None for p in parts):
            colours = np.concatenate([p.colours if p.colours is not None else np.full((len(p), 3), np.nan) for p in parts])
        prior = np.concatenate([p.prior if p.prior is not None else np.ones(len(p)) for p in parts])
        return Seeds(cat("anchors"), cat("normals"), cat("spacing"), cat("positions"), cat("log_scales"),
                     cat("rotations"), cat("opacities"), colours, prior)


# ------------------------------------------------------------------ geometry
def matrices_to_quaternions(m: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternions (N, 4) of proper rotation matrices (N, 3, 3)."""
    m = np.asarray(m, np.float64)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cands = np.stack(
        [
            np.stack([1 + tr, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], -1),
            np.stack([m[:, 2, 1] - m[:, 1, 2], 1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0]], -1),
            np.stack([m[:, 0, 2] - m[:, 2, 0], m[:, 0, 1] + m[:, 1, 0], 1 + m[:, 1, 1] - m[:, 0, 0] - m[:, 2, 2], m[:, 1, 2] + m[:, 2, 1]], -1),
            np.stack([m[:, 1, 0] - m[:, 0, 1], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1], 1 + m[:, 2, 2] - m[:, 0, 0] - m[:, 1, 1]], -1),
        ],
        axis=1,
    )  # (N, 4 candidates, 4); each is 4 q_k q (for the k-th component), pick the best-conditioned
    diag = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], -1)
    k = np.argmax(diag, axis=1)
    q = cands[np.arange(len(m)), k]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)


def _ray_cast(origin: np.ndarray, dirs: np.ndarray, tris: np.ndarray, t_min: float) -> tuple[np.ndarray, np.ndarray]:
    """First hit of rays ``origin + t dirs`` (dirs (R, 3)) with triangles
    (F, 3, 3), t > t_min (Moller-Trumbore, chunked). Returns t (R,) (inf on a
    miss) and the hit triangle's index (R,) (-1 on a miss)."""
    r = dirs.shape[0]
    best_t = np.full(r, np.inf)
    best_f = np.full(r, -1, np.int64)
    if not len(tris):
        return best_t, best_f
    v0 = tris[:, 0]
    e1 = tris[:, 1] - v0
    e2 = tris[:, 2] - v0
    s = origin[None, :] - v0  # (F, 3)
    qv = np.cross(s, e1)  # (F, 3), independent of the ray
    chunk = max(1, (1 << 21) // len(tris))
    for a in range(0, r, chunk):
        d = dirs[a : a + chunk]  # (C, 3)
        p = np.cross(d[:, None, :], e2[None, :, :])  # (C, F, 3)
        det = np.einsum("cfk,fk->cf", p, e1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            u = np.einsum("cfk,fk->cf", p, s) * inv
            v = np.einsum("ck,fk->cf", d, qv) * inv
            t = np.einsum("fk,fk->f", e2, qv)[None, :] * inv
        ok = (np.abs(det) > 1e-14) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > t_min)
        t = np.where(ok, t, np.inf)
        f = np.argmin(t, axis=1)
        tt = t[np.arange(len(d)), f]
        best_t[a : a + chunk] = tt
        best_f[a : a + chunk] = np.where(np.isfinite(tt), f, -1)
    return best_t, best_f


def _frames(normals: np.ndarray, along: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tangent t1 (N, 3): ``along`` projected on the plane of ``normals``
    (any tangent where that vanishes), and t2 = n x t1."""
    t1 = along - np.einsum("ij,ij->i", along, normals)[:, None] * normals
    n1 = np.linalg.norm(t1, axis=1)
    bad = n1 < 1e-6
    if bad.any():
        helper = np.where(np.abs(normals[bad, 0:1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        t1[bad] = np.cross(normals[bad], helper)
        n1[bad] = np.linalg.norm(t1[bad], axis=1)
    t1 /= n1[:, None]
    return t1, np.cross(normals, t1)


def seed_layout(layout: Layout, camera: Camera, count: int, rng: np.random.Generator) -> Seeds:
    """About ``count`` seeds on the layout surfaces the camera sees (fewer
    where pixels see no surface). See the module docstring, step 2."""
    meshes = layout_meshes(layout) if layout is not None else []
    if not meshes or count < 1:
        return Seeds.empty()
    tris = np.concatenate([m.vertices[m.faces] for m in meshes])  # (F, 3, 3)
    w, h = camera.width, camera.height
    basis = camera.basis()  # rows: right, down, forward
    # A coarse probe grid measures how much of the image the layout covers, so
    # that about ``count`` rays hit (rays into empty space make no seeds).
    pg = np.stack(np.meshgrid((np.arange(32) + 0.5) * w / 32, (np.arange(24) + 0.5) * h / 24), -1).reshape(-1, 2)
    probe = np.stack([(pg[:, 0] - camera.cx) / camera.fx, (pg[:, 1] - camera.cy) / camera.fy, np.ones(len(pg))], -1) @ basis
    coverage = float((_ray_cast(camera.eye, probe, tris, near_plane(camera) * 1.001)[1] >= 0).mean())
    if coverage == 0.0:
        coverage = 1.0  # small objects between probe rays: try the full grid anyway
    stride = max(1.2, math.sqrt(w * h * coverage / count))  # finer than ~a pixel cannot help one view
    nx, ny = max(1, int(round(w / stride))), max(1, int(round(h / stride)))
    sx, sy = w / nx, h / ny
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
    px = (gx.ravel() + rng.uniform(0.2, 0.8, gx.size)) * sx
    py = (gy.ravel() + rng.uniform(0.2, 0.8, gy.size)) * sy
    cam_dirs = np.stack([(px - camera.cx) / camera.fx, (py - camera.cy) / camera.fy, np.ones_like(px)], -1)
    dirs = cam_dirs @ basis  # world, z-component 1 in camera space: t is the depth
    t, f = _ray_cast(camera.eye, dirs, tris, near_plane(camera) * 1.001)
    hit = f >= 0
    if not hit.any():
        return Seeds.empty()
    t, f, dirs = t[hit], f[hit], dirs[hit]
    points = camera.eye + t[:, None] * dirs
    e1 = tris[f, 1] - tris[f, 0]
    e2 = tris[f, 2] - tris[f, 0]
    normals = np.cross(e1, e2)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    unit = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    facing = np.einsum("ij,ij->i", normals, unit)
    normals = np.where(facing[:, None] > 0, -normals, normals)  # towards the camera
    cos = np.clip(np.abs(facing), 0.15, 1.0)
    # Grid spacing on the surface: one cell is (sx, sy) pixels at depth t.
    d = t * math.sqrt(sx * sy) / camera.fx
    t1, t2 = _frames(normals, unit)  # t1 along the ray's slope on the surface
    s1, s2 = 0.6 * d / cos, 0.6 * d
    scales = np.stack([s1, s2, 0.1 * s2], -1)
    rot = np.stack([t1, t2, normals], axis=-1)  # columns: local x, y, z in world
    return Seeds(
        anchors=points,
        normals=normals,
        spacing=d,
        positions=points.copy(),
        log_scales=np.log(scales),
        rotations=matrices_to_quaternions(rot),
        opacities=np.full(len(points), 0.8),
        colours=None,
        prior=np.ones(len(points)),
    )


def seed_from_cloud(cloud: SplatCloud, camera: Camera, max_count: int | None = None, prior: float = 1.0) -> Seeds:
    """Seeds from existing splats whose centres the camera sees (in front of
    the near plane, inside the image with a 5 % margin); at most
    ``max_count`` (the most opaque and largest are kept). Each is anchored at
    its own centre with the axis of its smallest scale as normal."""
    if cloud is None or not len(cloud):
        return Seeds.empty()
    pos = cloud.positions.astype(np.float64)
    uv, z = camera.project(pos)
    mw, mh = 0.05 * camera.width, 0.05 * camera.height
    with np.errstate(invalid="ignore"):
        keep = (z > near_plane(camera)) & np.isfinite(uv).all(1)
        keep &= (uv[:, 0] > -mw) & (uv[:, 0] < camera.width + mw) & (uv[:, 1] > -mh) & (uv[:, 1] < camera.height + mh)
    idx = np.flatnonzero(keep)
    if max_count is not None and len(idx) > max_count:
        s = np.exp(cloud.log_scales[idx].astype(np.float64))
        area = np.sort(s, axis=1)[:, 1:].prod(1)
        score = cloud.opacities[idx] * area
        idx = idx[np.argsort(-score, kind="stable")[:max_count]]
    if not len(idx):
        return Seeds.empty()
    q = normalize_quaternions(cloud.rotations[idx])
    r = quaternion_to_matrix(q)
    ls = cloud.log_scales[idx].astype(np.float64)
    smallest = np.argmin(ls, axis=1)
    normals = r[np.arange(len(idx)), :, smallest]
    cam_dir = pos[idx] - camera.eye
    normals = np.where(np.einsum("ij,ij->i", normals, cam_dir)[:, None] > 0, -normals, normals)
    spacing = np.exp(np.median(ls, axis=1))
    return Seeds(
        anchors=pos[idx].copy(),
        normals=normals,
        spacing=np.maximum(spacing, 1e-6),
        positions=pos[idx].copy(),
        log_scales=ls,
        rotations=q.astype(np.float64),
        opacities=np.clip(cloud.opacities[idx].astype(np.float64), 0.02, 0.98),
        colours=None,
        prior=np.full(len(idx), float(prior)),
    )


def reconcile_seeds(scene: Seeds, layout_seeds: Seeds, layout: Layout, camera: Camera,
                    tolerance: float) -> tuple[Seeds, Seeds]:
    """Settle where the existing splats (``scene``, e.g. a prediction) and the
    layout seeds overlap on screen, depths compared in camera z:

    * a scene splat *behind* the surface of an edited primitive on its ray
      (`editor.geometry.layout_proposal.edited_solid_ids`: changed or added
      since the layout was proposed, or every primitive of a layout that
      was not proposed), by more than ``tolerance`` x the surface's depth
      measured across the surface, is dropped: the layout (a wall the artist
      moved forward, a box they added) hides it, and it would show through
      in other views. Primitives as proposed were fitted to these splats
      from one noisy view and often sit in front of parts of them, so they
      never drop a splat;
    * a layout seed is dropped where a remaining scene splat covers its
      place on screen, at any depth: the scene already has that surface,
      with more detail than a coarse layout primitive (a proposal fitted to
      the splats lies near them but not on them), or something the layout
      does not model stands before it.

    So layout seeds fill what the scene lacks (background, masked-out
    regions, holes) and what an edit clearly moved in front of it; the
    tolerance keeps a coarse primitive that lies a little in front of the
    splats from replacing them. "Covers": scene splats are
    binned on a grid of cells 1.5 x the mean spacing of the visible scene
    splats on screen where they are (at least a pixel). Returns ``(scene kept, layout seeds kept)``."""
    if not len(scene) or not len(layout_seeds):
        return scene, layout_seeds
    basis = camera.basis()
    eye = np.asarray(camera.eye, np.float64)
    rel = scene.positions - eye
    z = rel @ basis[2]
    edited = edited_solid_ids(layout) if layout is not None else set()
    meshes = [m for m in layout_meshes(layout) if m.primitive_id in edited] if edited else []
    keep_scene = np.ones(len(scene), bool)
    if meshes:
        tris = np.concatenate([m.vertices[m.faces] for m in meshes])
        front = z > 1e-9
        dirs = rel[front] / z[front, None]  # camera z of 1: t is a depth
        t, f = _ray_cast(eye, dirs, tris, near_plane(camera) * 1.001)
        hit = f >= 0
        normals = np.cross(tris[f[hit], 1] - tris[f[hit], 0], tris[f[hit], 2] - tris[f[hit], 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)
        # How far behind the surface, measured across it (not along the ray:
        # a floor seen at a grazing angle is far along the ray from splats
        # just under it).
        behind = np.zeros(len(t))
        behind[hit] = (z[front][hit] - t[hit]) * np.abs(np.einsum("ij,ij->i", dirs[hit], normals))
        keep_scene[np.flatnonzero(front)[hit & (z[front] > t) & (behind > tolerance * t)]] = False

    w, h = camera.width, camera.height
    uv, zs = camera.project(scene.positions)
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(uv).all(1) & (zs > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    inside &= keep_scene
    if not inside.any():
        return scene.subset(keep_scene), layout_seeds
    # Screen spacing of the scene splats where they are: their count over the
    # area they occupy (4-pixel blocks), so a masked object is not spread thin.
    blocks = np.unique((uv[inside] // 4.0).astype(np.int64), axis=0)
    spacing = math.sqrt(min(w * h, 16.0 * len(blocks)) / inside.sum())
    cell = max(1.0, 1.5 * spacing)  # 1.5: no gaps from grid aliasing
    nx, ny = max(1, int(math.ceil(w / cell))), max(1, int(math.ceil(h / cell)))

    def cells(points_uv):
        cx = np.clip((points_uv[:, 0] / cell).astype(np.int64), 0, nx - 1)
        cy = np.clip((points_uv[:, 1] / cell).astype(np.int64), 0, ny - 1)
        return cy * nx + cx

    covered = np.zeros(nx * ny, bool)
    covered[cells(uv[inside])] = True
    luv, lz = camera.project(layout_seeds.positions)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(luv).all(1) & (lz > 0)
    keep_layout = np.ones(len(layout_seeds), bool)
    idx = np.flatnonzero(ok)
    keep_layout[idx[covered[cells(luv[idx])]]] = False
    return scene.subset(keep_scene), layout_seeds.subset(keep_layout)


def _sample_photo(photo: np.ndarray, camera: Camera, points: np.ndarray) -> np.ndarray:
    """Bilinear photo colour (N, 3) where ``points`` (N, 3) project (clamped
    to the image; points behind the camera get the image's mean colour)."""
    h, w = photo.shape[:2]
    uv, z = camera.project(points)
    sx, sy = w / camera.width, h / camera.height
    ok = (z > 0) & np.isfinite(uv).all(1)
    u = np.clip(np.where(ok, uv[:, 0] * sx, 0.0) - 0.5, 0, w - 1)
    v = np.clip(np.where(ok, uv[:, 1] * sy, 0.0) - 0.5, 0, h - 1)
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    u1, v1 = np.minimum(u0 + 1, w - 1), np.minimum(v0 + 1, h - 1)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    c = (photo[v0, u0] * (1 - fu) * (1 - fv) + photo[v0, u1] * fu * (1 - fv)
         + photo[v1, u0] * (1 - fu) * fv + photo[v1, u1] * fu * fv)
    return np.where(ok[:, None], c, photo.reshape(-1, 3).mean(0))


# ------------------------------------------------------------------ optimiser
class _Adam:
    """Adam over a dict of per-splat tensors whose rows can be gathered
    (densify/prune keep each row's moments with its splat)."""

    def __init__(self, params: dict[str, torch.Tensor], lrs: dict[str, float], betas=(0.9, 0.999), eps=1e-15):
        self.params, self.lrs, self.betas, self.eps = params, lrs, betas, eps
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for k, p in self.params.items():
            if p.grad is None:
                continue
            g = p.grad
            self.m[k].mul_(b1).add_(g, alpha=1 - b1)
            self.v[k].mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(self.m[k] / c1, (self.v[k] / c2).sqrt_().add_(self.eps), value=-self.lrs[k])
            p.grad = None

    def gather(self, index: torch.Tensor) -> None:
        for k in list(self.params):
            self.params[k] = self.params[k].detach()[index].clone().requires_grad_(True)
            self.m[k] = self.m[k][index].clone()
            self.v[k] = self.v[k][index].clone()


def _fit_photo(photo: np.ndarray, mask: np.ndarray | None, camera: Camera, max_side: int):
    """Photo (and mask) at the working resolution and the camera at that size."""
    from inference.image_io import _downscale

    photo = np.asarray(photo, np.float32)
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    if photo.ndim != 3 or photo.shape[2] not in (3, 4) or min(photo.shape[:2]) < 1:
        raise AppearanceError(f"photo must be an (H, W, 3) image, got shape {photo.shape}")
    if photo.shape[2] == 4:
        mask = photo[..., 3] if mask is None else mask
        photo = photo[..., :3]
    photo = np.clip(np.nan_to_num(photo), 0.0, 1.0)
    if mask is not None:
        mask = np.clip(np.nan_to_num(np.asarray(mask, np.float32)), 0.0, 1.0)
        if mask.shape != photo.shape[:2]:
            raise AppearanceError(f"mask shape {mask.shape} does not match the photo's {photo.shape[:2]}")
    h, w = photo.shape[:2]
    a_photo, a_cam = w / h, camera.width / camera.height
    if abs(a_photo / a_cam - 1.0) > 0.02:
        raise AppearanceError(
            f"the photo is {w}x{h} but the camera is {camera.width}x{camera.height}: their aspect ratios differ"
        )
    if max(h, w) > max_side:
        photo, mask = _downscale(photo, mask, max_side)
        h, w = photo.shape[:2]
    return photo, mask, camera.with_size(w, h)


def _half(img: torch.Tensor) -> torch.Tensor:
    """(H, W, C) -> (ceil(H/2), ceil(W/2), C) by 2x2 area averaging (edge rows repeated)."""
    h, w = img.shape[:2]
    x = img.permute(2, 0, 1)[None]
    x = torch.nn.functional.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return torch.nn.functional.avg_pool2d(x, 2)[0].permute(1, 2, 0).contiguous()


def regenerate(
    layout: Layout | None,
    photo: np.ndarray,
    camera: Camera,
    steps: int = 300,
    init: SplatCloud | None = None,
    progress: Progress = None,
    seed: int = 0,
    mask: np.ndarray | None = None,
    options: RegenerateOptions | None = None,
    seeds: Seeds | None = None,
) -> tuple[SplatCloud, dict]:
    """Fit splats on ``layout`` (may be None) to ``photo`` seen by ``camera``.

    ``photo`` float (H, W, 3) in [0, 1] (or (H, W, 4) with alpha), any size
    whose aspect ratio matches the camera's; ``mask`` (H, W) in [0, 1]
    weights the loss (the photo's alpha). ``init``: an existing splat scene
    to seed from too (`seed_from_cloud`). ``seeds``: extra `Seeds` (e.g. a
    predictor's). ``steps``: the most optimisation steps (early stop may end
    sooner). ``progress(fraction)`` is called after each step; raising
    `editor.formats.Cancelled` from it stops the pass.

    Returns ``(cloud, stats)``; stats: ``psnr_initial`` / ``psnr`` (dB, at the
    working resolution, before and after), ``loss_initial`` / ``loss``,
    ``steps`` run, ``stopped_early``, ``stop_reason`` ("steps", "plateau" or
    "time"), ``seeds``, ``splats``, ``width``,
    ``height``, ``seconds``, ``seconds_per_step``, ``mean_offset`` (world
    units, |position - anchor| averaged), ``densified``, ``pruned``,
    ``loss_history`` (the photometric loss of every step).
    Raises `AppearanceError` when there is nothing to fit.
    """
    opt = options or RegenerateOptions()
    if steps < 0:
        raise AppearanceError(f"steps must be >= 0, got {steps}")
    if opt.sh_degree not in (0, 1):
        raise AppearanceError(f"sh_degree must be 0 or 1, got {opt.sh_degree}")
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    photo, mask, cam = _fit_photo(photo, mask, camera, opt.max_side)

    parts = []
    if seeds is not None:
        parts.append(seeds)
    init_budget = max(0, int(opt.max_splats * opt.seed_fraction) - sum(len(p) for p in parts))
    scene = seed_from_cloud(init, cam, max_count=init_budget) if init is not None else Seeds.empty()
    layout_count = max(0, int(opt.max_splats * opt.seed_fraction) - sum(len(p) for p in parts) - len(scene))
    on_layout = seed_layout(layout, cam, layout_count, rng) if layout is not None and layout_count > 0 else Seeds.empty()
    n_scene, n_layout = len(scene), len(on_layout)
    if opt.reconcile_tolerance is not None:
        scene, on_layout = reconcile_seeds(scene, on_layout, layout, cam, opt.reconcile_tolerance)
    dropped = {"dropped_scene_seeds": n_scene - len(scene), "dropped_layout_seeds": n_layout - len(on_layout)}
    s = Seeds.concatenate(parts + [scene, on_layout])
    if not len(s):
        raise AppearanceError("nothing to fit: no layout surface and no splat is visible from the camera")
    colours = _sample_photo(photo, cam, s.positions)
    if s.colours is not None:
        have = np.isfinite(s.colours).all(1)
        colours[have] = s.colours[have]

    threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    torch.set_num_threads(max(1, int(opt.threads)))
    try:
        cloud, stats = _optimise(s, colours, photo, mask, cam, steps, progress, opt, rng, t_start)
    finally:
        torch.set_num_threads(threads)
    stats.update(dropped)
    return cloud, stats


def _optimise(s: Seeds, colours, photo, mask, cam: Camera, steps: int, progress: Progress,
              opt: RegenerateOptions, rng, t_start: float) -> tuple[SplatCloud, dict]:
    f32 = torch.float32
    n = len(s)
    k = (opt.sh_degree + 1) ** 2
    anchors = torch.tensor(s.anchors, dtype=f32)
    normals = torch.tensor(s.normals, dtype=f32)
    spacing = torch.tensor(s.spacing, dtype=f32)
    prior_w = torch.tensor(s.prior if s.prior is not None else np.ones(n), dtype=f32)
    u0 = (s.positions - s.anchors) / s.spacing[:, None]
    sh = np.zeros((n, k, 3), np.float32)
    sh[:, 0] = (np.clip(colours, 0.0, 1.0) - 0.5) / SH_C0
    params = {
        "u": torch.tensor(u0, dtype=f32),
        "log_scales": torch.tensor(s.log_scales, dtype=f32),
        "quats": torch.tensor(s.rotations, dtype=f32),
        "opacity": torch.tensor(logit(np.clip(s.opacities, 1e-4, 1 - 1e-4)), dtype=f32),
        "dc": torch.tensor(sh[:, :1], dtype=f32),
    }
    lrs = {"u": opt.lr_offset, "log_scales": opt.lr_scale, "quats": opt.lr_rotation,
           "opacity": opt.lr_opacity, "dc": opt.lr_colour}
    if k > 1:
        params["rest"] = torch.zeros((n, k - 1, 3), dtype=f32)
        lrs["rest"] = opt.lr_colour / 20.0
    for v in params.values():
        v.requires_grad_(True)
    adam = _Adam(params, lrs)

    target = torch.tensor(photo, dtype=f32)
    weight = torch.tensor(mask, dtype=f32) if mask is not None else None
    coarse_cam = cam.with_size(max(1, (cam.width + 1) // 2), max(1, (cam.height + 1) // 2))
    coarse_target = _half(target)
    coarse_weight = _half(weight[..., None])[..., 0] if weight is not None else None
    bg = torch.tensor(opt.background, dtype=f32)
    lam = float(opt.ssim_lambda)
    longest = max(cam.width, cam.height)

    state = {"anchors": anchors, "normals": normals, "spacing": spacing, "prior": prior_w,
             "seed_size": torch.tensor(s.log_scales, dtype=f32).max(-1).values,
             "grad_acc": torch.zeros(n), "grad_cnt": torch.zeros(n)}

    def splats():
        p = adam.params
        pos = state["anchors"] + state["spacing"][:, None] * p["u"]
        shv = p["dc"] if "rest" not in p else torch.cat((p["dc"], p["rest"]), 1)
        return pos, p["log_scales"], p["quats"], p["opacity"], shv

    def render(camera):
        pos, ls, q, op, shv = splats()
        return rasterize(pos, ls, q, op, shv, camera, background=bg, cache_bytes=opt.cache_bytes)

    def photometric(img, tgt, wgt):
        l1 = (img - tgt).abs().mean(-1)
        l1 = l1.mean() if wgt is None else (l1 * wgt).sum() / wgt.sum().clamp_min(1e-12)
        return (1 - lam) * l1 + lam * (1 - ssim(img, tgt, wgt))

    with torch.no_grad():
        img0 = render(cam)
        psnr0 = psnr(img0, target, weight)
        loss0 = float(photometric(img0, target, weight))

    n_coarse = int(round(steps * opt.coarse_fraction))
    densify_until = int(steps * opt.densify_until)
    history: list[float] = []
    stopped_early = False
    reason = "steps"
    densified = pruned = 0
    step = 0
    t_loop = time.perf_counter()
    for step in range(1, steps + 1):
        coarse = step <= n_coarse
        camera = coarse_cam if coarse else cam
        img = render(camera)
        loss = photometric(img, coarse_target if coarse else target, coarse_weight if coarse else weight)
        u = adam.params["u"]
        un = _normal_part(u, state["normals"])
        ut2 = (u * u).sum(-1) - un * un
        prior = opt.prior_weight * (state["prior"] * (un * un + 0.1 * ut2)).mean()
        (loss + prior).backward()
        history.append(float(loss.detach()))
        with torch.no_grad():
            g = adam.params["u"].grad
            if g is not None:
                gn = g.norm(dim=-1)
                seen = gn > 0
                state["grad_acc"] += gn
                state["grad_cnt"] += seen.to(f32)
        adam.step()
        with torch.no_grad():
            _clamp_offsets(adam.params["u"], state["normals"], opt.max_offset)
        late = opt.time_limit is not None and time.perf_counter() - t_start > opt.densify_until * opt.time_limit
        if step % opt.densify_every == 0 and step <= densify_until and step < steps and not late:
            d, p = _densify_and_prune(adam, state, cam, opt, rng, longest)
            densified += d
            pruned += p
        report(progress, step / max(steps, 1))
        if opt.time_limit is not None and time.perf_counter() - t_start > opt.time_limit:
            stopped_early = step < steps
            reason = "time" if stopped_early else reason
            break
        w = opt.plateau_window
        if step > max(densify_until, n_coarse) + 2 * w and len(history) >= 2 * w:
            prev = sum(history[-2 * w : -w]) / w
            cur = sum(history[-w:]) / w
            if prev - cur < opt.plateau_tol * prev:
                stopped_early = step < steps
                reason = "plateau" if stopped_early else reason
                break
    else:
        step = steps
    loop_s = time.perf_counter() - t_loop

    with torch.no_grad():
        img = render(cam)
        psnr1 = psnr(img, target, weight)
        loss1 = float(photometric(img, target, weight))
        pos, ls, q, op, shv = (t.detach() for t in splats())
        off = (pos - state["anchors"]).norm(dim=-1)
        keep = torch.sigmoid(op) >= opt.prune_opacity / 255.0
    cloud = SplatCloud(
        pos[keep].numpy(), ls[keep].numpy(), normalize_quaternions(q[keep].numpy()), op[keep].numpy(), shv[keep].numpy()
    )
    report(progress, 1.0)
    stats = {
        "psnr_initial": psnr0,
        "psnr": psnr1,
        "loss_initial": loss0,
        "loss": loss1,
        "steps": step if steps else 0,
        "stopped_early": stopped_early,
        "stop_reason": reason,
        "seeds": int(len(s)),
        "splats": int(len(cloud)),
        "width": cam.width,
        "height": cam.height,
        "seconds": time.perf_counter() - t_start,
        "seconds_per_step": loop_s / max(step if steps else 0, 1),
        "mean_offset": float(off[keep].mean()) if bool(keep.any()) else 0.0,
        "densified": densified,
        "pruned": pruned,
        "loss_history": history,
    }
    return cloud, stats


def _normal_part(u: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    return (u * normals).sum(-1)


@torch.no_grad()
def _clamp_offsets(u: torch.Tensor, normals: torch.Tensor, limit: float) -> None:
    """Clamp the normal and the tangential part of ``u`` to ``limit`` each."""
    un = (u * normals).sum(-1, keepdim=True)
    ut = u - un * normals
    tn = ut.norm(dim=-1, keepdim=True)
    ut = ut * torch.clamp(limit / tn.clamp_min(1e-12), max=1.0)
    u.copy_(ut + un.clamp(-limit, limit) * normals)


@torch.no_grad()
def _densify_and_prune(adam: _Adam, state: dict, cam: Camera, opt: RegenerateOptions, rng, longest: int) -> tuple[int, int]:
    """Split high-gradient splats bigger than ~1.5 px on screen and drop faint
    or huge ones; returns (splits, removed)."""
    p = adam.params
    n = p["u"].shape[0]
    pos = state["anchors"] + state["spacing"][:, None] * p["u"]
    rel = pos - torch.tensor(cam.eye, dtype=torch.float32)
    depth = (rel @ torch.tensor(cam.basis()[2], dtype=torch.float32)).clamp_min(1e-6)
    from inference.rasterizer import quaternion_to_matrix_torch

    # Largest on-screen sigma in pixels: each axis's extent across the view
    # ray (a floor splat long along the ray looks small from here).
    with torch.no_grad():
        axes = quaternion_to_matrix_torch(p["quats"]) * p["log_scales"].exp()[:, None, :]  # columns: scaled axes
        ray = rel / rel.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        across = axes - ray[:, :, None] * (ray[:, :, None] * axes).sum(1, keepdim=True)
        px_size = across.norm(dim=1).max(-1).values * cam.fx / depth
    opac = torch.sigmoid(p["opacity"])
    # Huge splats are dropped only when the fit blew them up (to half as big
    # again as seeded): a prediction's far, large splats are not a fault.
    grown = p["log_scales"].detach().max(-1).values > state["seed_size"] + math.log(1.5)
    drop = (opac < opt.prune_opacity / 255.0) | ((3 * px_size > opt.max_screen_fraction * longest) & grown)
    score = state["grad_acc"] / state["grad_cnt"].clamp_min(1.0)
    # One photo holds no more detail than a splat per pixel can carry: past
    # that, splits only overfit the view (measured: -0.6 to -0.9 dB at 10-30
    # degrees off the photo when splitting a pixel-dense prediction).
    room = max(0, min(opt.max_splats, cam.width * cam.height) - (n - int(drop.sum())))
    cand = (~drop) & (px_size > 1.5) & (score > 0)
    n_split = min(room, int(opt.densify_fraction * n), int(cand.sum()))
    split = torch.zeros(n, dtype=torch.bool)
    if n_split > 0:
        idx = torch.nonzero(cand).squeeze(1)
        top = idx[torch.topk(score[idx], n_split).indices]
        # Only splats above the median score of the candidates are worth splitting.
        thresh = torch.quantile(score[idx], 0.5) if len(idx) > 1 else score[idx].min()
        split[top[score[top] > thresh]] = True
    keep_idx = torch.nonzero(~drop & ~split).squeeze(1)
    sp_idx = torch.nonzero(split).squeeze(1)
    index = torch.cat((keep_idx, sp_idx, sp_idx))
    m = len(sp_idx)
    old_pos = pos[sp_idx]
    adam.gather(index)
    for key in ("anchors", "normals", "spacing", "prior", "seed_size"):
        state[key] = state[key][index].clone()
    state["grad_acc"] = torch.zeros(len(index))
    state["grad_cnt"] = torch.zeros(len(index))
    if m:
        p = adam.params
        sl = slice(len(keep_idx), len(index))
        q = p["quats"][sl]
        ls = p["log_scales"][sl]
        r = quaternion_to_matrix_torch(q)
        sig = ls.exp()
        normals = state["normals"][sl]
        # Sample each child inside the parent's footprint, in the surface plane.
        z = torch.from_numpy(rng.standard_normal((2 * m, 3)).astype(np.float32))
        off = torch.einsum("nij,nj->ni", r, sig * z)
        off = off - (off * normals).sum(-1, keepdim=True) * normals
        new_pos = torch.cat((old_pos, old_pos)) + off
        anchor = state["anchors"][sl]
        plane = ((new_pos - anchor) * normals).sum(-1, keepdim=True)
        new_anchor = new_pos - plane * normals
        spacing = state["spacing"][sl] / 1.6
        state["anchors"][sl] = new_anchor
        state["spacing"][sl] = spacing
        p["u"].data[sl] = plane * normals / spacing[:, None]
        # Shrink the in-plane axes (the two largest) by 1.6.
        order = torch.argsort(ls, dim=-1)
        shrink = torch.zeros_like(ls)
        shrink.scatter_(1, order[:, 1:], math.log(1.6))
        p["log_scales"].data[sl] = ls - shrink
        # Two overlapping children as opaque together as the parent: 1 - (1 - a_c)^2 = a.
        a = torch.sigmoid(p["opacity"][sl]).clamp(1e-4, 1 - 1e-4)
        a_c = (1 - torch.sqrt(1 - a)).clamp(1e-4, 1 - 1e-4)
        p["opacity"].data[sl] = torch.log(a_c / (1 - a_c))
    return m, int(drop.sum())
