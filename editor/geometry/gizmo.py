"""Transform gizmo maths: the screen-space handles of the move / rotate /
scale gizmos, hit testing a pixel against them, and a mouse drag turned into
a constrained transform (with optional snapping).

Units: 3D in world units (the scene frame), 2D in device pixels as `Camera`
projects them (pixel (0, 0) top-left, y down), angles in radians unless a
name says degrees. The gizmo keeps a constant on-screen size: its arrows are
``size_px`` long whatever the distance, so the world length of a handle is
``size_px * depth / fy`` (depth: the pivot's camera-space z).

Handles (names are what `hit_test` returns and `GizmoDrag` takes):

* move: "x", "y", "z" arrows; "xy", "yz", "zx" plane squares (coloured
  after the axis they do not contain, as in Blender); "free" centre disc
  (moves in the view plane);
* rotate: "x", "y", "z" rings (only the half facing the camera is drawn and
  pickable); "view" ring around the view axis;
* scale: "x", "y", "z" handles with square ends; "uniform" centre disc.

A drag (`GizmoDrag`) is fixed at the press: the handle, the gizmo's pivot and
axes, and the press pixel. `GizmoDrag.update(pixel)` returns the whole
transform since the press (`DragResult`): translation along the constrained
axis / plane (the point of the axis closest to the mouse ray, or the mouse
ray's hit with the plane, minus the same at the press), rotation about the
handle's axis from the mouse's angle around the projected pivot, or scale
factors from the ratio of distances along the axis. With a `Snapping`, the
translation moves in whole grid steps, angles in ``angle_deg`` steps and
scale factors in ``scale`` steps (relative to the press, like Blender's
increment snapping).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from editor.geometry.snapping import pixel_ray, snap_angle
from editor.model.camera import Camera

MOVE, ROTATE, SCALE = "move", "rotate", "scale"
MODES = (MOVE, ROTATE, SCALE)
AXIS_NAMES = ("x", "y", "z")
#: Plane handle -> the two gizmo axes it spans (its normal is the third).
PLANES = {"xy": (0, 1), "yz": (1, 2), "zx": (2, 0)}
#: Neutral colour index of `Handle.colour` (free move, view ring, uniform scale).
NEUTRAL = -1
#: Smallest scale factor a drag produces (shapes never flip or vanish).
MIN_FACTOR = 0.01
#: Rings tilted more than this from edge-on (|axis . view| >= it) rotate by
#: the mouse's angle around the pivot; flatter ones by the mouse's travel
#: along the ring's front tangent (the angle around the pivot is unstable there).
CIRCULAR_MIN_TILT = 0.25

# Handle layout, as fractions of the arrow length.
_SHAFT_START = 0.2
_PLANE_NEAR, _PLANE_FAR = 0.25, 0.45
_VIEW_RING = 1.2
# Screen-space details, device pixels.
_HEAD_LENGTH, _HEAD_HALF_WIDTH = 14.0, 5.0
_CUBE_HALF = 5.0
_FREE_RADIUS, _UNIFORM_RADIUS = 8.0, 10.0
_MIN_AXIS_PX = 12.0  # an axis pointing (almost) at the camera is hidden
_MIN_PLANE_AREA_PX = 40.0  # a plane handle seen (almost) edge-on is hidden
_RING_SAMPLES = 96


@dataclass(frozen=True)
class Snapping:
    """Snap increments used while Ctrl is held."""

    translate: float = 0.1  # world units
    angle_deg: float = 15.0
    scale: float = 0.1  # of the scale factor

    def __post_init__(self) -> None:
        for name in ("translate", "angle_deg", "scale"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"snap {name} must be a positive number, got {v}")
            object.__setattr__(self, name, v)


class GizmoView:
    """The gizmo as seen by one camera: ``pivot`` (3,) world point,
    ``axes`` (3, 3) whose columns are the gizmo's unit x, y, z axes in world
    coordinates (identity: world axes; a primitive's rotation matrix: its
    local axes), ``size_px`` the on-screen arrow length in device pixels."""

    def __init__(self, pivot, axes, camera: Camera, size_px: float = 100.0):
        self.pivot = np.asarray(pivot, np.float64).reshape(3)
        self.axes = np.asarray(axes, np.float64).reshape(3, 3)
        self.camera = camera
        self.size_px = float(size_px)
        self.depth = float(camera.world_to_camera(self.pivot[None])[0, 2])

    @property
    def visible(self) -> bool:
        """False when the pivot is behind (or at) the camera: nothing to draw."""
        return self.depth > 1e-9

    @property
    def world_per_px(self) -> float:
        """World units one device pixel spans at the pivot's depth."""
        return self.depth / self.camera.fy

    @property
    def length(self) -> float:
        """World length of an arrow (``size_px`` on screen)."""
        return self.size_px * self.world_per_px

    @property
    def centre_px(self) -> np.ndarray:
        """The projected pivot (2,)."""
        return self.project(self.pivot[None])[0]

    @property
    def to_eye(self) -> np.ndarray:
        """Unit vector (3,) from the pivot towards the camera."""
        d = self.camera.eye - self.pivot
        return d / max(float(np.linalg.norm(d)), 1e-300)

    def axis(self, i: int) -> np.ndarray:
        return self.axes[:, i]

    def project(self, points) -> np.ndarray:
        """(N, 3) world points -> (N, 2) device pixels."""
        return self.camera.project(np.asarray(points, np.float64).reshape(-1, 3))[0]

    def ray(self, pixel) -> tuple[np.ndarray, np.ndarray]:
        return pixel_ray(self.camera, pixel)


