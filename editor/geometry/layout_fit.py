"""Layout proposal: fit a floor, walls, a ceiling and boxes to a splat scene.

`fit_layout(cloud)` turns any trained or predicted scene into an editable
`Layout` in one step:

1. **Points and weights.** Splat centres with opacity >= ``min_opacity``,
   weighted by opacity (faint floaters barely count), randomly thinned to
   ``max_points``. Distances scale with the scene: the inlier threshold
   defaults to 0.5 % of the robust bounding-box diagonal (2nd-98th
   percentile), so the fit works in metres, centimetres or arbitrary units.
2. **Floor.** Sequential RANSAC for planes whose normal is within
   ``max_tilt_deg`` of ``up_hint`` ((0, -1, 0): up in the 3DGS frame). Each
   hypothesis is scored MSAC-style (sum of ``w * (1 - (d / t)^2)`` over
   inliers) and refined by weighted least squares (PCA). The floor is the
   strongest such plane with at least 80 % of the off-plane weight above it;
   a parallel plane with 80 % below it, high enough, becomes the ceiling.
3. **Walls.** On what stands above the floor, RANSAC restricted to vertical
   planes (two samples and the up vector fix a hypothesis), refined by
   weighted PCA in the horizontal plane. Each plane's inliers are split
   along the wall where they leave a gap wider than ``gap``; each long
   enough piece becomes a `Wall` whose inner face lies on the fitted plane
   (the wall's body is placed behind the surface, away from the scene's
   centre) and whose height runs from the floor to the top of its points
   (or to the ceiling).
4. **Boxes.** What is left above the floor is binned on a floor grid;
   connected occupied cells with enough weight become oriented `Box` es
   (orientation: the walls' directions or the cluster's principal axes,
   whichever gives the smaller footprint), from the floor (or their lowest
   points) to their top.

Everything is deterministic for a given ``seed``. The fitted up vector, the
threshold and per-primitive support are stored in ``layout.metadata["fit"]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from editor.model.layout import Box, Layout, Plane, Primitive, Wall, frame_from_axes
from editor.model.splat_cloud import SplatCloud


class LayoutFitError(ValueError):
    """The scene does not support a layout (e.g. no floor); one line."""


@dataclass
class FitOptions:
    up_hint: tuple[float, float, float] = (0.0, -1.0, 0.0)
    max_tilt_deg: float = 30.0
    min_opacity: float = 0.2
    max_points: int = 200_000
    threshold: float | None = None  # inlier distance; default 0.5 % of the scene diagonal
    iterations: int = 300
    max_walls: int = 12
    min_wall_fraction: float = 0.015  # of the total weight
    min_wall_length: float | None = None  # default 5 % of the diagonal
    gap: float | None = None  # default 5 % of the diagonal
    wall_thickness: float | None = None  # default 1.5 % of the diagonal
    boxes: bool = True
    max_boxes: int = 10
    min_box_fraction: float = 0.003
    box_cell: float | None = None  # default 2 % of the diagonal
    seed: int = 0


@dataclass
class PlaneFit:
    """n . x + d = 0, ``normal`` unit (3,); ``weight``: inlier opacity sum."""

    normal: np.ndarray
    d: float
    weight: float
    inliers: np.ndarray = field(repr=False)  # (M,) bool over the fitted points

    def distance(self, p: np.ndarray) -> np.ndarray:
        return p @ self.normal + self.d


# ---------------------------------------------------------------- RANSAC
def _weighted_plane(p: np.ndarray, w: np.ndarray, up: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Weighted least-squares plane through points (M, 3). With ``up`` the
    plane is constrained to contain that direction (a vertical plane)."""
    c = (p * w[:, None]).sum(0) / w.sum()
    q = p - c
    if up is None:
        cov = (q * w[:, None]).T @ q
        n = np.linalg.eigh(cov)[1][:, 0]
    else:
        e1 = np.cross(up, np.eye(3)[int(np.argmin(np.abs(up)))])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(up, e1)
        b = np.stack([e1, e2], 1)
        q2 = q @ b
        cov = (q2 * w[:, None]).T @ q2
        v = np.linalg.eigh(cov)[1][:, 0]
        n = b @ v
    n = n / np.linalg.norm(n)
    return n, float(-n @ c)


