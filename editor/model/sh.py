"""Real spherical harmonics as 3DGS uses them (degrees 0..3), and their rotation.

The basis and its signs follow the 3DGS reference implementation
(``sh_utils.eval_sh``): coefficient k of a splat multiplies ``basis(dir)[k]``,
where ``dir`` is the unit vector from the camera centre to the splat centre, in
world coordinates. Colour = ``sum_k basis[k] * sh[k] + 0.5``, clamped to [0, 1]
by the caller.
"""
from __future__ import annotations

import numpy as np

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def sh_basis(dirs: np.ndarray, degree: int = 3) -> np.ndarray:
    """Basis values (S, (degree+1)**2) at unit directions ``dirs`` (S, 3), float64."""
    d = np.asarray(dirs, dtype=np.float64)
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    cols = [np.full_like(x, SH_C0)]
    if degree >= 1:
        cols += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        cols += [
            SH_C2[0] * x * y,
            SH_C2[1] * y * z,
            SH_C2[2] * (2 * zz - xx - yy),
            SH_C2[3] * x * z,
            SH_C2[4] * (xx - yy),
        ]
    if degree >= 3:
        cols += [
            SH_C3[0] * y * (3 * xx - yy),
            SH_C3[1] * x * y * z,
            SH_C3[2] * y * (4 * zz - xx - yy),
            SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            SH_C3[4] * x * (4 * zz - xx - yy),
            SH_C3[5] * z * (xx - yy),
            SH_C3[6] * x * (xx - 3 * yy),
        ]
    return np.stack(cols, axis=1)


def eval_sh(sh: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """RGB (N, 3) of SH coefficients ``sh`` (N, K, 3) along unit ``dirs`` (N, 3),
    before the +0.5 offset and clamping."""
    k = sh.shape[1]
    degree = int(round(np.sqrt(k))) - 1
    basis = sh_basis(dirs, degree)
    return np.einsum("nk,nkc->nc", basis, sh.astype(np.float64))


def _fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)


_SAMPLE_DIRS = _fibonacci_sphere(128)


def sh_rotation_matrix(rotation: np.ndarray, degree: int = 3) -> np.ndarray:
    """Block-diagonal matrix D ((d+1)^2, (d+1)^2) with ``coeffs' = D @ coeffs``
    such that the rotated function satisfies f'(R d) = f(d).

    Each band is closed under rotation, so D is found exactly (to float
    precision) by fitting ``Y(dirs) @ D = Y(R^T dirs)`` over well-spread sample
    directions. Plain least squares keeps the code obviously right; it costs
    microseconds per scene, not per splat.
    """
    r = np.asarray(rotation, dtype=np.float64)
    y = sh_basis(_SAMPLE_DIRS, degree)
    y_rot = sh_basis(_SAMPLE_DIRS @ r, degree)  # rows are R^T d
    k = (degree + 1) ** 2
    d = np.zeros((k, k))
    d[0, 0] = 1.0
    for band in range(1, degree + 1):
        s = slice(band * band, (band + 1) * (band + 1))
        sol, *_ = np.linalg.lstsq(y[:, s], y_rot[:, s], rcond=None)
        d[s, s] = sol
    return d


def rotate_sh(sh: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate SH coefficients (N, K, 3) by the 3x3 rotation; returns float32."""
    n, k = sh.shape[0], sh.shape[1]
    if k == 1:
        return sh.astype(np.float32, copy=True)
    degree = int(round(np.sqrt(k))) - 1
    d = sh_rotation_matrix(rotation, degree)
    # One float32 matrix product per band on (coefficients, N * 3): BLAS does
    # the work (a float64 einsum took 1.4 s for 500k splats at degree 3, this
    # 0.1-0.2 s); d is block diagonal, so bands never mix. Error ~1e-6.
    x = np.ascontiguousarray(sh.transpose(1, 0, 2), dtype=np.float32).reshape(k, n * 3)
    out = np.empty_like(x)
    out[0] = x[0]
    for band in range(1, degree + 1):
        s = slice(band * band, (band + 1) ** 2)
        out[s] = d[s, s].astype(np.float32) @ x[s]
    return np.ascontiguousarray(out.reshape(k, n, 3).transpose(1, 0, 2))
