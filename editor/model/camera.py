"""`Camera`: a pinhole camera and its JSON contract.

JSON (used by every command that takes or writes a camera)::

    {"eye": [x, y, z], "target": [x, y, z], "up": [x, y, z],
     "fov_y_deg": f, "width": W, "height": H}

Right-handed look-at: the camera sits at ``eye`` and looks towards ``target``;
``up`` picks the roll (it need not be orthogonal to the view direction, only
not parallel to it). Pixel (0, 0) is the top-left of the image; pixel centres
are at integer + 0.5. Focal lengths in pixels: ``fy = 0.5 * H / tan(fov_y / 2)``,
``fx = fy`` (square pixels), principal point at the image centre.
World coordinates are used exactly as stored in the scene file: no axis flip.

Camera space (what `view_matrix` maps to) is the 3DGS/OpenCV convention:
x right, y down, z forward (depth > 0 in front of the camera).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REQUIRED_KEYS = ("eye", "target", "up", "fov_y_deg", "width", "height")


class CameraError(ValueError):
    """A camera description is invalid; the message is one line."""


@dataclass
class Camera:
    eye: np.ndarray  # (3,) float64, world units
    target: np.ndarray  # (3,)
    up: np.ndarray  # (3,)
    fov_y_deg: float = 50.0
    width: int = 1280
    height: int = 720

    def __post_init__(self) -> None:
        self.eye = np.asarray(self.eye, dtype=np.float64).reshape(3)
        self.target = np.asarray(self.target, dtype=np.float64).reshape(3)
        self.up = np.asarray(self.up, dtype=np.float64).reshape(3)
        self.fov_y_deg = float(self.fov_y_deg)
        self.width = int(self.width)
        self.height = int(self.height)
        self.validate()

    def validate(self) -> None:
        for name in ("eye", "target", "up"):
            if not np.isfinite(getattr(self, name)).all():
                raise CameraError(f"camera {name} must be three finite numbers")
        if not (0.01 < self.fov_y_deg < 179.0):
            raise CameraError(f"fov_y_deg must be between 0.01 and 179, got {self.fov_y_deg}")
        if not (1 <= self.width <= 16384 and 1 <= self.height <= 16384):
            raise CameraError(f"image size {self.width}x{self.height} must be 1..16384 pixels each way")
        forward = self.target - self.eye
        if np.linalg.norm(forward) < 1e-12:
            raise CameraError("camera eye and target are the same point")
        if np.linalg.norm(self.up) < 1e-12:
            raise CameraError("camera up vector is zero")
        if np.linalg.norm(np.cross(forward / np.linalg.norm(forward), self.up / np.linalg.norm(self.up))) < 1e-6:
            raise CameraError("camera up vector is parallel to the viewing direction")

    # ---------------------------------------------------------------- intrinsics
    @property
    def fy(self) -> float:
        return 0.5 * self.height / math.tan(math.radians(self.fov_y_deg) / 2.0)

    @property
    def fx(self) -> float:
        return self.fy

    @property
    def cx(self) -> float:
        return 0.5 * self.width

    @property
    def cy(self) -> float:
        return 0.5 * self.height

    @property
    def fov_x_deg(self) -> float:
        return math.degrees(2.0 * math.atan(0.5 * self.width / self.fx))

    # ---------------------------------------------------------------- extrinsics
    def basis(self) -> np.ndarray:
        """Rows: camera right, down, forward axes in world coordinates (3, 3)."""
        f = self.target - self.eye
        f /= np.linalg.norm(f)
        r = np.cross(f, self.up)
        r /= np.linalg.norm(r)
        d = np.cross(f, r)  # down = forward x right (right-handed: r x d = f)
        return np.stack([r, d, f])

    def view_matrix(self) -> np.ndarray:
        """World -> camera (x right, y down, z forward) as a 4x4 float64 matrix."""
        rot = self.basis()
        m = np.eye(4)
        m[:3, :3] = rot
        m[:3, 3] = -rot @ self.eye
        return m

    def intrinsics(self) -> np.ndarray:
        """3x3 pinhole matrix K in pixels."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera-space points (z = depth)."""
        rot = self.basis()
        return (np.asarray(points, dtype=np.float64) - self.eye) @ rot.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> pixel coordinates (N, 2) and depths (N,)."""
        pc = self.world_to_camera(points)
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.fx * pc[:, 0] / z + self.cx
            v = self.fy * pc[:, 1] / z + self.cy
        return np.stack([u, v], axis=1), z

    def with_size(self, width: int | None = None, height: int | None = None) -> "Camera":
        return Camera(self.eye, self.target, self.up, self.fov_y_deg, width or self.width, height or self.height)

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        return {
            "eye": [float(v) for v in self.eye],
            "target": [float(v) for v in self.target],
            "up": [float(v) for v in self.up],
            "fov_y_deg": self.fov_y_deg,
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_dict(cls, data: object) -> "Camera":
        if not isinstance(data, dict):
            raise CameraError("camera JSON must be an object")
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise CameraError(f"camera JSON is missing key(s): {', '.join(missing)}")
        vec = {}
        for k in ("eye", "target", "up"):
            v = data[k]
            if not (isinstance(v, list) and len(v) == 3 and all(_is_number(x) for x in v)):
                raise CameraError(f"camera {k} must be a list of three numbers")
            vec[k] = v
        for k in ("fov_y_deg", "width", "height"):
            if not _is_number(data[k]):
                raise CameraError(f"camera {k} must be a number")
        for k in ("width", "height"):
            if float(data[k]) != int(data[k]):
                raise CameraError(f"camera {k} must be a whole number")
        return cls(vec["eye"], vec["target"], vec["up"], data["fov_y_deg"], int(data["width"]), int(data["height"]))

    @classmethod
    def load(cls, path: os.PathLike | str) -> "Camera":
        """Read a camera JSON file; raises CameraError (one line) on any problem."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CameraError("no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CameraError(f"cannot read: {e}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise CameraError(f"not valid JSON ({e.msg} at line {e.lineno})") from None
        return cls.from_dict(data)

    def save(self, path: os.PathLike | str) -> None:
        from editor.formats.base import write_atomic

        write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(self.to_dict(), indent=2) + "\n"))

    @classmethod
    def framing(
        cls,
        bounds_min: np.ndarray,
        bounds_max: np.ndarray,
        direction: np.ndarray = (0.0, 0.0, -1.0),
        up: np.ndarray = (0.0, -1.0, 0.0),
        fov_y_deg: float = 50.0,
        width: int = 1280,
        height: int = 720,
    ) -> "Camera":
        """A camera that sees the whole box, looking along ``-direction`` from
        the ``direction`` side. Defaults suit 3DGS scenes (y down): the camera
        sits on the -z side looking towards +z with -y as up."""
        lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
        centre = 0.5 * (lo + hi)
        radius = max(0.5 * float(np.linalg.norm(hi - lo)), 1e-3)
        half = math.radians(min(fov_y_deg, fov_y_deg * width / max(height, 1)) / 2.0)
        dist = radius / math.sin(half)
        d = np.asarray(direction, float)
        d = d / np.linalg.norm(d)
        return cls(centre + d * dist, centre, up, fov_y_deg, width, height)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
