"""Which splats a selection tool picks: pure functions returning (N,) bool masks.

Screen-space tools take the viewport's `Camera` and a 2D shape in pixels
(origin top-left, x right, y down; pixel centres at +0.5, as in `Camera`).
A splat is picked when its **centre** projects inside the shape and lies in
front of the camera (depth > ``near``); selection goes through the whole
depth (like SuperSplat), occluded splats included. Pass ``max_depth`` (e.g.
read from the renderer's depth buffer under the cursor) to limit it.

The masks are then turned into an undoable edit with
``SetSelection({layer_id: mask}, mode)`` (modes replace / add / subtract /
intersect), which also drops hidden, deleted and locked splats.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from editor.model.camera import Camera
from editor.model.splat_cloud import SH_C0, SplatCloud, quaternion_to_matrix

#: Splats closer to the camera than this (world units) are never picked.
DEFAULT_NEAR = 1e-3


def _project(positions: np.ndarray, camera: Camera, near: float, max_depth: float | None):
    uv, z = camera.project(np.asarray(positions, np.float64))
    ok = z > near
    if max_depth is not None:
        ok &= z <= max_depth
    ok &= np.isfinite(uv).all(axis=1)
    return uv, ok


def in_screen_rect(
    positions: np.ndarray,
    camera: Camera,
    rect: Sequence[float],
    near: float = DEFAULT_NEAR,
    max_depth: float | None = None,
) -> np.ndarray:
    """Splats (N, 3) whose centres project into ``rect`` = (x0, y0, x1, y1)
    pixels (corners in any order, edges inclusive). Returns (N,) bool."""
    x0, y0, x1, y1 = (float(v) for v in rect)
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    uv, ok = _project(positions, camera, near, max_depth)
    with np.errstate(invalid="ignore"):
        return ok & (uv[:, 0] >= x0) & (uv[:, 0] <= x1) & (uv[:, 1] >= y0) & (uv[:, 1] <= y1)


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule: (M, 2) points inside the closed (K, 2) polygon (K >= 3,
    any winding, self-intersections follow even-odd). Returns (M,) bool."""
    pts = np.asarray(points, np.float64)
    poly = np.asarray(polygon, np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        raise ValueError("a lasso polygon needs at least 3 (x, y) points")
    inside = np.zeros(len(pts), bool)
    if not len(pts):
        return inside
    x, y = pts[:, 0], pts[:, 1]
    # Bounding-box prefilter: the edge loop then only sees candidates.
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    cand = np.flatnonzero((x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]))
    if not cand.size:
        return inside
    cx, cy = x[cand], y[cand]
    acc = np.zeros(cand.size, bool)
    xj, yj = poly[-1]
    for xi, yi in poly:
        crosses = (yi > cy) != (yj > cy)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (xj - xi) * (cy - yi) / (yj - yi) + xi
        acc ^= crosses & (cx < xint)
        xj, yj = xi, yi
    inside[cand] = acc
    return inside


def in_screen_polygon(
    positions: np.ndarray,
    camera: Camera,
    polygon: np.ndarray,
    near: float = DEFAULT_NEAR,
    max_depth: float | None = None,
) -> np.ndarray:
    """Lasso: splats whose centres project inside ``polygon`` (K, 2) pixels."""
    uv, ok = _project(positions, camera, near, max_depth)
    out = np.zeros(len(uv), bool)
    idx = np.flatnonzero(ok)
    out[idx] = points_in_polygon(uv[idx], polygon)
    return out


def in_screen_circle(
    positions: np.ndarray,
    camera: Camera,
    centre: Sequence[float],
    radius: float,
    near: float = DEFAULT_NEAR,
    max_depth: float | None = None,
) -> np.ndarray:
    """Brush: splats whose centres project within ``radius`` pixels of
    ``centre`` (x, y) pixels. One brush dab; a stroke is several dabs pushed
    as ``SetSelection(..., mode="add", merge_id=stroke)``."""
    uv, ok = _project(positions, camera, near, max_depth)
    c = np.asarray(centre, np.float64).reshape(2)
    with np.errstate(invalid="ignore"):
        return ok & (np.sum((uv - c) ** 2, axis=1) <= float(radius) ** 2)


def brush_stroke(
    positions: np.ndarray,
    camera: Camera,
    points: np.ndarray,
    radius: float,
    near: float = DEFAULT_NEAR,
    max_depth: float | None = None,
) -> np.ndarray:
    """Union of brush dabs along a polyline of cursor positions (K, 2): every
    splat within ``radius`` pixels of any segment is picked."""
    uv, ok = _project(positions, camera, near, max_depth)
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    out = np.zeros(len(uv), bool)
    idx = np.flatnonzero(ok)
    q = uv[idx]
    hit = np.zeros(len(idx), bool)
    r2 = float(radius) ** 2
    segs = list(zip(pts[:-1], pts[1:])) if len(pts) > 1 else [(pts[0], pts[0])]
    for a, b in segs:
        d = b - a
        dd = float(d @ d)
        t = np.clip(((q - a) @ d) / dd, 0.0, 1.0) if dd > 0 else np.zeros(len(q))
        hit |= np.sum((q - (a + t[:, None] * d)) ** 2, axis=1) <= r2
    out[idx] = hit
    return out


