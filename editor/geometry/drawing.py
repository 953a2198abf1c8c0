"""Drawing maths for the layout tools (walls, push/pull, openings), Qt-free.

Everything is in the scene's own frame and units (see `editor.model.layout`);
pixels are device pixels of an `editor.model.camera.Camera` (x right, y
down, (0, 0) the top-left corner). The viewport tools in `app.ui.tools` turn
mouse events into calls here and the results into commands.

The drawing plane (`drawing_plane`), in order of preference:

1. the top surface of the layout's floor: the lowest visible `Plane` whose
   role is "floor" (its local +y is the surface normal, flipped towards
   ``layout.up`` if needed), with the grid laid along its own x/z axes;
2. otherwise the plane perpendicular to ``layout.up`` through the scene's
   lowest robust point: the 1st percentile of the splat centres' height
   along up (so a few floaters below the floor do not pull it down), with
   the grid along the world axis most perpendicular to up;
3. otherwise (no splats either) the plane through the origin perpendicular
   to ``layout.up``.

Walls of a chain join at corners without a gap: both walls are extended
past the shared corner point by ``thickness / 2 * tan(turn / 2)`` (`corner_extensions`),
which makes their outer faces meet exactly at the mitre point (90 degrees:
half the thickness); the overlap stays inside the corner. Turns sharper than
`MAX_JOIN_TURN_DEG` are extended as if they turned that much (the spike a
full mitre would need grows without bound).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from editor.geometry.snapping import intersect_plane, pixel_ray, snap_segment, snap_to_grid
from editor.model.camera import Camera
from editor.model.layout import (
    MIN_SIZE,
    Cylinder,
    Layout,
    LayoutError,
    Opening,
    Plane,
    Solid,
    Sphere,
    Wall,
    frame_from_axes,
    quat_to_matrix,
)

#: Angle snapping step of a wall segment's heading (degrees).
ANGLE_STEP_DEG = 15.0
#: Corners turning more than this are joined as if they turned this much.
MAX_JOIN_TURN_DEG = 135.0
#: Default wall height and thickness for scenes in metre-like units.
DEFAULT_WALL_HEIGHT = 2.5
DEFAULT_WALL_THICKNESS = 0.15
#: Scene sizes (robust bounding-box diagonal, world units) taken to be metres.
METRIC_SCENE_RANGE = (3.75, 100.0)
#: A face drag whose normal is within this angle of the view ray is measured
#: in screen space (the closest point between two nearly parallel lines is
#: ill-conditioned).
ALONG_VIEW_DEG = 10.0
#: Openings: minimum size and the bottom snap distance, as fractions of the wall's height.
OPENING_MIN_FRACTION = 0.04
DOOR_SNAP_FRACTION = 0.1


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    n = float(np.linalg.norm(v))
    if n < 1e-12:
        raise ValueError("zero vector")
    return v / n


def _round_sig(x: float, digits: int = 2) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def nice_step(size: float) -> float:
    """The 1-2-5 number (…, 0.1, 0.2, 0.5, 1, 2, …) nearest to ``size`` in
    log scale: grid steps people can read. ``size`` > 0, world units."""
    if not (size > 0 and math.isfinite(size)):
        raise ValueError("grid size must be positive and finite")
    k = math.floor(math.log10(size))
    best = min((m * 10.0**e for e in (k - 1, k, k + 1) for m in (1.0, 2.0, 5.0)),
               key=lambda s: abs(math.log(s / size)))
    return float(_round_sig(best, 1))


# ---------------------------------------------------------------- scene scale
def _sample(positions: np.ndarray | None, max_samples: int = 200_000) -> np.ndarray | None:
    if positions is None:
        return None
    p = np.asarray(positions, np.float64).reshape(-1, 3)
    if p.shape[0] > max_samples:
        p = p[:: p.shape[0] // max_samples + 1]
    p = p[np.isfinite(p).all(axis=1)]
    return p if p.shape[0] else None


def scene_extent(positions: np.ndarray | None, layout: Layout | None = None) -> float | None:
    """Size of the scene (world units): the diagonal of the 1st-99th
    percentile box of the splat centres (N, 3), else of the layout's visible
    solids' bounds; None when there is neither (or it is degenerate)."""
    p = _sample(positions)
    if p is not None and p.shape[0] >= 2:
        d = float(np.linalg.norm(np.percentile(p, 99, axis=0) - np.percentile(p, 1, axis=0)))
        if d > 0:
            return d
    if layout is not None:
        solids = layout.solids(visible_only=True)
        if solids:
            lo = np.min([s.world_bounds()[0] for s in solids], axis=0)
            hi = np.max([s.world_bounds()[1] for s in solids], axis=0)
            d = float(np.linalg.norm(hi - lo))
            if d > 0:
                return d
    return None