def ransac_plane(
    p: np.ndarray,
    w: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    iterations: int = 300,
    cone: tuple[np.ndarray, float] | None = None,
    vertical: np.ndarray | None = None,
    eval_points: int = 20_000,
) -> PlaneFit | None:
    """Best plane by weighted MSAC score. ``cone`` = (axis, cos_max): only
    normals within that angle of ±axis. ``vertical`` = up: only planes that
    contain the up direction. Returns None when no hypothesis is valid."""
    m = len(p)
    if m < 3:
        return None
    prob = w / w.sum()
    k = 2 if vertical is not None else 3
    idx = rng.choice(m, size=(iterations, k), p=prob)
    a = p[idx[:, 0]]
    if vertical is not None:
        n = np.cross(p[idx[:, 1]] - a, vertical)
    else:
        n = np.cross(p[idx[:, 1]] - a, p[idx[:, 2]] - a)
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-12
    n[ok] /= norm[ok, None]
    if cone is not None:
        ok &= np.abs(n @ cone[0]) >= cone[1]
    if not ok.any():
        return None
    n, a = n[ok], a[ok]
    d = -np.einsum("ij,ij->i", n, a)
    ev = rng.choice(m, size=min(m, eval_points), replace=False) if m > eval_points else np.arange(m)
    pe, we = p[ev], w[ev]
    best, best_score = -1, -1.0
    for s in range(0, len(n), 64):
        dist = np.abs(pe @ n[s:s + 64].T + d[s:s + 64])  # (E, h)
        score = (we[:, None] * np.clip(1.0 - (dist / threshold) ** 2, 0.0, None)).sum(0)
        j = int(np.argmax(score))
        if score[j] > best_score:
            best, best_score = s + j, float(score[j])
    normal, offset = n[best], float(d[best])
    up = vertical
    for _ in range(3):  # refine: inliers -> weighted least squares -> inliers
        inl = np.abs(p @ normal + offset) < threshold
        if inl.sum() < 3:
            break
        normal, offset = _weighted_plane(p[inl], w[inl], up)
        if cone is not None and abs(normal @ cone[0]) < cone[1]:
            return None
    inl = np.abs(p @ normal + offset) < threshold
    return PlaneFit(normal, offset, float(w[inl].sum()), inl)


# ---------------------------------------------------------------- helpers
def _wquantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(x[order][min(int(np.searchsorted(cw, q * cw[-1])), len(x) - 1)])


def _segments(t: np.ndarray, gap: float) -> list[np.ndarray]:
    """Split 1D coordinates where consecutive sorted values jump by > gap;
    returns index arrays into ``t``."""
    order = np.argsort(t)
    cuts = np.flatnonzero(np.diff(t[order]) > gap) + 1
    return np.split(order, cuts)


def _coverage(points: np.ndarray, normal: np.ndarray, cell: float) -> float:
    """Fraction of the cells of the points' bounding rectangle (in the plane
    with ``normal``, principal axes) that hold a point: near 1 for a surface,
    low for a ring or a few strips."""
    if len(points) < 10:
        return 0.0
    a1, a2 = _floor_axes(normal, None)
    uv = np.stack([points @ a1, points @ a2], 1)
    uv = uv - uv.mean(0)
    _, vecs = np.linalg.eigh(uv.T @ uv)
    uv = uv @ vecs
    lo, hi = np.quantile(uv, 0.01, axis=0), np.quantile(uv, 0.99, axis=0)
    shape = np.maximum(np.ceil((hi - lo) / cell).astype(np.int64), 1)
    if shape.prod() > 1_000_000:
        return 1.0
    ij = np.clip(((uv - lo) / cell).astype(np.int64), 0, shape - 1)
    return float(np.unique(ij[:, 0] * shape[1] + ij[:, 1]).size / shape.prod())


def _components(occ: np.ndarray) -> np.ndarray:
    """8-connected labels of a 2D bool grid (0 = background)."""
    labels = np.zeros(occ.shape, np.int32)
    cur = 0
    for start in zip(*np.nonzero(occ)):
        if labels[start]:
            continue
        cur += 1
        stack = [start]
        labels[start] = cur
        while stack:
            i, j = stack.pop()
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    a, b = i + di, j + dj
                    if 0 <= a < occ.shape[0] and 0 <= b < occ.shape[1] and occ[a, b] and not labels[a, b]:
                        labels[a, b] = cur
                        stack.append((a, b))
    return labels