# ---------------------------------------------------------------- volumes
def in_sphere(positions: np.ndarray, centre: Sequence[float], radius: float) -> np.ndarray:
    """Splat centres (N, 3) within ``radius`` (world units) of ``centre``."""
    p = np.asarray(positions, np.float64) - np.asarray(centre, np.float64).reshape(3)
    return np.einsum("ij,ij->i", p, p) <= float(radius) ** 2


def in_box(
    positions: np.ndarray,
    centre: Sequence[float],
    half_size: Sequence[float],
    rotation: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
) -> np.ndarray:
    """Splat centres inside an oriented box: ``centre`` (3,), ``half_size``
    (3,) along the box's axes, ``rotation`` wxyz (box axes -> world)."""
    r = quaternion_to_matrix(np.asarray(rotation, np.float64).reshape(4) / np.linalg.norm(rotation))
    local = (np.asarray(positions, np.float64) - np.asarray(centre, np.float64).reshape(3)) @ r
    return (np.abs(local) <= np.asarray(half_size, np.float64).reshape(3)).all(axis=1)


def in_primitive(positions: np.ndarray, prim) -> np.ndarray:
    """Splat centres (N, 3) inside one layout `Solid` (`editor.model.layout`),
    in its local frame (``prim.to_local``), world units. Returns (N,) bool.

    * ``Box``: the box; ``Sphere``: the ball; ``Cylinder``: radius around
      local y, height along it;
    * ``Wall``: its slab (length x height x thickness) minus its openings (a
      splat in a door or window hole is not inside the wall);
    * ``Plane`` (floor, ceiling): the rectangle, within ``thickness`` of the
      surface on **either** side, so "the floor's splats" (which lie on both
      sides of a fitted surface) are picked, not only the collider slab below.

    Other primitives (groups) have no volume: all False (see `in_primitives`)."""
    from editor.model.layout import Box, Cylinder, Plane, Sphere, Wall

    pos = np.asarray(positions, np.float64).reshape(-1, 3)
    if not isinstance(prim, (Box, Cylinder, Plane, Sphere, Wall)):
        return np.zeros(len(pos), bool)
    local = prim.to_local(pos)
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    if isinstance(prim, Sphere):
        return np.einsum("ij,ij->i", local, local) <= prim.radius ** 2
    if isinstance(prim, Cylinder):
        return (x * x + z * z <= prim.radius ** 2) & (np.abs(y) <= 0.5 * prim.height)
    if isinstance(prim, Plane):
        return (np.abs(x) <= 0.5 * prim.size[0]) & (np.abs(z) <= 0.5 * prim.size[1]) & (np.abs(y) <= prim.thickness)
    inside = (np.abs(local) <= prim.half_extents()).all(axis=1)
    if isinstance(prim, Wall) and prim.openings:
        u, v = x + 0.5 * prim.length, y + 0.5 * prim.height  # wall coordinates (see `Opening`)
        for o in prim.openings:
            inside &= ~((u > o.u0) & (u < o.u1) & (v > o.v0) & (v < o.v1))
    return inside


def in_primitives(positions: np.ndarray, layout, ids: Sequence[str]) -> np.ndarray:
    """Union of `in_primitive` over the primitives ``ids`` of ``layout`` and,
    for groups, everything inside them. Returns (N,) bool."""
    out = np.zeros(len(np.asarray(positions).reshape(-1, 3)), bool)
    seen: set[str] = set()
    for pid in ids:
        for sub in layout.descendants(pid):
            if sub not in seen:
                seen.add(sub)
                out |= in_primitive(positions, layout.get(sub))
    return out