def grid_step_for(extent: float | None) -> float:
    """Default grid step: about 1 % of the scene size, as a 1-2-5 number
    (0.1 for a room of ~8 units); 0.1 when the size is unknown."""
    return nice_step(extent / 100.0) if extent else 0.1


def wall_defaults(layout: Layout, extent: float | None) -> tuple[float, float]:
    """(height, thickness) for new walls, world units: the median of the
    layout's existing walls when it has any (a fitted room's real height);
    else 2.5 / 0.15 when the scene's size is metre-like (`METRIC_SCENE_RANGE`,
    a room or a house scanned in metres); else a quarter of the scene size
    and 6 % of that, to two significant digits (tiny object scans, huge
    terrains in other units)."""
    walls = [p for p in layout if isinstance(p, Wall)]
    if walls:
        return (float(np.median([w.height for w in walls])), float(np.median([w.thickness for w in walls])))
    if extent is None or METRIC_SCENE_RANGE[0] <= extent <= METRIC_SCENE_RANGE[1]:
        return DEFAULT_WALL_HEIGHT, DEFAULT_WALL_THICKNESS
    height = max(_round_sig(0.25 * extent), MIN_SIZE)
    return height, max(_round_sig(0.06 * height), MIN_SIZE)


# ---------------------------------------------------------------- drawing plane
@dataclass(frozen=True)
class DrawingPlane:
    """The plane walls are drawn on. ``origin`` (3,) is a point on it (the
    grid's origin); ``rotation`` (3, 3) has the grid's x axis, the plane's
    normal (its "up") and the grid's z axis as columns; ``source`` says
    where it came from ("floor <id>", "splats" or "default")."""

    origin: np.ndarray
    rotation: np.ndarray
    source: str

    @property
    def normal(self) -> np.ndarray:
        return self.rotation[:, 1]

    def intersect(self, ray_origin: np.ndarray, ray_direction: np.ndarray) -> np.ndarray | None:
        """Where a ray hits the plane (3,); None when parallel or behind."""
        return intersect_plane(np.asarray(ray_origin, np.float64), np.asarray(ray_direction, np.float64),
                               self.origin, self.normal)

    def snap(self, point: np.ndarray, step: float) -> np.ndarray:
        """The grid node (3,) nearest to ``point`` (on the plane), step in world units."""
        return snap_to_grid(point, step, self.origin, self.rotation, axes=(True, False, True))


def _grid_axis(up: np.ndarray) -> np.ndarray:
    return np.eye(3)[int(np.argmin(np.abs(up)))]


def drawing_plane(layout: Layout, positions: np.ndarray | None = None) -> DrawingPlane:
    """The plane the wall tool draws on (see the module docstring for the
    rule). ``positions``: the shown splat centres (N, 3), or None."""
    up = _unit(layout.up)
    floors = [p for p in layout if isinstance(p, Plane) and p.role == "floor" and p.visible]
    if floors:
        floor = min(floors, key=lambda f: float(np.dot(f.position, up)))
        r = floor.rotation_matrix()
        if float(r[:, 1] @ up) < 0:  # a floor facing down: keep the grid, flip the normal
            r = r @ np.diag([1.0, -1.0, -1.0])
        return DrawingPlane(np.asarray(floor.position, np.float64), r, f"floor {floor.id}")
    r = quat_to_matrix(frame_from_axes(_grid_axis(up), up))
    p = _sample(positions)
    if p is not None:
        h = float(np.percentile(p @ up, 1.0))
        return DrawingPlane(up * h, r, "splats")
    return DrawingPlane(np.zeros(3), r, "default")


# ---------------------------------------------------------------- walls
def segment_end(
    plane: DrawingPlane,
    start: np.ndarray,
    point: np.ndarray,
    grid_step: float | None = None,
    angle_step_deg: float | None = None,
) -> np.ndarray:
    """Where a wall segment drawn from ``start`` towards the cursor's
    ``point`` (both (3,) on the plane) ends. ``angle_step_deg``: its heading
    snaps to multiples of that angle from the grid's x axis (and its length
    to ``grid_step`` when given); without it, ``grid_step`` snaps the end to
    the nearest grid node."""
    start, point = np.asarray(start, np.float64), np.asarray(point, np.float64)
    if angle_step_deg:
        return snap_segment(start, point, plane.normal, angle_step_deg, plane.rotation[:, 0], grid_step)
    if grid_step:
        return plane.snap(point, grid_step)
    return point


