import numpy as np
import pytest

from editor.model.budget import importance_scores, keep_most_important
from editor.model.sh import eval_sh
from editor.model.splat_cloud import (
    SplatCloud,
    clouds_close,
    logit,
    matrix_to_quaternion,
    normalize_quaternions,
    quaternion_to_matrix,
    sigmoid,
)


def make_cloud(n=200, degree=3, seed=0, extras=True):
    rng = np.random.default_rng(seed)
    k = (degree + 1) ** 2
    ex = {"nx": rng.normal(size=n).astype(np.float32), "id": np.arange(n, dtype=np.int32)} if extras else {}
    return SplatCloud(
        rng.normal(size=(n, 3)),
        rng.uniform(-5, 0, size=(n, 3)),
        normalize_quaternions(rng.normal(size=(n, 4))),
        rng.uniform(-4, 4, size=n),
        rng.normal(scale=0.5, size=(n, k, 3)),
        ex,
    )


def covariances(c: SplatCloud) -> np.ndarray:
    m = quaternion_to_matrix(c.rotations) * c.scales.astype(np.float64)[:, None, :]
    return m @ m.transpose(0, 2, 1)


def test_shapes_are_validated():
    c = make_cloud(10)
    with pytest.raises(ValueError):
        SplatCloud(c.positions, c.log_scales[:5], c.rotations, c.opacity_logits, c.sh)
    with pytest.raises(ValueError):
        SplatCloud(c.positions, c.log_scales, c.rotations, c.opacity_logits, np.zeros((10, 5, 3)))
    with pytest.raises(ValueError):
        SplatCloud(c.positions, c.log_scales, c.rotations, c.opacity_logits, c.sh, {"x": np.zeros(3)})


def test_dtypes_and_degree():
    c = make_cloud(10, degree=2)
    assert c.positions.dtype == np.float32 and c.sh.dtype == np.float32
    assert c.sh_degree == 2 and len(c) == 10


def test_subset_and_concatenate_round_trip():
    c = make_cloud(50)
    mask = np.arange(50) % 3 == 0
    a, b = c.subset(mask), c.subset(~mask)
    joined = SplatCloud.concatenate([a, b])
    order = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
    assert joined.equals(c.subset(order))


def test_concatenate_pads_sh_and_extras():
    a = make_cloud(5, degree=0, extras=False)
    b = make_cloud(7, degree=2, extras=True)
    j = SplatCloud.concatenate([a, b])
    assert j.sh_degree == 2 and len(j) == 12
    assert np.all(j.sh[:5, 1:] == 0)
    assert np.all(j.extras["nx"][:5] == 0) and np.array_equal(j.extras["nx"][5:], b.extras["nx"])


def test_with_sh_degree_truncates_and_pads():
    c = make_cloud(10, degree=3)
    d1 = c.with_sh_degree(1)
    assert d1.sh.shape == (10, 4, 3) and np.array_equal(d1.sh, c.sh[:, :4])
    assert d1.with_sh_degree(3).sh[:, 4:].max() == 0
    with pytest.raises(ValueError):
        c.with_sh_degree(4)


def test_similarity_transform_moves_everything_consistently():
    rng = np.random.default_rng(3)
    c = make_cloud(100)
    r = quaternion_to_matrix(normalize_quaternions(rng.normal(size=(1, 4)))[0])
    t, s = np.array([1.0, -2.0, 0.5]), 1.7
    out = c.transformed(r, t, s)
    assert np.allclose(out.positions, s * c.positions @ r.T + t, atol=1e-5)
    # covariance transforms as s^2 R Sigma R^T
    assert np.allclose(covariances(out), s * s * r @ covariances(c) @ r.T, rtol=1e-4, atol=1e-7)
    # view-dependent colour turns with the scene: seen from a rotated direction it is the same colour
    d = rng.normal(size=(100, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    assert np.allclose(eval_sh(out.sh, d @ r.T), eval_sh(c.sh, d), atol=1e-4)
    assert np.array_equal(out.opacity_logits, c.opacity_logits)
    assert out.extras.keys() == c.extras.keys()


def test_transform_rejects_reflections_and_bad_scale():
    c = make_cloud(3)
    with pytest.raises(ValueError):
        c.transformed(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError):
        c.transformed(scale=0.0)


def test_quaternion_matrix_round_trip():
    rng = np.random.default_rng(5)
    for q in normalize_quaternions(rng.normal(size=(20, 4))):
        back = matrix_to_quaternion(quaternion_to_matrix(q))
        assert np.allclose(back, q * np.sign(q[0]), atol=1e-6)


def test_normalize_handles_zero_quaternion():
    q = normalize_quaternions(np.array([[0, 0, 0, 0], [2, 0, 0, 0]], np.float32))
    assert np.allclose(q, [[1, 0, 0, 0], [1, 0, 0, 0]])


def test_sigmoid_logit_inverse_and_stable():
    p = np.array([1e-4, 0.1, 0.5, 0.9, 0.9999], np.float32)
    assert np.allclose(sigmoid(logit(p)), p, atol=1e-6)
    assert np.all(np.isfinite(sigmoid(np.array([-1e30, 1e30], np.float32))))
    assert np.all(np.isfinite(logit(np.array([0.0, 1.0]))))


def test_bounds_and_statistics():
    c = make_cloud(20)
    lo, hi = c.bounds()
    assert np.allclose(lo, c.positions.min(0)) and np.allclose(hi, c.positions.max(0))
    st = c.statistics()
    assert st["count"] == 20 and st["sh_degree"] == 3
    assert 0 <= st["opacity"]["min"] <= st["opacity"]["median"] <= st["opacity"]["max"] <= 1
    empty = SplatCloud.empty()
    assert empty.statistics()["count"] == 0


def test_clouds_close_treats_q_and_minus_q_alike():
    c = make_cloud(10)
    d = c.copy()
    d.rotations = -d.rotations
    assert clouds_close(c, d, {"rotations": 1e-6}) == []
    d.positions = d.positions + 0.1
    assert clouds_close(c, d, {"positions": 1e-3})


def test_keep_most_important_keeps_top_scores_in_order():
    c = make_cloud(100)
    kept = keep_most_important(c, 10)
    scores = importance_scores(c)
    top = np.sort(np.argsort(-scores)[:10])
    assert kept.equals(c.subset(top))
    assert keep_most_important(c, 1000) is c
