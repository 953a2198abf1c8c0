"""Generated splat scenes and helpers for the renderer tests.

Every scene is seen by `CAMERA` (128x96, looking from z = -4 towards the
origin, y down), small enough for the numpy reference to be quick.
"""
from __future__ import annotations

import numpy as np

from editor.model.camera import Camera
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, sh_coeff_count

CAMERA = Camera([0.0, 0.0, -4.0], [0.0, 0.0, 0.0], [0.0, -1.0, 0.0], 50.0, 128, 96)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images with values in [0, 1]."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def random_rotations(rng, n):
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def cloud(positions, scales, rotations, opacities, colors=None, sh=None, sh_degree=0, rng=None) -> SplatCloud:
    """SplatCloud from linear scales and opacities; SH from ``colors`` (DC)
    plus random higher bands up to ``sh_degree`` when ``rng`` is given."""
    n = len(positions)
    k = sh_coeff_count(sh_degree)
    if sh is None:
        sh = np.zeros((n, k, 3))
        sh[:, 0] = (np.asarray(colors, float) - 0.5) / SH_C0
        if k > 1 and rng is not None:
            sh[:, 1:] = rng.normal(0.0, 0.35, (n, k - 1, 3))
    return SplatCloud(positions, np.log(np.asarray(scales, float)), rotations, logit(opacities), sh)


def scene_anisotropic(seed=0, n=300) -> SplatCloud:
    """Needles and discs up to 30:1, random orientations, overlapping."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform([-1.6, -1.2, -1.0], [1.6, 1.2, 1.5], (n, 3))
    base = rng.uniform(0.01, 0.08, (n, 1))
    ratios = np.stack([rng.uniform(1, 30, n), np.ones(n), rng.uniform(0.05, 1, n)], 1)
    return cloud(pos, base * ratios, random_rotations(rng, n), rng.uniform(0.2, 1.0, n), rng.uniform(0, 1, (n, 3)))


def scene_sh3(seed=1, n=300) -> SplatCloud:
    """SH degree 3 with strong view dependence."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform([-1.5, -1.1, -1.0], [1.5, 1.1, 1.0], (n, 3))
    scales = rng.uniform(0.02, 0.15, (n, 3))
    return cloud(pos, scales, random_rotations(rng, n), rng.uniform(0.3, 1.0, n), rng.uniform(0.2, 0.8, (n, 3)),
                 sh_degree=3, rng=rng)


def scene_near_plane(seed=2, n=120) -> SplatCloud:
    """Splats around the near plane (0.2 in front of the eye): centres just
    behind it (culled), just in front with bodies reaching behind the eye, and
    ordinary ones further away."""
    rng = np.random.default_rng(seed)
    eye_z = CAMERA.eye[2]
    depth = np.concatenate([rng.uniform(0.05, 0.19, n // 4), rng.uniform(0.21, 0.6, n // 2),
                            rng.uniform(1.0, 5.0, n - n // 4 - n // 2)])
    pos = np.stack([rng.normal(0, 0.08, n) * depth * 3, rng.normal(0, 0.06, n) * depth * 3, eye_z + depth], 1)
    scales = rng.uniform(0.01, 0.4, (n, 3))
    return cloud(pos, scales, random_rotations(rng, n), rng.uniform(0.1, 0.9, n), rng.uniform(0, 1, (n, 3)))


def scene_border(seed=3, n=200) -> SplatCloud:
    """Centres outside the image (also beyond the 1.3x Jacobian clamp) with
    bodies reaching in, and centres right on the image border."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.5, n)
    depth = z - CAMERA.eye[2]
    half_w = depth * np.tan(np.radians(CAMERA.fov_x_deg / 2))
    half_h = depth * np.tan(np.radians(CAMERA.fov_y_deg / 2))
    side = rng.integers(0, 4, n)
    f = rng.uniform(0.9, 2.0, n)  # 1.0 = on the border
    t = rng.uniform(-1, 1, n)
    x = np.where(side == 0, -f * half_w, np.where(side == 1, f * half_w, t * half_w))
    y = np.where(side == 2, -f * half_h, np.where(side == 3, f * half_h, t * half_h))
    scales = rng.uniform(0.05, 0.6, (n, 3))
    return cloud(np.stack([x, y, z], 1), scales, random_rotations(rng, n), rng.uniform(0.2, 1.0, n),
                 rng.uniform(0, 1, (n, 3)))


def scene_huge_tiny(seed=4) -> SplatCloud:
    """A few huge splats covering the whole image, many tiny ones (far below a
    pixel: the 0.3 px^2 low-pass sets their size), faint ones near the 1/255
    opacity cut, and some that are both huge and close."""
    rng = np.random.default_rng(seed)
    n_huge, n_tiny, n_faint = 6, 250, 60
    huge = cloud(rng.uniform(-0.5, 0.5, (n_huge, 3)) + [0, 0, 2.0], rng.uniform(2.0, 8.0, (n_huge, 3)),
                 random_rotations(rng, n_huge), rng.uniform(0.1, 0.35, n_huge), rng.uniform(0, 1, (n_huge, 3)))
    tiny = cloud(rng.uniform([-1.5, -1.1, -1], [1.5, 1.1, 1], (n_tiny, 3)), rng.uniform(1e-5, 2e-3, (n_tiny, 3)),
                 random_rotations(rng, n_tiny), rng.uniform(0.5, 1.0, n_tiny), rng.uniform(0, 1, (n_tiny, 3)))
    faint = cloud(rng.uniform([-1.5, -1.1, -1], [1.5, 1.1, 1], (n_faint, 3)), rng.uniform(0.02, 0.2, (n_faint, 3)),
                  random_rotations(rng, n_faint), rng.uniform(0.5 / 255, 6.0 / 255, n_faint),
                  rng.uniform(0, 1, (n_faint, 3)))
    close = cloud(np.array([[0.1, -0.05, -3.2], [-0.3, 0.2, -2.5]]), np.array([[1.5, 0.8, 0.3], [3.0, 3.0, 0.1]]),
                  random_rotations(rng, 2), np.array([0.3, 0.2]), rng.uniform(0, 1, (2, 3)))
    return SplatCloud.concatenate([huge, tiny, faint, close])


SCENES = {
    "anisotropic": scene_anisotropic,
    "sh3": scene_sh3,
    "near_plane": scene_near_plane,
    "image_border": scene_border,
    "huge_and_tiny": scene_huge_tiny,
}
