"""Snapping helpers for the layout tools: grid, angle, and splat surfaces.

All pure functions in world units (the scene frame), so the viewport tools
only translate mouse positions into calls here and commands from the results.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from editor.model.camera import Camera
from editor.model.splat_cloud import SplatCloud


def snap_to_grid(
    points: np.ndarray,
    spacing: float,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    rotation: np.ndarray | None = None,
    axes: Sequence[bool] = (True, True, True),
) -> np.ndarray:
    """Round points (..., 3) to the nearest grid node. The grid has cell
    ``spacing`` and is laid out from ``origin`` along the columns of
    ``rotation`` (3, 3) (default the world axes); ``axes`` picks which local
    axes snap (e.g. (True, False, True) snaps on a floor, not in height)."""
    if not spacing > 0:
        raise ValueError("grid spacing must be positive")
    p = np.asarray(points, np.float64)
    o = np.asarray(origin, np.float64)
    r = np.eye(3) if rotation is None else np.asarray(rotation, np.float64)
    local = (p - o) @ r
    snapped = np.where(np.asarray(axes, bool), np.round(local / spacing) * spacing, local)
    return snapped @ r.T + o


def snap_angle(angle: float, step_deg: float = 15.0) -> float:
    """Round an angle (radians) to a multiple of ``step_deg`` degrees."""
    step = math.radians(step_deg)
    return round(angle / step) * step


def snap_segment(
    start: Sequence[float],
    end: Sequence[float],
    up: Sequence[float],
    step_deg: float = 15.0,
    reference: Sequence[float] | None = None,
    length_step: float | None = None,
) -> np.ndarray:
    """Wall drawing: the end point of a segment on the floor with its heading
    snapped to multiples of ``step_deg`` from ``reference`` (a direction on
    the floor; default the world axis most perpendicular to ``up``), and its
    length to multiples of ``length_step`` when given. Returns (3,)."""
    a, b = np.asarray(start, np.float64), np.asarray(end, np.float64)
    u = np.asarray(up, np.float64)
    u = u / np.linalg.norm(u)
    d = b - a
    height = u * np.dot(d, u)
    d = d - height
    length = float(np.linalg.norm(d))
    if length < 1e-12:
        return b
    if reference is None:
        reference = np.eye(3)[int(np.argmin(np.abs(u)))]
    x = np.asarray(reference, np.float64) - u * np.dot(reference, u)
    x /= np.linalg.norm(x)
    y = np.cross(u, x)
    angle = snap_angle(math.atan2(float(d @ y), float(d @ x)), step_deg)
    if length_step:
        length = max(length_step, round(length / length_step) * length_step)
    return a + height + length * (math.cos(angle) * x + math.sin(angle) * y)


def pixel_ray(camera: Camera, pixel: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """World ray (origin (3,), unit direction (3,)) through pixel (x, y)."""
    x, y = float(pixel[0]), float(pixel[1])
    d_cam = np.array([(x - camera.cx) / camera.fx, (y - camera.cy) / camera.fy, 1.0])
    d = camera.basis().T @ d_cam
    return camera.eye.copy(), d / np.linalg.norm(d)


def intersect_plane(
    origin: np.ndarray, direction: np.ndarray, plane_point: Sequence[float], plane_normal: Sequence[float]
) -> np.ndarray | None:
    """Where the ray hits the plane (3,), or None when parallel or behind."""
    n = np.asarray(plane_normal, np.float64)
    denom = float(np.dot(direction, n))
    if abs(denom) < 1e-12:
        return None
    t = float(np.dot(np.asarray(plane_point, np.float64) - origin, n)) / denom
    return None if t < 0 else origin + t * np.asarray(direction, np.float64)


def snap_to_splats(
    cloud: SplatCloud,
    camera: Camera,
    pixel: Sequence[float],
    radius_px: float = 6.0,
    mask: np.ndarray | None = None,
    coverage: float = 0.5,
) -> np.ndarray | None:
    """The splat surface under a pixel: among splats (optionally only those in
    ``mask`` (N,) bool, e.g. `Layer.shown`) whose centres project within
    ``radius_px`` of ``pixel``, composite front to back with their opacities
    and return the point on the pixel's ray at the depth where the
    accumulated opacity first reaches ``coverage`` (or, if it never does, of
    the splat contributing most). None when no splat is there."""
    pos = cloud.positions
    idx = np.arange(len(cloud)) if mask is None else np.flatnonzero(mask)
    if not idx.size:
        return None
    uv, z = camera.project(pos[idx])
    c = np.asarray(pixel, np.float64)
    with np.errstate(invalid="ignore"):
        near = (z > 1e-6) & (np.sum((uv - c) ** 2, axis=1) <= radius_px ** 2)
    if not near.any():
        return None
    zs = z[near]
    alpha = cloud.opacities[idx[near]].astype(np.float64)
    order = np.argsort(zs, kind="stable")
    transmittance = np.cumprod(1.0 - alpha[order])
    reached = np.flatnonzero(1.0 - transmittance >= coverage)
    if reached.size:
        pick = reached[0]
    else:  # thin coverage: the splat contributing most to the pixel
        before = np.concatenate([[1.0], transmittance[:-1]])
        pick = int(np.argmax(alpha[order] * before))
    depth = zs[order][pick]
    origin, d = pixel_ray(camera, pixel)
    forward = camera.basis()[2]
    return origin + d * (depth / float(d @ forward))
