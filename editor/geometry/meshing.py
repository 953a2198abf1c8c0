"""Layout primitives -> closed triangle meshes (colliders, previews).

Every mesh is watertight and consistently oriented: each undirected edge is
shared by exactly two triangles that traverse it in opposite directions,
triangles wind counter-clockwise seen from outside (outward normals, the glTF
convention), and the signed volume is positive. `Mesh.is_watertight` checks
exactly that.

Walls with openings are built directly, without booleans: the wall's face is
cut into the grid formed by the wall's and the openings' edges, the cells
outside every opening become front and back triangles, and every cell edge
that borders an opening or the wall's outline gets a side quad through the
thickness. Openings may overlap, touch the wall's border (doors) or stick
out of it (clipped). Two openings that touch at a single corner would make a
non-manifold vertex; one of them is then shrunk by a sliver (0.1 % of the
wall's smaller side) at that corner.

Primitives overlap where they meet (wall corners, furniture on the floor):
each primitive is its own closed mesh, which is what physics engines want
from static colliders.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from editor.model.layout import Box, Cylinder, Layout, Opening, Plane, Solid, Sphere, Wall


@dataclass
class Mesh:
    """Triangle mesh: ``vertices`` (V, 3) float64 world units, ``faces``
    (F, 3) int64 vertex indices, counter-clockwise seen from outside."""

    vertices: np.ndarray
    faces: np.ndarray
    name: str = ""
    primitive_id: str = ""
    primitive_type: str = ""

    def transformed(self, rotation: np.ndarray, translation: np.ndarray | None = None) -> "Mesh":
        """``v -> R v + t``; R must be a proper rotation (keeps the winding)."""
        t = np.zeros(3) if translation is None else np.asarray(translation, np.float64)
        v = self.vertices @ np.asarray(rotation, np.float64).T + t
        return Mesh(v, self.faces.copy(), self.name, self.primitive_id, self.primitive_type)

    @property
    def volume(self) -> float:
        """Signed volume (positive for outward-facing triangles)."""
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)

    def area(self) -> float:
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        return float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())

    def is_watertight(self) -> bool:
        """Closed and consistently oriented: every directed edge appears once
        and its reverse appears once; no degenerate (repeated-vertex) faces."""
        f = self.faces
        if not len(f):
            return False
        if (f[:, 0] == f[:, 1]).any() or (f[:, 1] == f[:, 2]).any() or (f[:, 0] == f[:, 2]).any():
            return False
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        n = int(self.vertices.shape[0])
        key = e[:, 0] * n + e[:, 1]
        rev = e[:, 1] * n + e[:, 0]
        if np.unique(key).size != key.size:
            return False
        return bool(np.isin(rev, key).all())


def _orient(vertices: np.ndarray, faces: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """Flip triangles whose normal points against ``outward`` (F, 3)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    flip = np.einsum("ij,ij->i", n, outward) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return faces


