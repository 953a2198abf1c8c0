"""GL clip-space conventions shared by every renderer drawing into one frame
(splats, layout meshes), so their depths agree.

Camera space is `editor.model.camera.Camera`'s: x right, y down, z forward.
NDC x grows to the right, NDC y *up* (so image row 0, the top, is NDC y = +1),
NDC z from -1 at ``near`` to +1 at ``far`` (the standard GL perspective
depth, ``z_ndc = (f + n) / (f - n) - 2 f n / ((f - n) z)``).
"""
from __future__ import annotations

import numpy as np

from editor.model.camera import Camera
from editor.rendering.reference import near_plane


def projection_matrix(camera: Camera, near: float, far: float) -> np.ndarray:
    """4x4 float64 matrix: camera space (x right, y down, z forward) -> clip."""
    w, h = camera.width, camera.height
    m = np.zeros((4, 4))
    m[0, 0] = 2.0 * camera.fx / w
    m[0, 2] = 2.0 * camera.cx / w - 1.0
    m[1, 1] = -2.0 * camera.fy / h
    m[1, 2] = 1.0 - 2.0 * camera.cy / h
    m[2, 2] = (far + near) / (far - near)
    m[2, 3] = -2.0 * far * near / (far - near)
    m[3, 2] = 1.0
    return m


def view_projection_matrix(camera: Camera, near: float, far: float) -> np.ndarray:
    """4x4 float64: world -> clip (``projection_matrix @ camera.view_matrix()``)."""
    return projection_matrix(camera, near, far) @ camera.view_matrix()


def depth_range(camera: Camera, bounds_min: np.ndarray | None, bounds_max: np.ndarray | None) -> tuple[float, float]:
    """(near, far) for the depth buffer: ``near`` is the splat near plane
    (`editor.rendering.near_plane`), ``far`` reaches past the farthest corner
    of the scene box (or 1000 x near without one)."""
    near = near_plane(camera)
    far = near * 1000.0
    if bounds_min is not None and bounds_max is not None:
        lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        reach = float(np.max(np.linalg.norm(corners - camera.eye, axis=1)))
        if np.isfinite(reach):
            far = max(reach * 1.05 + near, near * 2.0)
    return near, far