def heading(start: np.ndarray, end: np.ndarray, up: np.ndarray) -> np.ndarray | None:
    """Unit direction (3,) from ``start`` to ``end`` projected on the plane
    perpendicular to ``up``; None when they coincide there."""
    d = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    u = _unit(up)
    d = d - u * float(d @ u)
    n = float(np.linalg.norm(d))
    return None if n < MIN_SIZE else d / n


def turn_angle(dir_in: np.ndarray, dir_out: np.ndarray) -> float:
    """Angle (radians, 0 .. pi) a path turns by at a corner: 0 straight on."""
    c = float(np.clip(np.dot(_unit(dir_in), _unit(dir_out)), -1.0, 1.0))
    return math.acos(c)


def corner_extensions(dir_in: np.ndarray, dir_out: np.ndarray, thickness_in: float, thickness_out: float,
                      max_turn_deg: float = MAX_JOIN_TURN_DEG) -> tuple[float, float]:
    """How far (world units, >= 0) the wall arriving at a corner along
    ``dir_in`` and the one leaving along ``dir_out`` must reach past the
    corner point for their outer faces to meet (no gap at the outer corner):
    with a = ``thickness_in`` / 2, b = ``thickness_out`` / 2 and the turn
    angle t (capped at ``max_turn_deg``), ((b - a cos t) / sin t,
    (a - b cos t) / sin t), each at least 0; for equal thicknesses both are
    ``thickness / 2 * tan(t / 2)`` (half the thickness at a right angle)."""
    turn = min(turn_angle(dir_in, dir_out), math.radians(max_turn_deg))
    if turn < 1e-9:
        return 0.0, 0.0
    a, b = 0.5 * float(thickness_in), 0.5 * float(thickness_out)
    c, s = math.cos(turn), math.sin(turn)
    return max((b - a * c) / s, 0.0), max((a - b * c) / s, 0.0)


def wall_between(start: np.ndarray, end: np.ndarray, up: np.ndarray, height: float, thickness: float,
                 name: str = "Wall", extend_start: float = 0.0, extend_end: float = 0.0) -> Wall:
    """A wall (id "": `AddPrimitive` assigns one) whose base centre line runs
    from ``start`` to ``end`` (3,) on the floor, standing along ``up``,
    lengthened past its ends by ``extend_start`` / ``extend_end`` (corner
    joins). Raises LayoutError when the points coincide."""
    d = heading(start, end, up)
    if d is None:
        raise LayoutError("wall start and end are the same point")
    a = np.asarray(start, np.float64) - d * extend_start
    b = np.asarray(end, np.float64) + d * extend_end
    return Wall.from_endpoints("", a, b, up, height=height, thickness=thickness, name=name)


def chain_walls(points: Sequence[np.ndarray], up: np.ndarray, height: float, thickness: float,
                closed: bool = False) -> list[Wall]:
    """The walls of a polyline ``points`` (K, 3) drawn on the floor, joined
    at every inner corner (and, ``closed``, also between the last and the
    first wall): all at once what the wall tool builds click by click (the
    tests hold the tool to it)."""
    pts = [np.asarray(p, np.float64) for p in points]
    segs = list(zip(pts[:-1], pts[1:]))
    if closed and len(pts) >= 3:
        segs.append((pts[-1], pts[0]))
    dirs = [heading(a, b, up) for a, b in segs]
    if any(d is None for d in dirs):
        raise LayoutError("two consecutive wall points are the same point")
    n = len(segs)
    ext = [0.0] * n  # extension at the end of segment i (= at the start of segment i + 1)
    for i in range(n if closed and n >= 3 else n - 1):
        ext[i] = corner_extensions(dirs[i], dirs[(i + 1) % n], thickness, thickness)[0]
    out = []
    for i, (a, b) in enumerate(segs):
        before = ext[i - 1] if (i > 0 or (closed and n >= 3)) else 0.0
        out.append(wall_between(a, b, up, height, thickness, extend_start=before, extend_end=ext[i]))
    return out


