import numpy as np
import pytest

from editor.model.sh import SH_C0, eval_sh, rotate_sh, sh_basis, sh_rotation_matrix
from editor.model.splat_cloud import quaternion_to_matrix


def _random_rotation(rng):
    q = rng.normal(size=4)
    return quaternion_to_matrix(q / np.linalg.norm(q))  # float64, orthogonal to 1e-15


def _unit(rng, n):
    d = rng.normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_basis_is_orthonormal_over_the_sphere():
    # Monte-Carlo integral of Y_i Y_j over the sphere = delta_ij (real, orthonormal SH).
    rng = np.random.default_rng(1)
    d = _unit(rng, 400_000)
    y = sh_basis(d, 3)
    gram = (y.T @ y) * (4 * np.pi / len(d))
    assert np.allclose(gram, np.eye(16), atol=0.02)


def test_degree0_is_constant_c0():
    d = _unit(np.random.default_rng(0), 10)
    assert np.allclose(sh_basis(d, 0), SH_C0)


@pytest.mark.parametrize("seed", range(5))
def test_rotated_coefficients_match_rotated_sampling(seed):
    """f'(R d) == f(d) for random coefficients, rotations and directions
    (checked by sampling, independent of how the rotation matrix was built)."""
    rng = np.random.default_rng(seed)
    r = _random_rotation(rng)
    sh = rng.normal(size=(64, 16, 3)).astype(np.float32)
    d = _unit(rng, 64)
    rotated = rotate_sh(sh, r)
    assert np.allclose(eval_sh(rotated, d @ r.T), eval_sh(sh, d), atol=1e-4)


def test_rotation_matrix_is_orthogonal_and_composes():
    rng = np.random.default_rng(7)
    a, b = _random_rotation(rng), _random_rotation(rng)
    da, db, dab = sh_rotation_matrix(a), sh_rotation_matrix(b), sh_rotation_matrix(a @ b)
    assert np.allclose(da @ da.T, np.eye(16), atol=1e-9)
    assert np.allclose(da @ db, dab, atol=1e-9)


def test_180_about_x_flips_the_expected_signs():
    """The PLY(RDF) <-> SPZ(RUB) conversion is a 180 degree turn about x: each
    coefficient keeps or flips sign, never mixes."""
    d = sh_rotation_matrix(np.diag([1.0, -1.0, -1.0]))
    assert np.allclose(np.abs(d), np.eye(16), atol=1e-9)
    signs = np.round(np.diag(d)).astype(int)
    # band 1 basis is (-y, z, -x): y and z flip, x stays.
    assert list(signs[1:4]) == [-1, -1, 1]
