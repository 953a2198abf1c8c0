"""Budget measurements: PSNR helpers, merging neighbours (moment matching),
the auto rule, and the measured ordering of the methods on a synthetic
surface scene (the samples' numbers are in the README)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from editor.geometry.mesh_export import rotation_between
from editor.model.splat_cloud import SplatCloud, matrix_to_quaternion, quaternion_to_matrix
from editor.rendering.budget_report import (
    AUTO_MERGE_BELOW,
    budget_psnr,
    compare_reductions,
    merge_neighbours,
    orbit_cameras,
    psnr,
    reduce_splats,
    volume_scores,
)
from tests.formats.synth import random_cloud


def sphere_surface(n=3000, seed=0) -> SplatCloud:
    """Thin splats tangent to the unit sphere, coloured by their normal."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    scales = np.c_[rng.uniform(0.03, 0.08, n), rng.uniform(0.03, 0.08, n), np.full(n, 0.005)]
    q = np.array([matrix_to_quaternion(rotation_between(np.array([0.0, 0.0, 1.0]), v)) for v in d])
    sh = ((0.5 + 0.5 * d) - 0.5)[:, None, :] / 0.28209479177387814
    return SplatCloud(d, np.log(scales), q, np.full(n, 3.0), sh)


def covariance(cloud: SplatCloud) -> np.ndarray:
    r = quaternion_to_matrix(cloud.rotations)
    return np.einsum("nij,nj,nkj->nik", r, np.exp(2.0 * cloud.log_scales.astype(np.float64)), r)


def test_psnr_and_budget_psnr():
    a = np.zeros((4, 4, 3))
    assert psnr(a, a) == math.inf
    assert psnr(a + 0.1, a) == pytest.approx(20.0)
    cloud = random_cloud(200, 1, seed=1)
    cloud.positions *= 0.2
    assert budget_psnr(cloud, cloud, views=2, size=24) == [math.inf, math.inf]
    fewer = budget_psnr(cloud, reduce_splats(cloud, 50, "importance"), views=2, size=24)
    assert all(0 < v < math.inf for v in fewer)
    assert len(orbit_cameras(cloud, 5, 16)) == 5


def test_merge_is_moment_matching():
    # two far groups of two splats each -> exactly two merged splats
    cloud = random_cloud(4, 2, seed=2)
    cloud.positions[:] = [[0, 0, 0], [0.1, 0, 0], [10, 0, 0], [10, 0.2, 0]]
    merged = merge_neighbours(cloud, 2)
    assert len(merged) == 2
    alpha = cloud.opacities.astype(np.float64)
    s = np.sort(cloud.scales.astype(np.float64), axis=1)
    w = alpha * s[:, 2] * s[:, 1]
    order = np.argsort(merged.positions[:, 0])
    for g, rows in enumerate(([0, 1], [2, 3])):
        ww = w[rows] / w[rows].sum()
        mean = ww @ cloud.positions[rows].astype(np.float64)
        d = cloud.positions[rows] - mean
        cov = np.einsum("n,nij->ij", ww, covariance(cloud.subset(np.array(rows))) + d[:, :, None] * d[:, None, :])
        m = order[g]
        assert np.allclose(merged.positions[m], mean, atol=1e-6)
        assert np.allclose(covariance(merged.subset(np.array([m])))[0], cov, rtol=1e-4, atol=1e-9)
        assert np.allclose(merged.sh[m], np.einsum("n,nkc->kc", ww, cloud.sh[rows]), atol=1e-6)
        union = 1 - np.prod(1 - alpha[rows])
        assert merged.opacities[m] <= union + 1e-6
    # a lone splat in its cell comes back as itself
    lone = random_cloud(3, 1, seed=3)
    lone.positions[:] = [[0, 0, 0], [5, 0, 0], [5.01, 0, 0]]
    out = merge_neighbours(lone, 2)
    i = int(np.argmin(out.positions[:, 0]))
    assert np.allclose(out.positions[i], lone.positions[0], atol=1e-6)
    assert np.allclose(covariance(out.subset(np.array([i])))[0], covariance(lone.subset(np.array([0])))[0], rtol=1e-4)
    assert abs(out.opacities[i] - lone.opacities[0]) < 1e-5


def test_reduce_counts_and_auto_rule():
    cloud = random_cloud(1000, 1, seed=4)
    for n in (1, 10, 250, 999):
        merged = reduce_splats(cloud, n, "merge")
        assert len(merged) <= n and len(merged) >= 0.9 * n
    assert reduce_splats(cloud, 1000) is cloud
    kept = reduce_splats(cloud, int(AUTO_MERGE_BELOW * 1000) + 1)  # importance: original rows
    assert np.isin(kept.positions[:, 0], cloud.positions[:, 0]).all()
    merged = reduce_splats(cloud, int(AUTO_MERGE_BELOW * 1000) - 100)
    assert not np.isin(merged.positions[:, 0], cloud.positions[:, 0]).all()
    with pytest.raises(ValueError):
        reduce_splats(cloud, 0)
    with pytest.raises(ValueError):
        reduce_splats(cloud, 5, "bogus")
    v = volume_scores(cloud)
    assert v.shape == (1000,) and (v >= 0).all()


def test_measured_ordering_on_a_surface_scene():
    """The README's finding on a scene we can render in a second: pruning by
    importance wins when 80 % stays, merging wins when 25 % stays."""
    cloud = sphere_surface()
    light = compare_reductions(cloud, 2400, views=3, size=48, methods=("area", "merge"))
    heavy = compare_reductions(cloud, 750, views=3, size=48, methods=("area", "merge", "volume"))
    assert np.mean(light["area"]) > np.mean(light["merge"])
    assert np.mean(heavy["merge"]) > np.mean(heavy["area"]) + 2.0
