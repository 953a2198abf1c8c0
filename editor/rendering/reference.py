"""The reference splat rasterizer: slow, plain numpy, obviously the 3DGS maths.

Every fast renderer in the project (the GL renderer in ``app.render``, the
differentiable torch rasterizer) is tested against `render_reference` as
images, so this module *is* the definition of a rendered splat image.

The maths, per splat (float64 here; the GL path runs the same steps in float32):

1. Camera space ``t = basis @ (p - eye)`` (x right, y down, z forward; see
   `editor.model.camera.Camera`). Pixel centre of the splat
   ``u = fx * t.x / t.z + cx``, ``v = fy * t.y / t.z + cy``; pixel (0, 0) is the
   top-left pixel and pixel centres sit at integer + 0.5.
2. **Near plane rule**: a splat is drawn only if its centre's depth
   ``t.z > near_plane(camera) = min(0.2, 0.05 * |target - eye|)``. The 0.2 is
   the 3DGS constant (captures are trained with it, so nearer splats are often
   training junk); the ``0.05 * distance`` term keeps small, unit-scale scenes
   viewable from close up. Splats whose centre is in front of the plane but
   whose body crosses it (or the image border) are drawn whole with the EWA
   approximation below, exactly like 3DGS; nothing is clipped per pixel.
3. 3D covariance ``Sigma = R S S^T R^T`` with R from the (normalised) wxyz
   quaternion and ``S = diag(exp(log_scales))``.
4. EWA projection with the perspective Jacobian of 3DGS, including its clamp
   of ``t.x / t.z`` and ``t.y / t.z`` to 1.3x the half field of view::

       J = [[fx / z, 0, -fx * x' / z^2],
            [0, fy / z, -fy * y' / z^2]]     (x', y' clamped as above)
       cov2d = J W Sigma W^T J^T + 0.3 * I    (W = camera basis, 0.3 px^2 low-pass)

5. Colour: SH (bands up to ``sh_degree``) evaluated along the unit direction
   from the eye to the splat centre in world coordinates, + 0.5, clamped to
   [0, 1]. Opacity ``sigmoid(opacity_logit)``.
6. Footprint: the 3-sigma ellipse ``power = 0.5 * d^T cov2d^-1 d <= 4.5`` with
   ``d`` = pixel centre - splat centre. Per pixel
   ``alpha = min(0.99, opacity * exp(-power))``; pixels with
   ``alpha < 1/255`` are skipped (so splats with opacity < 1/255 vanish).
7. Compositing front to back in order of increasing camera depth ``t.z`` (ties
   by splat index): ``C += T * alpha * colour``, ``T *= 1 - alpha``; the image
   is ``C + T * background``. There is no early termination: 3DGS stops
   once ``T < 1e-4``, which can drop up to 1e-4 / (1 - 0.99) = 0.01 of a
   pixel's colour (measured: 2.6e-3 on real scenes); the fast renderers match
   this definition, not the trainer's cut-off.

Culling never changes the image: a splat is skipped when it is behind the near
plane, when its opacity is below 1/255, or when the bounding box of its
3-sigma ellipse contains no pixel centre of the image (off screen, or too thin
to cover a pixel centre).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from editor.model.camera import Camera
from editor.model.sh import eval_sh
from editor.model.splat_cloud import SplatCloud, normalize_quaternions, quaternion_to_matrix, sh_coeff_count

NEAR_PLANE_MAX = 0.2  # the 3DGS near plane, world units
NEAR_PLANE_FRACTION = 0.05  # of the eye-target distance, for small scenes
LOW_PASS = 0.3  # px^2 added to the 2D covariance diagonal
JACOBIAN_CLAMP = 1.3  # x/z and y/z are clamped to this times tan(half fov)
MAX_POWER = 4.5  # 0.5 * 3^2: the 3-sigma ellipse
ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0


def near_plane(camera: Camera) -> float:
    """Depth (world units) a splat centre must exceed to be drawn:
    ``min(0.2, 0.05 * |target - eye|)``."""
    return float(min(NEAR_PLANE_MAX, NEAR_PLANE_FRACTION * np.linalg.norm(camera.target - camera.eye)))


def resolve_sh_degree(cloud_degree: int, sh_degree: int | None) -> int:
    """The SH degree actually evaluated: the cloud's own, capped by ``sh_degree``."""
    if sh_degree is None:
        return cloud_degree
    if not 0 <= int(sh_degree) <= 3:
        raise ValueError(f"sh_degree must be 0..3, got {sh_degree}")
    return min(cloud_degree, int(sh_degree))


@dataclass
class ProjectedSplats:
    """Per-splat screen-space quantities of one view (N splats, float64).

    means2d (N, 2) pixel coordinates of the centre; cov2d (N, 3) the 2D
    covariance ``(xx, xy, yy)`` in px^2, low-pass included; depths (N,) camera
    z; colors (N, 3) in [0, 1]; opacities (N,) in [0, 1]; radii (N, 2) the
    3-sigma half extents along x and y in px; visible (N,) bool (the culling
    rules of the module docstring).
    """

    means2d: np.ndarray
    cov2d: np.ndarray
    depths: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray
    radii: np.ndarray
    visible: np.ndarray


