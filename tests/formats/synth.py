"""Synthetic splat clouds for format tests (shared by every codec's tests).

`random_cloud` makes splats with realistic value ranges, so quantising formats
see the kind of data trainers produce.
"""
from __future__ import annotations

import numpy as np

from editor.model.splat_cloud import SplatCloud, normalize_quaternions, sh_coeff_count


def random_cloud(n: int, sh_degree: int, seed: int, extras: bool = False) -> SplatCloud:
    """``n`` random splats with SH degree ``sh_degree`` (0..3).

    positions uniform in [-5, 5]^3; log-scales uniform in [-4, 0]; unit
    quaternions (w, x, y, z) uniform on the sphere; opacity logits in [-4, 4];
    SH DC in [-2, 2] and higher bands in [-0.3, 0.3]. With ``extras`` the cloud
    also carries normals ``nx ny nz`` (float32, like INRIA's PLYs) and an
    ``object_id`` (int32) and ``flags`` (uint8) per splat.
    """
    rng = np.random.default_rng(seed)
    k = sh_coeff_count(sh_degree)
    sh = np.empty((n, k, 3), np.float32)
    sh[:, 0] = rng.uniform(-2.0, 2.0, (n, 3))
    sh[:, 1:] = rng.uniform(-0.3, 0.3, (n, k - 1, 3))
    cloud = SplatCloud(
        positions=rng.uniform(-5.0, 5.0, (n, 3)),
        log_scales=rng.uniform(-4.0, 0.0, (n, 3)),
        rotations=normalize_quaternions(rng.normal(size=(n, 4))),
        opacity_logits=rng.uniform(-4.0, 4.0, n),
        sh=sh,
    )
    if extras:
        normals = normalize_quaternions(np.c_[rng.normal(size=(n, 3)), np.zeros(n)])[:, :3]
        cloud.extras = {
            "nx": normals[:, 0].astype(np.float32),
            "ny": normals[:, 1].astype(np.float32),
            "nz": normals[:, 2].astype(np.float32),
            "object_id": rng.integers(-1000, 1000, n).astype(np.int32),
            "flags": rng.integers(0, 256, n).astype(np.uint8),
        }
    return cloud
