"""Ray picking of layout primitives: which solid is under the mouse, where,
and which of its faces.

The viewport turns a pixel into a world ray (`editor.geometry.snapping.pixel_ray`)
and asks `pick_primitive` for the nearest hit. Rays are intersected with the
same closed meshes the colliders and the layout renderer use
(`editor.geometry.meshing.primitive_mesh`), so what is picked is what is
drawn: a ray through a door or window opening passes the wall and hits
whatever is behind it. Triangles count from both sides (a camera inside a
room picks the inner face of a wall).

The face name is the one `Solid.extruded` accepts for the face that was hit
("+x" ... "-z" for boxes, walls and planes, "+y" / "-y" / "side" for
cylinders, "surface" for spheres), or None where the hit triangle is not part
of an extrudable face (the inner sides of a wall opening). Units: world units
(the scene frame), like everything in `editor.geometry`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from editor.geometry.meshing import primitive_mesh
from editor.model.layout import Box, Cylinder, Layout, Plane, Solid, Sphere, Wall

#: Relative tolerance (of a primitive's size) for "the hit point lies on the
#: outer boundary plane of this face".
_FACE_TOL = 1e-6


@dataclass(frozen=True)
class Hit:
    """The nearest intersection of a ray with a layout solid."""

    primitive_id: str
    distance: float  # along the (unit) ray, world units
    point: np.ndarray  # (3,) world hit point
    normal: np.ndarray  # (3,) unit outward world normal of the hit face
    face: str | None  # face name for `Solid.extruded`, None if the hit is not on an extrudable face


def ray_triangles(origin: np.ndarray, direction: np.ndarray, a: np.ndarray, b: np.ndarray,
                  c: np.ndarray) -> np.ndarray:
    """Ray parameters t (F,) where the ray ``origin + t direction`` crosses the
    triangles (a, b, c) (each (F, 3)), from either side (Möller-Trumbore);
    ``inf`` where it misses or the crossing is behind the origin (t <= 0)."""
    e1, e2 = b - a, c - a
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    scale = np.maximum(np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1), 1e-300)
    ok = np.abs(det) > 1e-12 * scale
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - a
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    eps = 1e-9
    hit = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1.0 + eps) & (t > 0.0)
    return np.where(hit, t, np.inf)


def ray_box(origin: np.ndarray, direction: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether the ray meets the axis-aligned box [lo, hi] (3,) in front of its origin."""
    flat = direction == 0
    if np.any(flat & ((origin < lo) | (origin > hi))):
        return False  # parallel to a slab it is outside of
    live = ~flat
    t0 = (lo[live] - origin[live]) / direction[live]
    t1 = (hi[live] - origin[live]) / direction[live]
    tmin = np.concatenate([[-np.inf], np.minimum(t0, t1)])
    tmax = np.concatenate([[np.inf], np.maximum(t0, t1)])
    near, far = float(np.max(tmin)), float(np.min(tmax))
    return far >= max(near, 0.0)


def face_name(prim: Solid, local_point: np.ndarray, local_normal: np.ndarray) -> str | None:
    """The `Solid.extruded` face of ``prim`` that contains the hit at
    ``local_point`` (3,) with triangle normal ``local_normal`` (3,, unit,
    outward), both in the primitive's own frame; None when the triangle is
    not on such a face (e.g. the side of a wall opening)."""
    if isinstance(prim, Sphere):
        return "surface"
    axis = int(np.argmax(np.abs(local_normal)))
    sign = "+" if local_normal[axis] > 0 else "-"
    if isinstance(prim, Cylinder):
        if axis == 1 and abs(local_normal[1]) > 0.5:
            return f"{sign}y"
        return "side"
    if not isinstance(prim, (Box, Wall, Plane)):
        return None
    h = prim.half_extents()
    centre = np.zeros(3)
    if isinstance(prim, Plane):
        # The slab spans local y in [-thickness, 0] (half_extents is symmetric around 0).
        h = np.array([h[0], 0.5 * prim.thickness, h[2]])
        centre = np.array([0.0, -0.5 * prim.thickness, 0.0])
    bound = centre[axis] + (h[axis] if sign == "+" else -h[axis])
    if abs(local_point[axis] - bound) > _FACE_TOL * max(float(np.max(h)), 1e-9) + 1e-12:
        return None  # an inner face (opening side), not the outer boundary
    return f"{sign}{'xyz'[axis]}"


def pick_primitive(layout: Layout, origin, direction, include_locked: bool = True,
                   include_hidden: bool = False) -> Hit | None:
    """Nearest hit of the ray ``origin`` (3,) + t ``direction`` (3,, need not
    be unit; the returned distance is along the normalised ray) with the
    layout's solids, or None. Hidden primitives are skipped unless
    ``include_hidden``; locked ones are skipped when ``include_locked`` is
    False. A primitive whose world bounds the ray misses is not meshed."""
    o = np.asarray(origin, np.float64).reshape(3)
    d = np.asarray(direction, np.float64).reshape(3)
    n = float(np.linalg.norm(d))
    if not n > 0 or not np.isfinite(o).all() or not np.isfinite(d).all():
        return None
    d = d / n
    best: tuple[float, Solid, np.ndarray] | None = None
    for prim in layout.solids(visible_only=not include_hidden):
        if prim.locked and not include_locked:
            continue
        lo, hi = prim.world_bounds()
        pad = 1e-9 * max(1.0, float(np.max(hi - lo)))
        if not ray_box(o, d, lo - pad, hi + pad):
            continue
        mesh = primitive_mesh(prim)
        if mesh is None:
            continue
        v, f = mesh.vertices, mesh.faces
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        t = ray_triangles(o, d, a, b, c)
        i = int(np.argmin(t))
        if np.isfinite(t[i]) and (best is None or t[i] < best[0]):
            normal = np.cross(b[i] - a[i], c[i] - a[i])
            best = (float(t[i]), prim, normal / np.linalg.norm(normal))
    if best is None:
        return None
    t, prim, normal = best
    point = o + t * d
    local_point = prim.to_local(point[None])[0]
    local_normal = prim.rotation_matrix().T @ normal
    return Hit(prim.id, t, point, normal, face_name(prim, local_point, local_normal))