# ---------------------------------------------------------------- push / pull
def _line_param(point: np.ndarray, direction: np.ndarray, ray_origin: np.ndarray, ray_dir: np.ndarray) -> float | None:
    """Parameter s of the point on the line ``point + s * direction`` closest
    to the ray; None when the two are (nearly) parallel."""
    w0 = point - ray_origin
    b = float(direction @ ray_dir)
    denom = 1.0 - b * b
    if denom < 1e-9:
        return None
    return (b * float(ray_dir @ w0) - float(direction @ w0)) / denom


@dataclass(frozen=True)
class FaceDrag:
    """Dragging a face along its outward ``normal`` (3,) from ``point`` (3,),
    the spot that was grabbed at ``start_pixel`` (2,).

    The distance follows the cursor: the point on the line through ``point``
    along ``normal`` closest to the cursor's ray, minus where the grab ray
    lands (so the face does not jump on the first move). When the normal
    points (nearly) along the view ray (`ALONG_VIEW_DEG`), that closest point
    is ill-conditioned, so the drag is measured on screen instead: moving the
    cursor up by one pixel moves the face by one pixel's size at the face's
    depth, towards the camera."""

    point: np.ndarray
    normal: np.ndarray
    start_pixel: np.ndarray
    along_view: bool

    @classmethod
    def start(cls, camera: Camera, point: np.ndarray, normal: np.ndarray, pixel: Sequence[float]) -> "FaceDrag":
        point, normal = np.asarray(point, np.float64), _unit(normal)
        _, d = pixel_ray(camera, pixel)
        along = abs(float(d @ normal)) > math.cos(math.radians(ALONG_VIEW_DEG))
        return cls(point, normal, np.asarray(pixel, np.float64), along)

    def distance(self, camera: Camera, pixel: Sequence[float]) -> float:
        """Signed distance (world units, > 0 outwards) for the cursor at ``pixel``."""
        if self.along_view:
            depth = float(camera.world_to_camera(self.point[None])[0, 2])
            towards = 1.0 if float(self.normal @ (camera.eye - self.point)) > 0 else -1.0
            return towards * (self.start_pixel[1] - float(pixel[1])) * max(depth, 1e-9) / camera.fy
        o0, d0 = pixel_ray(camera, self.start_pixel)
        o, d = pixel_ray(camera, pixel)
        s0 = _line_param(self.point, self.normal, o0, d0)
        s = _line_param(self.point, self.normal, o, d)
        if s is None or s0 is None:
            return 0.0
        return s - s0


def snap_distance(distance: float, step: float) -> float:
    """``distance`` rounded to a multiple of ``step`` (> 0)."""
    return round(distance / step) * step


def distance_to_point(point: np.ndarray, normal: np.ndarray, target: np.ndarray) -> float:
    """How far a face through ``point`` must move along ``normal`` to reach
    the plane through ``target`` (e.g. a splat surface under the cursor)."""
    return float((np.asarray(target, np.float64) - np.asarray(point, np.float64)) @ _unit(normal))


# ---------------------------------------------------------------- openings
def wall_uv(wall: Wall, point: np.ndarray) -> np.ndarray:
    """Wall coordinates (u along the wall from its start end, v up from its
    base; (2,) world units) of a world point (3,)."""
    local = wall.to_local(np.asarray(point, np.float64)[None])[0]
    return np.array([local[0] + 0.5 * wall.length, local[1] + 0.5 * wall.height])


def wall_face_point(wall: Wall, uv: Sequence[float], face: str) -> np.ndarray:
    """World point (3,) at wall coordinates ``uv`` on the ``face`` ("+z" or "-z")."""
    z = 0.5 * wall.thickness * (1.0 if face == "+z" else -1.0)
    local = np.array([[uv[0] - 0.5 * wall.length, uv[1] - 0.5 * wall.height, z]])
    return wall.to_world(local)[0]


def opening_from_rect(wall: Wall, uv_a: Sequence[float], uv_b: Sequence[float],
                      grid_step: float | None = None) -> Opening | None:
    """The opening a rectangle dragged on a wall's face from ``uv_a`` to
    ``uv_b`` (wall coordinates) cuts: corners snapped to ``grid_step`` when
    given, clamped inside the wall; a rectangle starting within
    `DOOR_SNAP_FRACTION` of the wall's height above its base reaches down to
    the base and is a "door", any other a "window". None when either side is
    shorter than `OPENING_MIN_FRACTION` of the wall's height."""
    u = sorted((float(uv_a[0]), float(uv_b[0])))
    v = sorted((float(uv_a[1]), float(uv_b[1])))
    if grid_step:
        u = [snap_distance(x, grid_step) for x in u]
        v = [snap_distance(x, grid_step) for x in v]
    u = [min(max(x, 0.0), wall.length) for x in u]
    v = [min(max(x, 0.0), wall.height) for x in v]
    kind = "window"
    if v[0] <= DOOR_SNAP_FRACTION * wall.height:
        v[0], kind = 0.0, "door"
    least = max(OPENING_MIN_FRACTION * wall.height, MIN_SIZE)
    if u[1] - u[0] < least or v[1] - v[0] < least:
        return None
    return Opening(u[0], v[0], u[1], v[1], kind)