def _floor_axes(up: np.ndarray, direction: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if direction is None:
        direction = np.cross(up, np.eye(3)[int(np.argmin(np.abs(up)))])
    a1 = direction - up * (direction @ up)
    a1 /= np.linalg.norm(a1)
    return a1, np.cross(up, a1)


# ---------------------------------------------------------------- main
def fit_layout(cloud: SplatCloud, options: FitOptions | None = None) -> Layout:
    """Propose a layout (floor, walls, ceiling, boxes) for ``cloud``.
    Raises `LayoutFitError` when no floor can be found."""
    o = options or FitOptions()
    rng = np.random.default_rng(o.seed)
    pos = cloud.positions.astype(np.float64)
    w = cloud.opacities.astype(np.float64)
    keep = np.isfinite(pos).all(1) & (w >= o.min_opacity)
    p, w = pos[keep], w[keep]
    if len(p) < 50:
        raise LayoutFitError(f"only {len(p)} splats have opacity >= {o.min_opacity}; too few to fit a layout")
    if len(p) > o.max_points:
        pick = rng.choice(len(p), o.max_points, replace=False)
        p, w = p[pick], w[pick]
    lo, hi = np.quantile(p, 0.02, axis=0), np.quantile(p, 0.98, axis=0)
    diag = float(np.linalg.norm(hi - lo))
    if not diag > 0:
        raise LayoutFitError("the scene has no extent")
    thr = o.threshold or 0.005 * diag
    gap = o.gap or 0.05 * diag
    min_len = o.min_wall_length or 0.05 * diag
    thickness = o.wall_thickness or 0.015 * diag
    total = float(w.sum())
    hint = np.asarray(o.up_hint, np.float64)
    hint /= np.linalg.norm(hint)

    # ---- floor (and ceiling) among planes near the hinted up direction
    cos_tilt = math.cos(math.radians(o.max_tilt_deg))
    pool = np.ones(len(p), bool)
    horizontal: list[PlaneFit] = []
    for _ in range(4):
        idx = np.flatnonzero(pool)
        if len(idx) < 50:
            break
        fit = ransac_plane(p[idx], w[idx], thr, rng, o.iterations, cone=(hint, cos_tilt))
        if fit is None or fit.weight < 0.02 * total:
            break
        if fit.normal @ hint < 0:
            fit.normal, fit.d = -fit.normal, -fit.d
        full = np.abs(p @ fit.normal + fit.d) < thr
        horizontal.append(PlaneFit(fit.normal, fit.d, float(w[full].sum()), full))
        pool &= np.abs(p @ fit.normal + fit.d) >= 2 * thr
    floor = ceiling = None
    best = -1.0
    for h in horizontal:
        dist = h.distance(p)
        above, below = w[dist > 2 * thr].sum(), w[dist < -2 * thr].sum()
        # A plane slicing through the walls collects a ring of points: not a surface.
        if _coverage(p[h.inliers], h.normal, 0.05 * diag) < 0.25:
            continue
        if above >= 0.8 * (above + below) and h.weight > best:
            floor, best = h, h.weight
    if floor is None:
        raise LayoutFitError(
            f"no floor found: no large plane within {o.max_tilt_deg:g} degrees of up {tuple(float(v) for v in hint)} "
            "has the scene above it (try another up hint)"
        )
    up = floor.normal
    height = floor.distance(p)  # height above the floor, along up
    best = -1.0
    for h in horizontal:
        if h is floor or abs(h.normal @ up) < math.cos(math.radians(5)):
            continue
        dist = h.distance(p)
        above, below = w[dist > 2 * thr].sum(), w[dist < -2 * thr].sum()
        level = float(np.median(height[h.inliers]))
        if _coverage(p[h.inliers], h.normal, 0.05 * diag) < 0.4:
            continue
        if below >= 0.8 * (above + below) and level > 0.1 * diag and h.weight > best:
            ceiling, best = h, h.weight
    ceiling_h = float(np.median(height[ceiling.inliers])) if ceiling is not None else None

    # ---- walls: vertical planes over what stands above the floor
    pool = (height > 3 * thr) & ~floor.inliers
    if ceiling is not None:
        pool &= (height < ceiling_h - 3 * thr) & ~ceiling.inliers
    centre = (p * w[:, None]).sum(0) / total
    found: list[dict] = []
    for _ in range(o.max_walls * 2):
        if len(found) >= o.max_walls:
            break
        idx = np.flatnonzero(pool)
        if len(idx) < 20 or w[idx].sum() < o.min_wall_fraction * total:
            break
        fit = ransac_plane(p[idx], w[idx], thr, rng, o.iterations, vertical=up)
        if fit is None or fit.weight < o.min_wall_fraction * total:
            break
        n, d = fit.normal, fit.d
        if n @ centre + d < 0:  # normal towards the room's inside
            n, d = -n, -d
        dist = p @ n + d
        on_plane = pool & (np.abs(dist) < thr)
        pool &= np.abs(dist) >= 2 * thr
        tangent = np.cross(up, n)
        sel = np.flatnonzero(on_plane)
        t = p[sel] @ tangent
        for seg in _segments(t, gap):
            ids = sel[seg]
            sw = w[ids]
            if sw.sum() < 0.5 * o.min_wall_fraction * total:
                continue
            t0, t1 = _wquantile(t[seg], sw, 0.002), _wquantile(t[seg], sw, 0.998)
            if t1 - t0 < min_len:
                continue
            top = ceiling_h if ceiling_h is not None else _wquantile(height[ids], sw, 0.995)
            if top < min_len:
                continue
            # A point on the inner face, on the floor, from which t is measured.
            ref = p[ids[0]]
            ref = ref - n * (ref @ n + d)
            ref = ref - tangent * (ref @ tangent)
            ref = ref - up * floor.distance(ref[None])[0]
            found.append({"n": n, "d": d, "tangent": tangent, "origin": ref, "t": [t0, t1],
                          "top": float(top), "weight": float(sw.sum())})
            if len(found) >= o.max_walls:
                break
    _close_corners(found, gap, thickness)
    walls: list[tuple[Wall, float]] = []
    directions: list[np.ndarray] = []
    for f in found:
        t0, t1 = f["t"]
        base = f["origin"] + f["tangent"] * (0.5 * (t0 + t1))
        centre_w = base + up * (f["top"] / 2) - f["n"] * (thickness / 2)
        wall = Wall(
            "", "Wall", True, False, tuple(float(v) for v in centre_w), frame_from_axes(f["tangent"], up),
            float(t1 - t0), float(f["top"]), float(thickness),
        )
        walls.append((wall, f["weight"]))
        directions.append(f["tangent"])

    # ---- floor plane primitive spanning the floor points and the walls
    main_dir = directions[0] if directions else None
    a1, a2 = _floor_axes(up, main_dir)
    fi = floor.inliers
    u1, u2 = p[fi] @ a1, p[fi] @ a2
    r1 = [_wquantile(u1, w[fi], 0.002), _wquantile(u1, w[fi], 0.998)]
    r2 = [_wquantile(u2, w[fi], 0.002), _wquantile(u2, w[fi], 0.998)]
    for wl, _ in walls:  # reach under the walls, outer faces included
        for end in (wl.start, wl.end):
            for off in (-0.5, 0.5):
                q = end + wl.rotation_matrix()[:, 2] * (off * wl.thickness)
                r1 = [min(r1[0], q @ a1), max(r1[1], q @ a1)]
                r2 = [min(r2[0], q @ a2), max(r2[1], q @ a2)]
    fc = a1 * (0.5 * sum(r1)) + a2 * (0.5 * sum(r2))
    fc = fc - up * (fc @ up + floor.d)  # onto the floor plane
    prims: list[tuple[Primitive, float]] = [(
        Plane("", "Floor", True, False, tuple(float(v) for v in fc), frame_from_axes(a1, up),
              (max(r1[1] - r1[0], 1e-3), max(r2[1] - r2[0], 1e-3)), float(thickness), "floor"),
        floor.weight,
    )]
    if ceiling is not None:
        cc = fc + up * ceiling_h
        prims.append((
            Plane("", "Ceiling", True, False, tuple(float(v) for v in cc), frame_from_axes(a1, -up),
                  (max(r1[1] - r1[0], 1e-3), max(r2[1] - r2[0], 1e-3)), float(thickness), "ceiling"),
            ceiling.weight,
        ))
    prims += walls

    # ---- boxes: clusters of what is left above the floor
    if o.boxes:
        prims += _fit_boxes(p, w, pool, height, up, floor, a1, directions, o, diag, total, thr)

    named: dict[str, Primitive] = {}
    counters: dict[str, int] = {}
    support = {}
    for prim, weight in prims:
        kind = {"plane": "Floor" if getattr(prim, "role", "") == "floor" else "Ceiling"}.get(prim.TYPE, prim.TYPE.title())
        counters[kind] = counters.get(kind, 0) + 1
        pid = f"p{len(named) + 1}"
        name = kind if kind in ("Floor", "Ceiling") else f"{kind} {counters[kind]}"
        named[pid] = prim.replace(id=pid, name=name)
        support[pid] = round(weight / total, 5)
    meta = {
        "fit": {
            "method": "ransac-msac, opacity-weighted",
            "threshold": thr,
            "scene_diagonal": diag,
            "points": int(len(p)),
            "floor_normal": [float(v) for v in up],
            "floor_offset": float(floor.d),
            "support": support,
            "seed": o.seed,
        }
    }
    return Layout(named, tuple(float(v) for v in up), meta)


def _close_corners(walls: list[dict], gap: float, thickness: float) -> None:
    """Snap wall ends to corners: where the inner faces of two non-parallel
    walls meet within ``gap`` of an end, that end moves to the meeting point
    and then ``thickness`` further, so the two wall bodies overlap and close
    the corner (no gap for a collider to leak through)."""
    cos_max = math.cos(math.radians(30))
    for i, a in enumerate(walls):
        for e in (0, 1):
            best = None
            for j, b in enumerate(walls):
                if i == j or abs(a["n"] @ b["n"]) > cos_max:
                    continue
                denom = float(b["n"] @ a["tangent"])
                t_star = -(b["n"] @ a["origin"] + b["d"]) / denom
                if abs(t_star - a["t"][e]) > gap:
                    continue
                corner = a["origin"] + a["tangent"] * t_star
                tb = float((corner - b["origin"]) @ b["tangent"])
                if not b["t"][0] - gap <= tb <= b["t"][1] + gap:
                    continue
                if best is None or abs(t_star - a["t"][e]) < abs(best - a["t"][e]):
                    best = t_star
            if best is not None:
                a.setdefault("corner", [None, None])[e] = best
    for a in walls:
        for e, t_star in enumerate(a.get("corner", [None, None])):
            if t_star is not None:
                a["t"][e] = t_star - thickness if e == 0 else t_star + thickness
        if a["t"][1] <= a["t"][0]:
            a["t"] = sorted(a["t"])


def _fit_boxes(p, w, pool, height, up, floor, a1, directions, o: FitOptions, diag, total, o_thr):
    idx = np.flatnonzero(pool)
    if len(idx) < 20:
        return []
    a2 = np.cross(up, a1)
    cell = o.box_cell or 0.02 * diag
    u = np.stack([p[idx] @ a1, p[idx] @ a2], 1)
    lo = u.min(0)
    ij = np.floor((u - lo) / cell).astype(np.int64)
    shape = tuple(int(v) for v in ij.max(0) + 1)
    if shape[0] * shape[1] > 4_000_000:
        return []
    grid_w = np.zeros(shape)
    np.add.at(grid_w, (ij[:, 0], ij[:, 1]), w[idx])
    occ = grid_w >= 0.0005 * total
    labels = _components(occ)
    out = []
    cand_dirs = [d for d in directions[:4]]
    for lab in range(1, int(labels.max()) + 1):
        member = labels[ij[:, 0], ij[:, 1]] == lab
        ids = idx[member]
        sw = w[ids]
        if sw.sum() < o.min_box_fraction * total or len(ids) < 20:
            continue
        q = p[ids]
        # Orientation: wall directions or the cluster's principal axis, smallest footprint wins.
        pts2 = np.stack([q @ a1, q @ a2], 1)
        c2 = pts2 - pts2.mean(0)
        ev = np.linalg.eigh((c2 * sw[:, None]).T @ c2)[1][:, 1]
        options = [a1 * ev[0] + a2 * ev[1]] + cand_dirs
        best = None
        for d in options:
            b1, b2 = _floor_axes(up, d)
            s1, s2 = q @ b1, q @ b2
            r1 = (_wquantile(s1, sw, 0.02), _wquantile(s1, sw, 0.98))
            r2 = (_wquantile(s2, sw, 0.02), _wquantile(s2, sw, 0.98))
            area = (r1[1] - r1[0]) * (r2[1] - r2[0])
            if best is None or area < best[0] - 1e-12:
                best = (area, b1, b2, r1, r2)
        _, b1, b2, r1, r2 = best
        hs = height[ids]
        top = _wquantile(hs, sw, 0.98)
        bottom = _wquantile(hs, sw, 0.02)
        if bottom < max(0.25 * top, 5 * o_thr):  # standing on the floor
            bottom = 0.0
        size = (r1[1] - r1[0], top - bottom, r2[1] - r2[0])
        if min(size) < 0.01 * diag:
            continue
        c = b1 * (0.5 * sum(r1)) + b2 * (0.5 * sum(r2))
        c = c - up * (c @ up + floor.d) + up * (0.5 * (top + bottom))
        box = Box("", "Box", True, False, tuple(float(v) for v in c), frame_from_axes(b1, up), tuple(float(v) for v in size))
        out.append((box, float(sw.sum())))
    out.sort(key=lambda bw: -bw[1])
    return out[: o.max_boxes]