# ---------------------------------------------------------------- handles
@dataclass(frozen=True)
class Handle:
    """One pickable part of the gizmo in device pixels: open ``lines``
    (each (K, 2)), filled ``polygons`` (each (K, 2)), ``discs`` (cx, cy, r)."""

    name: str
    colour: int  # 0, 1, 2: the x, y, z axis colour; NEUTRAL: white
    lines: tuple[np.ndarray, ...] = ()
    polygons: tuple[np.ndarray, ...] = ()
    discs: tuple[tuple[float, float, float], ...] = ()

    def distance(self, pixel) -> float:
        """Pixel distance from ``pixel`` (2,) to the handle (0 inside a polygon or disc)."""
        p = np.asarray(pixel, np.float64)
        best = math.inf
        for line in self.lines:
            best = min(best, _polyline_distance(p, line))
        for poly in self.polygons:
            best = min(best, 0.0 if _inside(p, poly) else _polyline_distance(p, np.vstack([poly, poly[:1]])))
        for cx, cy, r in self.discs:
            best = min(best, max(0.0, math.hypot(p[0] - cx, p[1] - cy) - r))
        return best


def _polyline_distance(p: np.ndarray, line: np.ndarray) -> float:
    if len(line) == 1:
        return float(np.linalg.norm(p - line[0]))
    a, b = line[:-1], line[1:]
    ab = b - a
    den = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-300)
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / den, 0.0, 1.0)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab - p, axis=1)))