def opening_edges_at(opening: Opening, uv: Sequence[float], tolerance: float) -> tuple[str, ...] | None:
    """Which edges of ``opening`` the wall point ``uv`` (wall coordinates) is
    within ``tolerance`` (world units) of: e.g. ("u1",) on its right edge,
    ("u1", "v1") at its top right corner, () well inside it; None when it is
    outside the opening (farther than ``tolerance`` from it)."""
    u, v = float(uv[0]), float(uv[1])
    o = opening
    if not (o.u0 - tolerance <= u <= o.u1 + tolerance and o.v0 - tolerance <= v <= o.v1 + tolerance):
        return None
    near = {"u0": abs(u - o.u0), "u1": abs(u - o.u1), "v0": abs(v - o.v0), "v1": abs(v - o.v1)}
    edges = []
    for axis in ("u", "v"):
        lo, hi = near[f"{axis}0"], near[f"{axis}1"]
        if min(lo, hi) <= tolerance:
            edges.append(f"{axis}0" if lo <= hi else f"{axis}1")
    return tuple(edges)


def resized_opening(wall: Wall, opening: Opening, edges: Sequence[str], uv: Sequence[float],
                    grid_step: float | None = None) -> Opening | None:
    """``opening`` with its ``edges`` ("u0", "v0", "u1", "v1") moved to
    the wall point ``uv`` (snapped to ``grid_step`` when given), the others
    where they were; clamped inside the wall. Moving the bottom edge near
    the base makes it a door reaching the base, moving a door's bottom up
    makes it a window (as `opening_from_rect`). None when it would be
    thinner than the minimum size."""
    box = {"u0": opening.u0, "v0": opening.v0, "u1": opening.u1, "v1": opening.v1}
    for e in edges:
        value = float(uv[0] if e[0] == "u" else uv[1])
        box[e] = snap_distance(value, grid_step) if grid_step else value
    u0, u1 = sorted((min(max(box["u0"], 0.0), wall.length), min(max(box["u1"], 0.0), wall.length)))
    v0, v1 = sorted((min(max(box["v0"], 0.0), wall.height), min(max(box["v1"], 0.0), wall.height)))
    kind = opening.kind
    if "v0" in edges:
        if v0 <= DOOR_SNAP_FRACTION * wall.height:
            v0, kind = 0.0, "door"
        elif kind == "door":
            kind = "window"
    least = max(OPENING_MIN_FRACTION * wall.height, MIN_SIZE)
    if u1 - u0 < least or v1 - v0 < least:
        return None
    return Opening(u0, v0, u1, v1, kind)


# ---------------------------------------------------------------- outlines
def local_box(solid: Solid) -> tuple[np.ndarray, np.ndarray]:
    """Local-space corners (lo (3,), hi (3,)) of the solid's body (a plane's
    slab lies below its surface, y in [-thickness, 0])."""
    if isinstance(solid, Plane):
        return (np.array([-0.5 * solid.size[0], -solid.thickness, -0.5 * solid.size[1]]),
                np.array([0.5 * solid.size[0], 0.0, 0.5 * solid.size[1]]))
    h = solid.half_extents()
    return -h, h


