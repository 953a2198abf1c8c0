"""Viewport navigation maths: orbit, pan, zoom to cursor, fly, framing, preset
views, up-axis presets and camera paths (turntable, keyframes).

Plain Python and numpy (no Qt): the viewport turns mouse and keyboard events
into calls on `OrbitNavigator` and asks it for an `editor.model.camera.Camera`.

State: ``eye`` and ``target`` (world units), ``world_up`` (the turntable axis,
unit length) and ``cam_up`` (the camera's own up, unit, always orthogonal to the
viewing direction). Away from the poles ``cam_up`` is ``world_up`` projected
onto the image plane (no roll), which is exactly what `Camera` does with any
``up``; at a pole (top/bottom view) it keeps its last direction, so looking
straight down is well defined.

Screen conventions: pixel x grows right, pixel y grows down (Qt and `Camera`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from editor.model.camera import Camera

#: Degrees of orbit per pixel of mouse travel.
ORBIT_DEG_PER_PX = 0.4
#: Degrees of fly-mode look per pixel of mouse travel.
LOOK_DEG_PER_PX = 0.2
#: Distance factor per wheel step (one notch = 120 units of angleDelta).
ZOOM_FACTOR_PER_STEP = 0.85
#: Default vertical field of view, degrees.
DEFAULT_FOV = 50.0


@dataclass(frozen=True)
class UpPreset:
    """An up-axis convention: ``up`` points to the sky, ``front`` points from the
    target towards the eye of the "front" view."""

    key: str
    label: str
    up: tuple[float, float, float]
    front: tuple[float, float, float]


#: SplatClouds are in the 3DGS PLY frame; what is "up" depends on who made the
#: scene. Trainers working from COLMAP (x right, y down, z forward cameras) give
#: -Y up for scenes shot with an upright camera.
UP_PRESETS: dict[str, UpPreset] = {
    "-y": UpPreset("-y", "-Y up (3DGS / COLMAP trainers)", (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
    "+y": UpPreset("+y", "Y up (OpenGL, glTF, three.js)", (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "+z": UpPreset("+z", "Z up (Blender, CAD, NeRF synthetic)", (0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
}
DEFAULT_UP = "-y"

#: Preset views: (azimuth, elevation) in degrees relative to the preset's front.
VIEWS: dict[str, tuple[float, float]] = {
    "front": (0.0, 0.0),
    "back": (180.0, 0.0),
    "right": (90.0, 0.0),
    "left": (-90.0, 0.0),
    "top": (0.0, 90.0),
    "bottom": (0.0, -90.0),
    "home": (-30.0, 20.0),
}


def rotate(v: np.ndarray, axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotate vector ``v`` (3,) about unit ``axis`` (3,) by ``angle_rad``,
    right-handed (Rodrigues)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1.0 - c)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-300 else v


def robust_bounds(positions: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.0,
                  max_samples: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (min (3,), max (3,)) of the central mass of ``positions`` (N, 3):
    per-axis percentiles, so a few far floaters of a trained scene do not make
    "frame all" zoom out to a dot. A strided subsample keeps it fast for
    millions of splats. Zeros for an empty array."""
    p = np.asarray(positions)
    if p.shape[0] == 0:
        return np.zeros(3), np.zeros(3)
    if p.shape[0] > max_samples:
        p = p[:: p.shape[0] // max_samples + 1]
    p = p[np.isfinite(p).all(axis=1)]
    if p.shape[0] == 0:
        return np.zeros(3), np.zeros(3)
    lo = np.percentile(p, lo_pct, axis=0)
    hi = np.percentile(p, hi_pct, axis=0)
    return lo.astype(np.float64), hi.astype(np.float64)


def guess_up_axis(positions: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> str:
    """A first guess of the up-axis preset for a scene whose file does not say.

    "+z" when z is clearly the thinnest extent of the central mass (under 0.6x
    of the x and y extents) and the mass sits in the upper half of it: an
    object standing on the z = 0 plane, as Blender and NeRF-synthetic scenes
    are. Otherwise "-y", the trainers' convention. The user's choice per file
    (View > Up Axis) overrides the guess.
    """
    p = np.asarray(positions)
    if p.shape[0] < 10:
        return DEFAULT_UP
    if lo is None or hi is None:
        lo, hi = robust_bounds(p)
    ext = np.asarray(hi, float) - np.asarray(lo, float)
    if not (ext[2] > 0 and ext[2] < 0.6 * min(ext[0], ext[1])):
        return DEFAULT_UP
    z = p[:: max(1, p.shape[0] // 100_000) , 2]
    z = z[np.isfinite(z)]
    mid = 0.5 * (float(lo[2]) + float(hi[2]))
    return "+z" if z.size and float(np.median(z)) > mid else DEFAULT_UP


class OrbitNavigator:
    """Turntable orbit camera with pan, zoom to cursor and fly mode.

    Mouse amounts are in pixels of the viewport; ``height`` is the viewport
    height in pixels (pans and zooms need it to keep the point under the cursor
    under the cursor).
    """

    def __init__(self, up: str = DEFAULT_UP, fov_y_deg: float = DEFAULT_FOV):
        self.fov_y_deg = float(fov_y_deg)
        self.up_key = up if up in UP_PRESETS else DEFAULT_UP
        preset = UP_PRESETS[self.up_key]
        self.world_up = np.array(preset.up, float)
        self.target = np.zeros(3)
        self.eye = np.array(preset.front, float) * 3.0
        self.cam_up = self.world_up.copy()
        # Scene bounds: full (for near/far) and robust (for framing).
        self.bounds = (np.full(3, -1.0), np.full(3, 1.0))
        self.frame_bounds = self.bounds
        self.version = 0  # bumped on every change, so observers can compare

    # ------------------------------------------------------------ basics
    @property
    def preset(self) -> UpPreset:
        return UP_PRESETS[self.up_key]

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(self.eye - self.target))

    @property
    def forward(self) -> np.ndarray:
        return _unit(self.target - self.eye)

    @property
    def right(self) -> np.ndarray:
        return _unit(np.cross(self.forward, self.cam_up))

    @property
    def scene_radius(self) -> float:
        lo, hi = self.frame_bounds
        return max(0.5 * float(np.linalg.norm(np.asarray(hi) - np.asarray(lo))), 1e-6)

    def camera(self, width: int, height: int) -> Camera:
        """The current view as a `Camera` of ``width`` x ``height`` pixels."""
        return Camera(self.eye.copy(), self.target.copy(), self.cam_up.copy(), self.fov_y_deg,
                      max(1, int(width)), max(1, int(height)))

    def state(self) -> dict:
        """A JSON-friendly snapshot (for undoing a view change or saving)."""
        return {
            "eye": self.eye.tolist(), "target": self.target.tolist(), "up": self.cam_up.tolist(),
            "world_up": self.world_up.tolist(), "fov_y_deg": self.fov_y_deg, "up_key": self.up_key,
        }

    def _changed(self) -> None:
        self._fix_up()
        self.version += 1

    def _fix_up(self) -> None:
        """Keep cam_up unit and orthogonal to the view; roll-free off the poles."""
        f = self.forward
        if abs(float(np.dot(f, self.world_up))) < 0.9999:
            up = self.world_up
        else:
            up = self.cam_up
        up = up - np.dot(up, f) * f
        if np.linalg.norm(up) < 1e-9:  # cam_up got parallel somehow: pick any perpendicular
            up = np.cross(f, [1.0, 0.0, 0.0])
            if np.linalg.norm(up) < 1e-6:
                up = np.cross(f, [0.0, 1.0, 0.0])
        self.cam_up = _unit(up)

    def set_camera(self, camera: Camera, world_up: Sequence[float] | None = None) -> None:
        """Adopt an explicit camera (e.g. from ``--camera CAM.json``): same eye,
        target, roll and field of view. ``world_up`` (default: the camera's
        ``up``) becomes the orbit axis."""
        self.eye = np.asarray(camera.eye, float).copy()
        self.target = np.asarray(camera.target, float).copy()
        self.fov_y_deg = float(camera.fov_y_deg)
        up = _unit(np.asarray(camera.up if world_up is None else world_up, float))
        self.world_up = up
        f = self.forward
        cu = np.asarray(camera.up, float)
        self.cam_up = _unit(cu - np.dot(cu, f) * f)
        self.up_key = next((k for k, p in UP_PRESETS.items() if np.allclose(p.up, up, atol=1e-6)), "custom")
        self.version += 1

    # ------------------------------------------------------------ scene
    def set_bounds(self, lo: Sequence[float], hi: Sequence[float],
                   frame_lo: Sequence[float] | None = None, frame_hi: Sequence[float] | None = None) -> None:
        """Scene bounds: ``lo``/``hi`` enclose every splat; ``frame_lo`` /
        ``frame_hi`` (default the same) are what "frame all" fits. (Near and far
        planes come from the bounds in `app.render.projection.depth_range`.)"""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        self.bounds = (lo, hi)
        if frame_lo is None or frame_hi is None:
            self.frame_bounds = (lo, hi)
        else:
            self.frame_bounds = (np.asarray(frame_lo, float), np.asarray(frame_hi, float))

    def set_up_preset(self, key: str) -> None:
        """Switch the up axis and look at the scene from that preset's home view."""
        if key not in UP_PRESETS:
            raise ValueError(f"unknown up-axis preset {key!r}; choose from {', '.join(UP_PRESETS)}")
        self.up_key = key
        self.world_up = np.array(UP_PRESETS[key].up, float)
        self.cam_up = self.world_up.copy()
        self.view("home")

    def set_fov(self, fov_y_deg: float) -> None:
        """Change the vertical field of view, keeping the framed size roughly
        constant (dolly so the target plane keeps its visible height)."""
        new = float(min(max(fov_y_deg, 5.0), 150.0))
        old_half = math.tan(math.radians(self.fov_y_deg) / 2.0)
        new_half = math.tan(math.radians(new) / 2.0)
        d = self.distance * old_half / new_half
        self.eye = self.target - self.forward * d
        self.fov_y_deg = new
        self._changed()

    # ------------------------------------------------------------ views
    def frame(self, aspect: float = 16 / 9, keep_direction: bool = True) -> None:
        """Fit the framing bounds in view (F / Home), keeping the view direction."""
        lo, hi = self.frame_bounds
        centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
        radius = self.scene_radius
        half_v = math.radians(self.fov_y_deg) / 2.0
        half_h = math.atan(math.tan(half_v) * max(aspect, 1e-3))
        dist = radius / math.sin(min(half_v, half_h)) if radius > 0 else 1.0
        if keep_direction or self.up_key not in UP_PRESETS:
            direction = -self.forward
        else:
            direction = np.array(self.preset.front, float)
        self.target = centre
        self.eye = centre + direction * dist
        self._changed()

    def view(self, name: str, aspect: float = 16 / 9) -> None:
        """Look from a named direction (see `VIEWS`) and frame the scene."""
        az, el = VIEWS[name]
        front = np.array(self.preset.front if self.up_key in UP_PRESETS else -self.forward, float)
        front = _unit(front - np.dot(front, self.world_up) * self.world_up)
        if np.linalg.norm(front) < 1e-9:
            front = _unit(np.cross(self.world_up, [1.0, 0.0, 0.0]))
        right = _unit(np.cross(self.world_up, front))  # the side the "right" view looks from
        # Azimuth turns the front towards the right side; elevation lifts to the sky.
        a, e = math.radians(az), math.radians(el)
        horizontal = math.cos(a) * front + math.sin(a) * right
        direction = math.cos(e) * horizontal + math.sin(e) * self.world_up
        # At the poles the image up is the direction away from the viewer's front.
        self.cam_up = _unit(-math.sin(e) * horizontal + math.cos(e) * self.world_up)
        self.eye = self.target + direction
        self.frame(aspect, keep_direction=True)

    def reset(self, aspect: float = 16 / 9) -> None:
        """Default field of view and the home view of the current up preset."""
        self.fov_y_deg = DEFAULT_FOV
        self.view("home", aspect)

    # ------------------------------------------------------------ mouse
    def elevation(self) -> float:
        """Angle of the eye above the target's horizon (radians, -pi/2..pi/2)."""
        d = _unit(self.eye - self.target)
        return math.asin(float(np.clip(np.dot(d, self.world_up), -1.0, 1.0)))

    def orbit(self, dx_px: float, dy_px: float) -> None:
        """Turntable orbit about the target: dragging right turns the scene
        right (the camera goes left), dragging down lifts the camera."""
        yaw = -math.radians(dx_px * ORBIT_DEG_PER_PX)
        pitch = math.radians(dy_px * ORBIT_DEG_PER_PX)
        self._rotate_about(self.target, yaw, pitch, move="eye")

    def look(self, dx_px: float, dy_px: float) -> None:
        """Fly-mode look: turn the view about the eye (right = turn right,
        down = look down)."""
        yaw = -math.radians(dx_px * LOOK_DEG_PER_PX)
        pitch = -math.radians(dy_px * LOOK_DEG_PER_PX)
        self._rotate_about(self.eye, yaw, pitch, move="target")

    def _rotate_about(self, pivot: np.ndarray, yaw: float, pitch: float, move: str) -> None:
        offset = (self.eye if move == "eye" else self.target) - pivot
        up = self.cam_up
        # Yaw about the world up axis.
        offset = rotate(offset, self.world_up, yaw)
        up = rotate(up, self.world_up, yaw)
        # Pitch about the camera's right axis, clamped at the poles. The
        # elevation of `offset` (as seen from the pivot) is what we clamp.
        n = np.linalg.norm(offset)
        if n > 0 and pitch:
            d = offset / n
            elev = math.asin(float(np.clip(np.dot(d, self.world_up), -1.0, 1.0)))
            new = min(max(elev + pitch, -math.pi / 2), math.pi / 2)
            delta = new - elev
            # Axis turning `d` towards world_up: perpendicular to both.
            axis = np.cross(d, self.world_up)
            if np.linalg.norm(axis) < 1e-9:
                # At a pole: the limit of d x up coming from the side the
                # camera's up points away from is -right for the eye, +right
                # for a look direction.
                axis = np.cross(self.forward, self.cam_up) * (-1.0 if move == "eye" else 1.0)
            axis = _unit(axis)
            offset = rotate(offset, axis, delta)
            up = rotate(up, axis, delta)
        if move == "eye":
            self.eye = pivot + offset
        else:
            self.target = pivot + offset
        self.cam_up = _unit(up)
        self._changed()

    def pan(self, dx_px: float, dy_px: float, height: int) -> None:
        """Slide the camera in its image plane so the target plane follows the mouse."""
        per_px = 2.0 * self.distance * math.tan(math.radians(self.fov_y_deg) / 2.0) / max(1, height)
        down = -self.cam_up
        delta = -dx_px * per_px * self.right - dy_px * per_px * down
        self.eye = self.eye + delta
        self.target = self.target + delta
        self._changed()

    def zoom(self, steps: float, px: float | None = None, py: float | None = None,
             width: int = 1, height: int = 1) -> None:
        """Dolly by ``ZOOM_FACTOR_PER_STEP ** steps`` (steps > 0 = closer),
        towards the point of the target plane under pixel (px, py) so it stays
        under the cursor; the centre of the view when no pixel is given."""
        f = ZOOM_FACTOR_PER_STEP ** float(steps)
        radius = self.scene_radius
        dist = self.distance
        new_dist = min(max(dist * f, radius * 1e-4), radius * 1e4)
        f = new_dist / dist if dist > 0 else 1.0
        pivot = self.target
        if px is not None and py is not None:
            cam = self.camera(width, height)
            x = (px - cam.cx) / cam.fx * dist
            y = (py - cam.cy) / cam.fy * dist
            pivot = self.eye + self.forward * dist + self.right * x - self.cam_up * y
        self.eye = pivot + (self.eye - pivot) * f
        self.target = pivot + (self.target - pivot) * f
        self._changed()

    # ------------------------------------------------------------ fly
    def fly(self, forward: float, right: float, up: float, dt: float, fast: bool = False) -> None:
        """Move eye and target together: ``forward``/``right``/``up`` in -1..1
        (W/S, D/A, E/Q), for ``dt`` seconds at a speed that crosses the scene
        in about four seconds (x4 with ``fast``)."""
        speed = 0.5 * self.scene_radius * (4.0 if fast else 1.0)
        delta = (forward * self.forward + right * self.right + up * self.world_up) * speed * dt
        self.eye = self.eye + delta
        self.target = self.target + delta
        self._changed()


# ---------------------------------------------------------------- camera paths
def turntable_path(start: Camera, frames: int, world_up: Sequence[float], degrees: float = 360.0) -> list[Camera]:
    """``frames`` cameras orbiting ``start.target`` about ``world_up`` by
    ``degrees`` in total (the last frame stops one step short of a full turn so
    the video loops seamlessly)."""
    if frames < 1:
        raise ValueError("a turntable needs at least one frame")
    axis = _unit(np.asarray(world_up, float))
    offset = start.eye - start.target
    out = []
    for i in range(frames):
        a = math.radians(degrees) * i / frames
        out.append(Camera(start.target + rotate(offset, axis, a), start.target, rotate(start.up, axis, a),
                          start.fov_y_deg, start.width, start.height))
    return out


def _smoothstep(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def keyframe_path(keys: Sequence[Camera], frames: int, width: int, height: int) -> list[Camera]:
    """``frames`` cameras through the keyframes ``keys`` (at least two), equal
    time per segment, eased in and out of each key: eye and target move on
    straight lines, the up vector and field of view blend linearly."""
    if len(keys) < 2:
        raise ValueError("a camera path needs at least two keyframes")
    if frames < 2:
        raise ValueError("a camera path needs at least two frames")
    segments = len(keys) - 1
    out = []
    for i in range(frames):
        u = i / (frames - 1) * segments
        k = min(int(u), segments - 1)
        t = _smoothstep(u - k)
        a, b = keys[k], keys[k + 1]
        eye = (1 - t) * a.eye + t * b.eye
        target = (1 - t) * a.target + t * b.target
        up = (1 - t) * _unit(a.up) + t * _unit(b.up)
        f = target - eye
        if np.linalg.norm(f) < 1e-12:
            target = eye + _unit(a.target - a.eye)
            f = target - eye
        f = _unit(f)
        up = up - np.dot(up, f) * f
        if np.linalg.norm(up) < 1e-9:
            up = np.array(a.up, float)
        fov = (1 - t) * a.fov_y_deg + t * b.fov_y_deg
        out.append(Camera(eye, target, _unit(up), fov, width, height))
    return out