# ---------------------------------------------------------------- attributes
def by_opacity(cloud: SplatCloud, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Opacity (after the sigmoid) in [low, high]."""
    o = cloud.opacities
    return (o >= low) & (o <= high)


def by_scale(cloud: SplatCloud, low: float = 0.0, high: float = np.inf) -> np.ndarray:
    """Largest linear axis scale (world units) in [low, high] (finds floaters
    and needle splats)."""
    s = np.exp(cloud.log_scales.max(axis=1).astype(np.float64))
    return (s >= low) & (s <= high)


def by_colour(cloud: SplatCloud, low: Sequence[float], high: Sequence[float]) -> np.ndarray:
    """Base (view-independent, DC) RGB colour within the per-channel range
    [low (3,), high (3,)], colours in [0, 1] (clamped, as displayed)."""
    c = np.clip(0.5 + SH_C0 * cloud.sh[:, 0, :].astype(np.float64), 0.0, 1.0)
    return ((c >= np.asarray(low, np.float64)) & (c <= np.asarray(high, np.float64))).all(axis=1)


def by_colour_distance(cloud: SplatCloud, colour: Sequence[float], tolerance: float) -> np.ndarray:
    """Base RGB colour (clamped to [0, 1]) within Euclidean ``tolerance`` of
    ``colour`` (RGB, 0..1)."""
    c = np.clip(0.5 + SH_C0 * cloud.sh[:, 0, :].astype(np.float64), 0.0, 1.0)
    return np.sum((c - np.asarray(colour, np.float64)) ** 2, axis=1) <= float(tolerance) ** 2


# ---------------------------------------------------------------- grow / shrink
def _cell_keys(cells: np.ndarray) -> np.ndarray:
    c = cells.astype(np.int64) + (1 << 20)
    return (c[:, 0] << 42) | (c[:, 1] << 21) | c[:, 2]


def grow(
    positions: np.ndarray,
    mask: np.ndarray,
    radius: float,
    candidates: np.ndarray | None = None,
    chunk: int = 2_000_000,
) -> np.ndarray:
    """Grow a selection: ``mask`` plus every splat (among ``candidates``, (N,)
    bool, default all) whose centre lies within ``radius`` (world units) of a
    selected splat's centre. Exact distances; a uniform grid of cell size
    ``radius`` limits the pairs compared. Returns a new (N,) bool mask."""
    pos = np.asarray(positions, np.float64)
    mask = np.asarray(mask, bool)
    out = mask.copy()
    r = float(radius)
    if not mask.any() or not r > 0:
        return out
    cand = ~mask if candidates is None else (np.asarray(candidates, bool) & ~mask)
    cand_idx = np.flatnonzero(cand)
    if not cand_idx.size:
        return out
    sel_idx = np.flatnonzero(mask)
    lo_sel, hi_sel = pos[sel_idx].min(axis=0), pos[sel_idx].max(axis=0)
    # Cells at least `radius` wide (so neighbours are one cell away), and few
    # enough per axis for the 21-bit key fields.
    cell = max(r, float((hi_sel - lo_sel).max()) / (1 << 19))
    origin = lo_sel - 2 * cell
    sel_cells = np.floor((pos[sel_idx] - origin) / cell).astype(np.int64)
    # Candidates further than one cell from the selection's bounds cannot be in reach.
    cc = np.floor((pos[cand_idx] - origin) / cell)
    hi_cell = sel_cells.max(axis=0)
    near = (cc >= -1).all(axis=1) & (cc <= hi_cell + 1).all(axis=1)
    cand_idx, cc = cand_idx[near], cc[near].astype(np.int64)
    if not cand_idx.size:
        return out
    sel_keys = _cell_keys(sel_cells)
    order = np.argsort(sel_keys, kind="stable")
    sk = sel_keys[order]
    spos = pos[sel_idx][order]
    hit = np.zeros(cand_idx.size, bool)
    cpos = pos[cand_idx]
    r2 = r * r
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                todo = np.flatnonzero(~hit)
                if not todo.size:
                    return _finish(out, cand_idx, hit)
                keys = _cell_keys(cc[todo] + np.array([dx, dy, dz]))
                lo = np.searchsorted(sk, keys, "left")
                hi = np.searchsorted(sk, keys, "right")
                counts = hi - lo
                has = counts > 0
                todo, lo, counts = todo[has], lo[has], counts[has]
                # Expand (candidate, selected-in-cell) pairs in bounded chunks.
                start = 0
                while start < todo.size:
                    cum = np.cumsum(counts[start:])
                    end = start + max(1, int(np.searchsorted(cum, chunk, "right")))
                    t, l, c = todo[start:end], lo[start:end], counts[start:end]
                    rep = np.repeat(np.arange(t.size), c)
                    offs = np.arange(rep.size) - np.repeat(np.cumsum(c) - c, c)
                    d = cpos[t[rep]] - spos[l[rep] + offs]
                    close = np.einsum("ij,ij->i", d, d) <= r2
                    hit[t[rep[close]]] = True
                    start = end
    return _finish(out, cand_idx, hit)


def _finish(out: np.ndarray, cand_idx: np.ndarray, hit: np.ndarray) -> np.ndarray:
    out[cand_idx[hit]] = True
    return out


def shrink(positions: np.ndarray, mask: np.ndarray, radius: float) -> np.ndarray:
    """Shrink a selection: drop selected splats within ``radius`` of an
    unselected one (`grow` applied to the complement)."""
    mask = np.asarray(mask, bool)
    border = grow(positions, ~mask, radius, candidates=mask) & mask
    return mask & ~border