def _convex(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Orient the faces of a convex mesh around its centroid outwards."""
    centre = vertices.mean(axis=0)
    tri_c = vertices[faces].mean(axis=1)
    return _orient(vertices, faces, tri_c - centre)


# ---------------------------------------------------------------- local meshes
def slab_with_holes(
    size: tuple[float, float, float], holes: list[tuple[float, float, float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """A box of ``size`` (x, y, z) centred at the origin with rectangular
    holes through z: each hole (x0, y0, x1, y1) in box coordinates measured
    from the corner (0, 0) of the x-y face. Returns (vertices, faces); both
    empty when the holes remove everything."""
    sx, sy, sz = (float(v) for v in size)
    holes = [(max(0.0, h[0]), max(0.0, h[1]), min(sx, h[2]), min(sy, h[3])) for h in holes]
    holes = [h for h in holes if h[2] > h[0] and h[3] > h[1]]
    sliver = 1e-3 * min(sx, sy)
    for _ in range(4 * len(holes) + 1):
        xs, ys, solid = _grid(sx, sy, holes)
        bad = _diagonal_contacts(solid)
        if not bad:
            break
        i, j = bad[0]
        x, y = xs[i], ys[j]
        # Shrink one opening that has its corner at this node, away from it.
        for k, (x0, y0, x1, y1) in enumerate(holes):
            if (abs(x0 - x) < 1e-12 or abs(x1 - x) < 1e-12) and (abs(y0 - y) < 1e-12 or abs(y1 - y) < 1e-12):
                nx0 = x0 + sliver if abs(x0 - x) < 1e-12 else x0
                nx1 = x1 - sliver if abs(x1 - x) < 1e-12 else x1
                ny0 = y0 + sliver if abs(y0 - y) < 1e-12 else y0
                ny1 = y1 - sliver if abs(y1 - y) < 1e-12 else y1
                holes[k] = (nx0, ny0, nx1, ny1)
                break
        holes = [h for h in holes if h[2] > h[0] and h[3] > h[1]]
    else:
        xs, ys, solid = _grid(sx, sy, holes)
    return _build_slab(xs, ys, solid, sx, sy, sz)


def _grid(sx: float, sy: float, holes: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    def coords(values: list[float], size: float) -> np.ndarray:
        v = np.unique(np.clip(np.asarray(values, np.float64), 0.0, size))
        keep = np.concatenate([[True], np.diff(v) > 1e-9 * max(size, 1.0)])
        v = v[keep]
        v[-1] = size
        return v

    xs = coords([0.0, sx] + [c for h in holes for c in (h[0], h[2])], sx)
    ys = coords([0.0, sy] + [c for h in holes for c in (h[1], h[3])], sy)
    cx = 0.5 * (xs[:-1] + xs[1:])
    cy = 0.5 * (ys[:-1] + ys[1:])
    solid = np.ones((len(cx), len(cy)), bool)
    for x0, y0, x1, y1 in holes:
        solid &= ~(((cx > x0) & (cx < x1))[:, None] & ((cy > y0) & (cy < y1))[None, :])
    return xs, ys, solid


def _diagonal_contacts(solid: np.ndarray) -> list[tuple[int, int]]:
    """Interior grid nodes where solid cells meet only diagonally."""
    a, b = solid[:-1, :-1], solid[1:, 1:]
    c, d = solid[1:, :-1], solid[:-1, 1:]
    bad = (a & b & ~c & ~d) | (c & d & ~a & ~b)
    return [(int(i) + 1, int(j) + 1) for i, j in zip(*np.nonzero(bad))]


def _build_slab(xs, ys, solid, sx, sy, sz) -> tuple[np.ndarray, np.ndarray]:
    nx, ny = solid.shape
    if not solid.any():
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    # Grid nodes used by solid cells get a front (z+) and a back (z-) vertex.
    used = np.zeros((nx + 1, ny + 1), bool)
    ci, cj = np.nonzero(solid)
    for di in (0, 1):
        for dj in (0, 1):
            used[ci + di, cj + dj] = True
    ui, uj = np.nonzero(used)
    index = -np.ones((nx + 1, ny + 1), np.int64)
    index[ui, uj] = np.arange(ui.size)
    m = ui.size
    xy = np.stack([xs[ui] - sx / 2, ys[uj] - sy / 2], axis=1)
    verts = np.concatenate([np.c_[xy, np.full(m, sz / 2)], np.c_[xy, np.full(m, -sz / 2)]])

    def node(i, j, back=False):
        return index[i, j] + (m if back else 0)

    faces, outward = [], []

    def quad(a, b, c, d, normal):
        faces.extend([(a, b, c), (a, c, d)])
        outward.extend([normal, normal])

    def is_solid(i, j):
        return 0 <= i < nx and 0 <= j < ny and solid[i, j]

    for i, j in zip(ci, cj):
        quad(node(i, j), node(i + 1, j), node(i + 1, j + 1), node(i, j + 1), (0, 0, 1))
        quad(node(i, j, True), node(i, j + 1, True), node(i + 1, j + 1, True), node(i + 1, j, True), (0, 0, -1))
        if not is_solid(i - 1, j):
            quad(node(i, j), node(i, j + 1), node(i, j + 1, True), node(i, j, True), (-1, 0, 0))
        if not is_solid(i + 1, j):
            quad(node(i + 1, j), node(i + 1, j, True), node(i + 1, j + 1, True), node(i + 1, j + 1), (1, 0, 0))
        if not is_solid(i, j - 1):
            quad(node(i, j), node(i, j, True), node(i + 1, j, True), node(i + 1, j), (0, -1, 0))
        if not is_solid(i, j + 1):
            quad(node(i, j + 1), node(i + 1, j + 1), node(i + 1, j + 1, True), node(i, j + 1, True), (0, 1, 0))
    f = np.asarray(faces, np.int64)
    return verts, _orient(verts, f, np.asarray(outward, np.float64))


def box_mesh(size) -> tuple[np.ndarray, np.ndarray]:
    return slab_with_holes(tuple(size), [])


def cylinder_mesh(radius: float, height: float, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Axis along y, centred at the origin; caps are triangle fans."""
    t = 2 * np.pi * np.arange(segments) / segments
    ring = np.stack([radius * np.cos(t), np.zeros(segments), radius * np.sin(t)], axis=1)
    top = ring + (0, height / 2, 0)
    bottom = ring - (0, height / 2, 0)
    verts = np.concatenate([top, bottom, [[0, height / 2, 0], [0, -height / 2, 0]]])
    n = segments
    i = np.arange(n)
    j = (i + 1) % n
    ct, cb = 2 * n, 2 * n + 1
    faces = np.concatenate([
        np.stack([i, j, j + n], 1), np.stack([i, j + n, i + n], 1),
        np.stack([np.full(n, ct), j, i], 1), np.stack([np.full(n, cb), i + n, j + n], 1),
    ]).astype(np.int64)
    return verts, _convex(verts, faces)


def sphere_mesh(radius: float, subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Icosphere: an icosahedron subdivided ``subdivisions`` times."""
    p = (1 + 5 ** 0.5) / 2
    v = [(-1, p, 0), (1, p, 0), (-1, -p, 0), (1, -p, 0), (0, -1, p), (0, 1, p),
         (0, -1, -p), (0, 1, -p), (p, 0, -1), (p, 0, 1), (-p, 0, -1), (-p, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
         (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5),
         (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    verts = [np.asarray(x, np.float64) / np.linalg.norm(x) for x in v]
    faces = f
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    vv = np.asarray(verts) * radius
    ff = np.asarray(faces, np.int64)
    return vv, _orient(vv, ff, vv[ff].mean(axis=1))


def wall_mesh(wall: Wall) -> tuple[np.ndarray, np.ndarray]:
    """Local-frame mesh of a wall with its openings cut through."""
    holes = [(o.u0, o.v0, o.u1, o.v1) for o in wall.openings]
    return slab_with_holes((wall.length, wall.height, wall.thickness), holes)


def local_mesh(prim: Solid) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of a solid in its own frame."""
    if isinstance(prim, Wall):
        return wall_mesh(prim)
    if isinstance(prim, Box):
        return box_mesh(prim.size)
    if isinstance(prim, Plane):
        v, f = box_mesh((prim.size[0], prim.thickness, prim.size[1]))
        return v - (0.0, prim.thickness / 2, 0.0), f
    if isinstance(prim, Cylinder):
        return cylinder_mesh(prim.radius, prim.height, prim.segments)
    if isinstance(prim, Sphere):
        return sphere_mesh(prim.radius, prim.subdivisions)
    raise TypeError(f"cannot mesh {type(prim).__name__}")


def primitive_mesh(prim: Solid) -> Mesh | None:
    """World-space closed mesh of one solid; None if nothing is left (a wall
    whose openings cover it)."""
    v, f = local_mesh(prim)
    if not len(f):
        return None
    return Mesh(prim.to_world(v), f, prim.name or prim.id, prim.id, prim.TYPE)


def layout_meshes(layout: Layout, include_hidden: bool = False) -> list[Mesh]:
    """One closed mesh per solid primitive of the layout, in layout order."""
    out = []
    for p in layout.solids(visible_only=not include_hidden):
        m = primitive_mesh(p)
        if m is not None:
            out.append(m)
    return out


def opening_area(wall: Wall) -> float:
    """Area (world units^2) of the union of a wall's openings within the wall,
    as meshed (for tests and statistics)."""
    holes = [(o.u0, o.v0, o.u1, o.v1) for o in wall.openings]
    holes = [(max(0.0, h[0]), max(0.0, h[1]), min(wall.length, h[2]), min(wall.height, h[3])) for h in holes]
    holes = [h for h in holes if h[2] > h[0] and h[3] > h[1]]
    xs, ys, solid = _grid(wall.length, wall.height, holes)
    cell = np.outer(np.diff(xs), np.diff(ys))
    return float(cell[~solid].sum())


__all__ = [
    "Mesh", "Opening", "box_mesh", "cylinder_mesh", "sphere_mesh", "wall_mesh", "slab_with_holes",
    "local_mesh", "primitive_mesh", "layout_meshes", "opening_area",
]
