"""Synthetic scenes with known structure for the layout-fit tests.

`make_room` builds a splat cloud of a furnished room in the 3DGS frame (y
down): a floor, four walls (a door and a window cut out of two of them), an
optional ceiling, a table-sized box, faint floaters (opacity < 0.15) and a
few opaque floaters, all with position noise; then a rigid motion (tilt and
yaw) so nothing is axis-aligned. It returns the cloud and the ground truth
(floor plane, inner wall planes with their end points, the box) in the same
frame.
"""
from __future__ import annotations

import numpy as np

from editor.model.splat_cloud import SplatCloud, normalize_quaternions


def rotation_matrix(axis, degrees) -> np.ndarray:
    a = np.asarray(axis, np.float64)
    a /= np.linalg.norm(a)
    t = np.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _rect(rng, origin, e1, e2, density, holes=()):
    """Points on the parallelogram origin + s e1 + t e2 (s, t in [0, 1]),
    minus holes given as (s0, t0, s1, t1) in metres along e1, e2."""
    l1, l2 = np.linalg.norm(e1), np.linalg.norm(e2)
    n = int(density * l1 * l2)
    s, t = rng.random(n), rng.random(n)
    keep = np.ones(n, bool)
    for s0, t0, s1, t1 in holes:
        keep &= ~((s * l1 > s0) & (s * l1 < s1) & (t * l2 > t0) & (t * l2 < t1))
    s, t = s[keep], t[keep]
    return origin + s[:, None] * e1 + t[:, None] * e2


def make_room(
    seed: int = 0,
    width: float = 6.0,
    depth: float = 5.0,
    height: float = 2.6,
    ceiling: bool = False,
    density: float = 350.0,
    noise: float = 0.01,
    tilt_deg: float = 8.0,
    yaw_deg: float = 27.0,
    offset=(0.4, 1.6, 2.5),
):
    rng = np.random.default_rng(seed)
    up = np.array([0.0, -1.0, 0.0])
    x, z = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    hx, hz = width / 2, depth / 2
    c0 = np.array([-hx, 0, -hz])
    parts = []
    floor = _rect(rng, c0, x * width, z * depth, density)
    parts.append(floor)
    # Walls (inner faces) going round: -z wall (with a door), +x wall (window), +z, -x.
    walls = [
        (np.array([-hx, 0, -hz]), np.array([hx, 0, -hz]), z, [(1.0, 0.0, 1.9, 2.1)]),
        (np.array([hx, 0, -hz]), np.array([hx, 0, hz]), -x, [(1.5, 0.9, 3.0, 1.9)]),
        (np.array([hx, 0, hz]), np.array([-hx, 0, hz]), -z, []),
        (np.array([-hx, 0, hz]), np.array([-hx, 0, -hz]), x, []),
    ]
    for a, b, n, holes in walls:
        parts.append(_rect(rng, a, b - a, up * height, density, holes))
    if ceiling:
        parts.append(_rect(rng, c0 + up * height, x * width, z * depth, density))
    # A table-like box: top and four sides.
    bc, bs = np.array([0.8, 0.0, 0.6]), np.array([1.2, 0.75, 0.8])
    b0 = bc - x * bs[0] / 2 - z * bs[2] / 2
    box_pts = [
        _rect(rng, b0 + up * bs[1], x * bs[0], z * bs[2], density),
        _rect(rng, b0, x * bs[0], up * bs[1], density),
        _rect(rng, b0 + z * bs[2], x * bs[0], up * bs[1], density),
        _rect(rng, b0, z * bs[2], up * bs[1], density),
        _rect(rng, b0 + x * bs[0], z * bs[2], up * bs[1], density),
    ]
    parts += box_pts
    surf = np.concatenate(parts)
    surf += rng.normal(scale=noise, size=surf.shape)
    n_surf = len(surf)
    lo, hi = np.array([-hx, -height, -hz]), np.array([hx, 0, hz])
    faint = rng.uniform(lo, hi, size=(n_surf // 10, 3))
    opaque = rng.uniform(lo, hi, size=(n_surf // 200, 3))
    pts = np.concatenate([surf, faint, opaque])
    opac = np.concatenate([rng.uniform(0.4, 1.0, n_surf), rng.uniform(0.01, 0.15, len(faint)), rng.uniform(0.5, 1.0, len(opaque))])
    # Rigid motion: tilt, yaw about up, then translate.
    r = rotation_matrix(up, yaw_deg) @ rotation_matrix((1.0, 0.0, 0.3), tilt_deg)
    t = np.asarray(offset, np.float64)
    world = pts @ r.T + t
    n = len(world)
    cloud = SplatCloud.from_activated(
        world,
        np.full((n, 3), 0.02),
        normalize_quaternions(rng.normal(size=(n, 4))),
        opac,
        colors=rng.uniform(0.2, 0.8, (n, 3)),
    )
    up_w = r @ up
    truth = {
        "up": up_w,
        "floor_point": t,  # the room's floor centre
        "walls": [
            {"normal": r @ n_in, "start": r @ a + t, "end": r @ b + t} for a, b, n_in, _ in walls
        ],
        "height": height,
        "box": {"centre": r @ (bc + up * bs[1] / 2) + t, "size": bs, "x": r @ x},
    }
    return cloud, truth