def _inside(p: np.ndarray, poly: np.ndarray) -> bool:
    """Even-odd rule."""
    x, y = p
    inside = False
    n = len(poly)
    for i in range(n):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % n]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _screen_axis(view: GizmoView, i: int, start: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Projected shaft of axis ``i`` from ``start`` to 1 arrow length: (start
    px, end px, unit screen direction), or None when it points (almost) at
    the camera or leaves the space in front of it."""
    a = view.axis(i)
    ends = view.pivot + np.outer([start, 1.0], a) * view.length
    if np.any(view.camera.world_to_camera(ends)[:, 2] <= 1e-9):
        return None
    s, e = view.project(ends)
    c = view.centre_px
    if np.linalg.norm(e - c) < _MIN_AXIS_PX:
        return None
    d = (e - c) / np.linalg.norm(e - c)
    return s, e, d


def ring_points(view: GizmoView, axis, radius: float, samples: int = _RING_SAMPLES) -> np.ndarray:
    """(samples, 3) world points of the circle of ``radius`` around the pivot
    in the plane perpendicular to the unit ``axis``."""
    a = np.asarray(axis, np.float64)
    helper = np.eye(3)[int(np.argmin(np.abs(a)))]
    u = np.cross(a, helper)
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    t = 2 * np.pi * np.arange(samples) / samples
    return view.pivot + radius * (np.outer(np.cos(t), u) + np.outer(np.sin(t), v))


def _front_arcs(view: GizmoView, points: np.ndarray) -> tuple[np.ndarray, ...]:
    """The runs of a closed 3D polyline on the camera's side of the pivot,
    projected (each (K, 2))."""
    radius = float(np.linalg.norm(points[0] - view.pivot))
    front = (points - view.pivot) @ view.to_eye >= -1e-9 * radius  # a ring facing the camera is all front
    front &= view.camera.world_to_camera(points)[:, 2] > 1e-9
    n = len(points)
    if front.all():
        px = view.project(points)
        return (np.vstack([px, px[:1]]),)
    if not front.any():
        return ()
    start = int(np.flatnonzero(~front)[0])  # walk from a back point so runs do not wrap
    arcs, run = [], []
    for k in range(1, n + 1):
        i = (start + k) % n
        if front[i]:
            run.append(i)
        elif run:
            arcs.append(run)
            run = []
    if run:
        arcs.append(run)
    return tuple(view.project(points[r]) for r in arcs if len(r) > 1)


def handles(view: GizmoView, mode: str, axes: tuple[bool, bool, bool] = (True, True, True),
            planes: bool = True) -> list[Handle]:
    """The handles of the ``mode`` gizmo ("move", "rotate", "scale"), in
    device pixels. ``axes`` leaves out axis handles (e.g. splats only scale
    uniformly: all False); ``planes`` (move) the plane handles. Empty when
    the pivot is behind the camera."""
    if mode not in MODES:
        raise ValueError(f"gizmo mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not view.visible:
        return []
    out: list[Handle] = []
    c = view.centre_px
    if mode == MOVE:
        for i in range(3):
            shaft = _screen_axis(view, i, _SHAFT_START) if axes[i] else None
            if shaft is None:
                continue
            s, e, d = shaft
            n = np.array([-d[1], d[0]])
            base = e - _HEAD_LENGTH * d
            head = np.array([e, base + _HEAD_HALF_WIDTH * n, base - _HEAD_HALF_WIDTH * n])
            out.append(Handle(AXIS_NAMES[i], i, lines=(np.array([s, base]),), polygons=(head,)))
        if planes:
            for name, (i, j) in PLANES.items():
                a, b = view.axis(i) * view.length, view.axis(j) * view.length
                corners = view.pivot + np.array([
                    _PLANE_NEAR * a + _PLANE_NEAR * b, _PLANE_FAR * a + _PLANE_NEAR * b,
                    _PLANE_FAR * a + _PLANE_FAR * b, _PLANE_NEAR * a + _PLANE_FAR * b])
                if np.any(view.camera.world_to_camera(corners)[:, 2] <= 1e-9):
                    continue
                poly = view.project(corners)
                if _polygon_area(poly) < _MIN_PLANE_AREA_PX:
                    continue
                out.append(Handle(name, 3 - i - j, polygons=(poly,)))
        out.append(Handle("free", NEUTRAL, discs=((float(c[0]), float(c[1]), _FREE_RADIUS),)))
    elif mode == ROTATE:
        for i in range(3):
            if not axes[i]:
                continue
            arcs = _front_arcs(view, ring_points(view, view.axis(i), view.length))
            if arcs:
                out.append(Handle(AXIS_NAMES[i], i, lines=arcs))
        t = 2 * np.pi * np.arange(_RING_SAMPLES + 1) / _RING_SAMPLES
        ring = c + _VIEW_RING * view.size_px * np.stack([np.cos(t), np.sin(t)], axis=1)
        out.append(Handle("view", NEUTRAL, lines=(ring,)))
    else:
        for i in range(3):
            shaft = _screen_axis(view, i, _SHAFT_START) if axes[i] else None
            if shaft is None:
                continue
            s, e, d = shaft
            n = np.array([-d[1], d[0]])
            h = _CUBE_HALF
            cube = np.array([e + h * (d + n), e + h * (d - n), e - h * (d + n), e - h * (d - n)])
            out.append(Handle(AXIS_NAMES[i], i, lines=(np.array([s, e - h * d]),), polygons=(cube,)))
        out.append(Handle("uniform", NEUTRAL, discs=((float(c[0]), float(c[1]), _UNIFORM_RADIUS),)))
    return out


def hit_test(handle_list: list[Handle], pixel, tolerance_px: float = 8.0) -> str | None:
    """Name of the handle nearest to ``pixel`` (2,) within ``tolerance_px``
    device pixels, or None."""
    best, name = tolerance_px, None
    for h in handle_list:
        d = h.distance(pixel)
        if d <= best:
            best, name = d, h.name
    return name


# ---------------------------------------------------------------- drag maths
def closest_on_axis(point, axis, ray_origin, ray_direction) -> float | None:
    """Parameter s (world units along the unit ``axis``) of the point of the
    line ``point + s axis`` closest to the ray; None when they are (almost)
    parallel (the mouse cannot say where along the axis it is)."""
    a = np.asarray(axis, np.float64)
    d = np.asarray(ray_direction, np.float64)
    d = d / np.linalg.norm(d)
    w = np.asarray(point, np.float64) - np.asarray(ray_origin, np.float64)
    b = float(a @ d)
    den = 1.0 - b * b
    if den < 1e-6:
        return None
    return (b * float(d @ w) - float(a @ w)) / den


def plane_hit(point, normal, ray_origin, ray_direction) -> np.ndarray | None:
    """Where the (infinite, both ways) line of the ray meets the plane through
    ``point`` with ``normal`` (3,); None when (almost) parallel."""
    n = np.asarray(normal, np.float64)
    d = np.asarray(ray_direction, np.float64)
    d = d / np.linalg.norm(d)
    den = float(n @ d)
    if abs(den) < 1e-6 * float(np.linalg.norm(n)):
        return None
    t = float(n @ (np.asarray(point, np.float64) - ray_origin)) / den
    return np.asarray(ray_origin, np.float64) + t * d


def axis_angle_matrix(axis, angle: float) -> np.ndarray:
    """(3, 3) rotation by ``angle`` radians about the unit ``axis`` (right-handed)."""
    a = np.asarray(axis, np.float64)
    a = a / np.linalg.norm(a)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def axis_angle_quaternion(axis, angle: float) -> np.ndarray:
    """Unit wxyz quaternion (4,) of the rotation by ``angle`` about ``axis``."""
    a = np.asarray(axis, np.float64)
    a = a / np.linalg.norm(a)
    return np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * a])


@dataclass(frozen=True)
class DragResult:
    """The whole transform of a drag so far, about the drag's pivot:
    ``x -> pivot + R(axis, angle) S (x - pivot) + translation`` with S the
    scale ``factors`` (3,) along the gizmo axes. ``text`` is the readout."""

    translation: np.ndarray  # (3,) world units
    axis: np.ndarray  # (3,) unit world rotation axis
    angle: float  # radians
    factors: np.ndarray  # (3,) scale factors along the gizmo's x, y, z
    text: str
    snapped: bool = False


def _snap_step(value: float, step: float) -> float:
    return round(value / step) * step


class GizmoDrag:
    """One drag of one handle. Built at the press from the gizmo as seen then
    (``view``), the ``mode`` and ``handle`` name and the ``press`` pixel;
    `update` maps later pixels to the transform since the press. The camera
    of later updates may differ (the rays then come from the new view)."""

    def __init__(self, view: GizmoView, mode: str, handle: str, press):
        if mode not in MODES:
            raise ValueError(f"gizmo mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.view, self.mode, self.handle = view, mode, handle
        self.press = np.asarray(press, np.float64).reshape(2)
        self.pivot = view.pivot.copy()
        self.axes = view.axes.copy()
        o, d = view.ray(self.press)
        self._axis_index = AXIS_NAMES.index(handle) if handle in AXIS_NAMES else None
        if handle == "view":
            self.rotation_axis = -view.to_eye
        elif self._axis_index is not None:
            self.rotation_axis = self.axes[:, self._axis_index].copy()
        else:
            self.rotation_axis = -view.to_eye
        # Reference of the press: where on the axis / plane the mouse ray was.
        self._s0: float | None = None
        self._p0: np.ndarray | None = None
        if mode in (MOVE, SCALE) and self._axis_index is not None:
            self._s0 = closest_on_axis(self.pivot, self.rotation_axis, o, d)
        elif mode == MOVE:
            self._p0 = plane_hit(self.pivot, self._plane_normal(view.camera), o, d)
        # Rotation: the mouse's angle around the projected pivot (unwrapped),
        # or, for a ring seen nearly edge-on, its travel along the ring's front tangent.
        self._circular = abs(float(self.rotation_axis @ view.to_eye)) >= CIRCULAR_MIN_TILT
        self._sign = 1.0 if float(self.rotation_axis @ -view.to_eye) >= 0 else -1.0
        self._phi_last = self._phi(self.press, view.camera)
        self._phi_total = 0.0
        self._tangent = np.zeros(2)
        self._tangent_px = 1.0
        if mode == ROTATE and not self._circular:
            a = self.rotation_axis
            f = view.to_eye - a * float(a @ view.to_eye)
            f /= np.linalg.norm(f)
            front = self.pivot + view.length * f
            eps = 1e-3
            moved = self.pivot + axis_angle_matrix(a, eps) @ (front - self.pivot)
            tau = (view.project(moved[None])[0] - view.project(front[None])[0]) / eps  # px per radian
            self._tangent_px = max(float(np.linalg.norm(tau)), 1e-9)
            self._tangent = tau / self._tangent_px

    def _plane_normal(self, camera: Camera) -> np.ndarray:
        if self.handle in PLANES:
            i, j = PLANES[self.handle]
            return self.axes[:, 3 - i - j]
        return camera.basis()[2]  # "free": the view plane

    def _phi(self, pixel, camera: Camera) -> float:
        c = camera.project(self.pivot[None])[0][0]
        return math.atan2(float(pixel[1] - c[1]), float(pixel[0] - c[0]))

    def update(self, pixel, snapping: Snapping | None = None, camera: Camera | None = None) -> DragResult:
        """The transform from the press to the mouse at ``pixel`` (2,);
        ``snapping`` rounds it to the increments (Ctrl held)."""
        camera = camera or self.view.camera
        pixel = np.asarray(pixel, np.float64).reshape(2)
        o, d = pixel_ray(camera, pixel)
        t = np.zeros(3)
        angle = 0.0
        factors = np.ones(3)
        snapped = snapping is not None
        if self.mode == MOVE:
            t = self._translation(o, d, snapping)
            text = self._move_text(t)
        elif self.mode == ROTATE:
            if self._circular:
                phi = self._phi(pixel, camera)
                step = (phi - self._phi_last + math.pi) % (2 * math.pi) - math.pi
                self._phi_total += step
                self._phi_last = phi
                angle = self._sign * self._phi_total
            else:
                angle = float((pixel - self.press) @ self._tangent) / self._tangent_px
            if snapping is not None:
                angle = snap_angle(angle, snapping.angle_deg)
            name = "View" if self.handle == "view" else self.handle.upper()
            text = f"{name} {math.degrees(angle):+.1f}°"
        else:
            f = self._factor(pixel, o, d)
            if snapping is not None:
                f = max(snapping.scale, _snap_step(f, snapping.scale))
            if self._axis_index is None:
                factors[:] = f
                text = f"× {f:.3f}"
            else:
                factors[self._axis_index] = f
                text = f"{self.handle.upper()} × {f:.3f}"
        if snapped:
            text += "  (snap)"
        return DragResult(t, self.rotation_axis.copy(), angle, factors, text, snapped)

    def _translation(self, o, d, snapping: Snapping | None) -> np.ndarray:
        if self._axis_index is not None:
            s = closest_on_axis(self.pivot, self.rotation_axis, o, d)
            if s is None or self._s0 is None:
                return np.zeros(3)
            ds = s - self._s0
            if snapping is not None:
                ds = _snap_step(ds, snapping.translate)
            return ds * self.rotation_axis
        if self._p0 is None:
            return np.zeros(3)
        p = plane_hit(self.pivot, self._plane_normal(self.view.camera), o, d)
        if p is None:
            return np.zeros(3)
        delta = p - self._p0
        if snapping is not None:
            local = self.axes.T @ delta
            keep = [True, True, True]
            if self.handle in PLANES:
                i, j = PLANES[self.handle]
                keep = [k in (i, j) for k in range(3)]
            local = np.where(keep, np.round(local / snapping.translate) * snapping.translate, 0.0)
            delta = self.axes @ local
        return delta

    def _factor(self, pixel, o, d) -> float:
        if self._axis_index is None:
            dx, dy = pixel - self.press
            f = 1.0 + (dx - dy) / self.view.size_px  # right or up grows
        else:
            s = closest_on_axis(self.pivot, self.rotation_axis, o, d)
            s0 = self._s0
            if s is None or s0 is None or abs(s0) < 1e-6 * self.view.length:
                return 1.0
            f = s / s0
        return max(MIN_FACTOR, f)

    def _move_text(self, t: np.ndarray) -> str:
        if self._axis_index is not None:
            return f"Δ{self.handle.upper()} {float(t @ self.rotation_axis):+.3f}"
        return "Δ " + ", ".join(f"{v:+.3f}" for v in t)