_BOX_EDGES = [(0, 1), (1, 3), (3, 2), (2, 0), (4, 5), (5, 7), (7, 6), (6, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def _circle(centre_y: float, radius: float, segments: int, plane: str = "xz") -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    c, s = radius * np.cos(t), radius * np.sin(t)
    zero = np.full_like(t, centre_y)
    if plane == "xz":
        return np.stack([c, zero, s], 1)
    if plane == "xy":
        return np.stack([c, s, zero], 1)
    return np.stack([zero, c, s], 1)


def solid_edges(solid: Solid) -> list[np.ndarray]:
    """The solid's wireframe as world polylines [(K, 3), ...] (closed ones
    repeat their first point): box-like solids their 12 edges, cylinders their
    two rims and four sides, spheres three great circles."""
    if isinstance(solid, Cylinder):
        h = 0.5 * solid.height
        lines = [_closed(_circle(y, solid.radius, 48)) for y in (-h, h)]
        lines += [np.array([[x, -h, z], [x, h, z]]) for x, z in
                  ((solid.radius, 0), (-solid.radius, 0), (0, solid.radius), (0, -solid.radius))]
    elif isinstance(solid, Sphere):
        lines = [_closed(_circle(0.0, solid.radius, 48, p)) for p in ("xz", "xy", "yz")]
    else:
        lo, hi = local_box(solid)
        corners = np.array([[(lo, hi)[i >> 2 & 1][0], (lo, hi)[i >> 1 & 1][1], (lo, hi)[i & 1][2]] for i in range(8)])
        lines = [corners[[a, b]] for a, b in _BOX_EDGES]
    return [solid.to_world(line) for line in lines]


def _closed(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, points[:1]])


def face_outline(solid: Solid, face: str) -> list[np.ndarray]:
    """World polylines [(K, 3), ...] (closed) around ``face`` of ``solid``
    (a name from ``solid.FACES``), for highlighting it."""
    if isinstance(solid, Cylinder):
        h = 0.5 * solid.height
        ys = {"+y": (h,), "-y": (-h,), "side": (-h, h)}[face]
        return [solid.to_world(_closed(_circle(y, solid.radius, 48))) for y in ys]
    if isinstance(solid, Sphere):
        return solid_edges(solid)
    axis, sign = {"x": 0, "y": 1, "z": 2}[face[1]], face[0]
    lo, hi = local_box(solid)
    a, b = [i for i in range(3) if i != axis]
    quad = np.zeros((4, 3))
    quad[:, axis] = hi[axis] if sign == "+" else lo[axis]
    quad[:, a] = [lo[a], hi[a], hi[a], lo[a]]
    quad[:, b] = [lo[b], lo[b], hi[b], hi[b]]
    return [solid.to_world(_closed(quad))]


def opening_outline(wall: Wall, opening: Opening, face: str) -> np.ndarray:
    """World polyline (5, 3) (closed) of ``opening``'s rectangle on ``face`` of ``wall``."""
    corners = [(opening.u0, opening.v0), (opening.u1, opening.v0), (opening.u1, opening.v1), (opening.u0, opening.v1)]
    pts = np.array([wall_face_point(wall, uv, face) for uv in corners])
    return _closed(pts)


def project_polylines(camera: Camera, polylines: Iterable[np.ndarray], near: float | None = None) -> np.ndarray:
    """World polylines [(K, 3), ...] -> their pixel segments (M, 2, 2), each
    segment clipped to the part in front of the camera (depth >= ``near``,
    default 0.1 % of the eye-target distance)."""
    if near is None:
        near = 1e-3 * float(np.linalg.norm(camera.target - camera.eye))
    segs = []
    for line in polylines:
        line = np.asarray(line, np.float64)
        if line.shape[0] < 2:
            continue
        segs.append(np.stack([line[:-1], line[1:]], 1))
    if not segs:
        return np.zeros((0, 2, 2))
    s = np.concatenate(segs)  # (M, 2, 3) world
    pc = camera.world_to_camera(s.reshape(-1, 3)).reshape(-1, 2, 3)
    za, zb = pc[:, 0, 2], pc[:, 1, 2]
    keep = (za >= near) | (zb >= near)
    pc, za, zb = pc[keep], za[keep], zb[keep]
    # Move the endpoint behind the near plane onto it.
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(za < near, (near - za) / (zb - za), np.where(zb < near, (near - zb) / (za - zb), 0.0))
    a = np.where((za < near)[:, None], pc[:, 0] + t[:, None] * (pc[:, 1] - pc[:, 0]), pc[:, 0])
    b = np.where((zb < near)[:, None], pc[:, 1] + t[:, None] * (pc[:, 0] - pc[:, 1]), pc[:, 1])
    out = np.stack([a, b], 1)
    px = camera.fx * out[..., 0] / out[..., 2] + camera.cx
    py = camera.fy * out[..., 1] / out[..., 2] + camera.cy
    return np.stack([px, py], -1)


def project_point(camera: Camera, point: np.ndarray) -> np.ndarray | None:
    """Pixel (2,) of a world point, None when it is behind the camera."""
    uv, z = camera.project(np.asarray(point, np.float64)[None])
    return uv[0] if z[0] > 1e-9 else None