def project_splats(cloud: SplatCloud, camera: Camera, sh_degree: int | None = None) -> ProjectedSplats:
    """Steps 1-5 of the module docstring for every splat, vectorised."""
    n = len(cloud)
    fx, fy, cx, cy = camera.fx, camera.fy, camera.cx, camera.cy
    w, h = camera.width, camera.height
    basis = camera.basis()
    pos = cloud.positions.astype(np.float64)
    near = near_plane(camera)
    with np.errstate(all="ignore"):  # non-finite splats are dropped by `visible`
        t = (pos - camera.eye) @ basis.T
        z = t[:, 2]
        in_front = z > near
        zs = np.where(in_front, z, 1.0)
        u = fx * t[:, 0] / zs + cx
        v = fy * t[:, 1] / zs + cy
        lim_x = JACOBIAN_CLAMP * 0.5 * w / fx
        lim_y = JACOBIAN_CLAMP * 0.5 * h / fy
        tx = np.clip(t[:, 0] / zs, -lim_x, lim_x) * zs
        ty = np.clip(t[:, 1] / zs, -lim_y, lim_y) * zs
        jac = np.zeros((n, 2, 3))
        jac[:, 0, 0] = fx / zs
        jac[:, 0, 2] = -fx * tx / (zs * zs)
        jac[:, 1, 1] = fy / zs
        jac[:, 1, 2] = -fy * ty / (zs * zs)

        rot = quaternion_to_matrix(normalize_quaternions(cloud.rotations))
        m = rot * np.exp(cloud.log_scales.astype(np.float64))[:, None, :]  # R @ diag(s)
        cov3d = m @ np.swapaxes(m, 1, 2)
        tm = jac @ basis  # (N, 2, 3)
        cov = tm @ cov3d @ np.swapaxes(tm, 1, 2)
        a = cov[:, 0, 0] + LOW_PASS
        b = cov[:, 0, 1]
        c = cov[:, 1, 1] + LOW_PASS
        rx = 3.0 * np.sqrt(a)
        ry = 3.0 * np.sqrt(c)

        degree = resolve_sh_degree(cloud.sh_degree, sh_degree)
        dirs = pos - camera.eye
        dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-30)
        colors = np.clip(eval_sh(cloud.sh[:, : sh_coeff_count(degree)], dirs) + 0.5, 0.0, 1.0)
        opac = cloud.opacities.astype(np.float64)

        x0 = np.ceil(u - rx - 0.5)
        x1 = np.floor(u + rx - 0.5)
        y0 = np.ceil(v - ry - 0.5)
        y1 = np.floor(v + ry - 0.5)
        on_screen = (np.maximum(x0, 0) <= np.minimum(x1, w - 1)) & (np.maximum(y0, 0) <= np.minimum(y1, h - 1))
        finite = np.isfinite(u) & np.isfinite(v) & np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
        finite &= np.isfinite(colors).all(axis=1) & np.isfinite(opac)
    visible = in_front & finite & (opac >= ALPHA_MIN) & on_screen
    return ProjectedSplats(
        means2d=np.stack([u, v], axis=1),
        cov2d=np.stack([a, b, c], axis=1),
        depths=z,
        colors=colors,
        opacities=opac,
        radii=np.stack([rx, ry], axis=1),
        visible=visible,
    )


def render_reference(
    cloud: SplatCloud,
    camera: Camera,
    background=(0.0, 0.0, 0.0),
    sh_degree: int | None = None,
) -> np.ndarray:
    """Render ``cloud`` seen by ``camera``: (H, W, 3) float32 RGB in [0, 1].

    ``background`` is an RGB triple in [0, 1]; ``sh_degree`` caps the SH bands
    evaluated (None: all the cloud has). One splat at a time over the pixels of
    its 3-sigma bounding box, front to back; see the module docstring.
    """
    w, h = camera.width, camera.height
    bg = np.asarray(background, dtype=np.float64).reshape(3)
    proj = project_splats(cloud, camera, sh_degree)
    color = np.zeros((h, w, 3))
    trans = np.ones((h, w))
    idx = np.flatnonzero(proj.visible)
    order = idx[np.argsort(proj.depths[idx], kind="stable")]
    for i in order.tolist():
        u, v = proj.means2d[i]
        rx, ry = proj.radii[i]
        x0 = max(0, math.ceil(u - rx - 0.5))
        x1 = min(w - 1, math.floor(u + rx - 0.5))
        y0 = max(0, math.ceil(v - ry - 0.5))
        y1 = min(h - 1, math.floor(v + ry - 0.5))
        if x0 > x1 or y0 > y1:
            continue
        a, b, c = proj.cov2d[i]
        det = a * c - b * b
        ia, ib, ic = c / det, -b / det, a / det  # the conic: inverse covariance
        dx = (np.arange(x0, x1 + 1) + 0.5 - u)[None, :]
        dy = (np.arange(y0, y1 + 1) + 0.5 - v)[:, None]
        power = 0.5 * (ia * dx * dx + 2.0 * ib * dx * dy + ic * dy * dy)
        alpha = np.minimum(ALPHA_MAX, proj.opacities[i] * np.exp(-power))
        alpha[(power > MAX_POWER) | (alpha < ALPHA_MIN)] = 0.0
        t_sub = trans[y0 : y1 + 1, x0 : x1 + 1]
        color[y0 : y1 + 1, x0 : x1 + 1] += (t_sub * alpha)[:, :, None] * proj.colors[i]
        t_sub *= 1.0 - alpha
    return (color + trans[:, :, None] * bg).astype(np.float32)
