"""The interaction budget: top-K selection, K tuning, and the GPU's pick."""
import numpy as np
import pytest
from render_scenes import CAMERA, cloud, random_rotations

from app.render.interaction import (
    HIST_BINS,
    RESOLUTION_LEVELS,
    FramePlan,
    InteractionBudget,
    cut_bin,
    importance_bin,
    select_top_k,
)
from app.render.splat_renderer import SplatRenderer
from editor.rendering import project_splats


def test_select_top_k_picks_the_largest_with_low_index_ties():
    imp = np.array([5.0, 1.0, 7.0, 5.0, 3.0, 5.0, 0.0])
    assert select_top_k(imp, 3).tolist() == [0, 2, 3]
    assert select_top_k(imp, 1).tolist() == [2]
    assert select_top_k(imp, 0).tolist() == []
    assert select_top_k(imp, 10).tolist() == list(range(7))
    rng = np.random.default_rng(0)
    big = rng.random(100_000)
    k = 777
    assert set(select_top_k(big, k).tolist()) == set(np.argsort(-big)[:k].tolist())


def test_cut_bin_keeps_at_most_k():
    hist = np.zeros(HIST_BINS, np.int64)
    hist[[10, 20, 30]] = [100, 50, 5]
    assert cut_bin(hist, 1000) == 0
    assert cut_bin(hist, 155) == 0
    assert cut_bin(hist, 154) == 11 and cut_bin(hist, 55) == 11
    assert cut_bin(hist, 54) == 21 and cut_bin(hist, 5) == 21
    assert cut_bin(hist, 4) == 31
    assert importance_bin(np.array([2.0**-8, 1.0, 2.0**24, 1e-30])).tolist() == [0, 256, HIST_BINS - 1, 0]


def simulate(budget: InteractionBudget, frame_time, n: int, frames: int = 60):
    """Run the controller against a frame-time model; returns the plans."""
    plans = []
    for _ in range(frames):
        plan = budget.plan(True, n)
        budget.record(frame_time(plan), n)
        plans.append(plan)
    return plans


def test_budget_converges_to_30_fps():
    # 3 ms fixed + 2 us a splat: 30 fps allows ~13k splats
    model = lambda p: 0.003 + 2e-6 * p.budget * p.resolution_scale**2  # noqa: E731
    b = InteractionBudget(target_fps=30)
    plans = simulate(b, model, 1_000_000)
    tail = [model(p) for p in plans[-20:]]
    assert max(tail) <= 1 / 30 and min(tail) > 0.6 / 30


def test_budget_draws_everything_when_cheap_and_stops_for_full_quality():
    b = InteractionBudget(target_fps=30)
    plans = simulate(b, lambda p: 0.002, 20_000)
    assert plans[-1].budget == 20_000
    assert b.plan(False, 20_000) == FramePlan(None, 1.0)


def test_budget_lowers_resolution_when_fill_bound():
    # a few huge splats: even k_min splats take 80 ms at full resolution
    model = lambda p: 0.08 * p.resolution_scale**2 + 1e-7 * p.budget  # noqa: E731
    b = InteractionBudget(target_fps=30)
    plans = simulate(b, model, 500_000, frames=80)
    assert plans[-1].resolution_scale < 1.0
    assert all(model(p) <= 1 / 30 for p in plans[-10:])
    assert plans[-1].resolution_scale in RESOLUTION_LEVELS


def importance_reference(cloud_, camera):
    p = project_splats(cloud_, camera)
    a, b, c = p.cov2d.T
    area = np.minimum(9 * np.pi * np.sqrt(a * c - b * b), camera.width * camera.height)
    return np.where(p.visible, p.opacities * area, -1.0), p.visible


@pytest.mark.parametrize("use_compute", [True, False])
def test_renderer_budget_picks_top_k_by_importance(gl_ctx, use_compute):
    rng = np.random.default_rng(5)
    n = 3000
    c = cloud(rng.uniform([-1.5, -1.1, -1], [1.5, 1.1, 2], (n, 3)), rng.lognormal(-3.5, 0.8, (n, 3)),
              random_rotations(rng, n), rng.uniform(0.02, 1.0, n), rng.uniform(0, 1, (n, 3)))
    imp, visible = importance_reference(c, CAMERA)
    r = SplatRenderer(gl_ctx, use_compute=use_compute)
    try:
        r.set_cloud(c)
        k = 400
        stats = r.render(CAMERA, budget=k)
        chosen = r.drawn_indices()
        assert stats.drawn == len(chosen) <= k
        assert len(set(chosen.tolist())) == len(chosen)
        rest = np.setdiff1d(np.flatnonzero(visible), chosen)
        if use_compute:
            # exact importance, cut at a histogram bin (1/32 octave)
            assert len(chosen) >= 0.9 * k
            assert imp[chosen].min() >= imp[rest].max() * 2 ** (-1 / 32) * 0.999
        else:
            # the CPU path estimates the importance without the EWA projection
            assert len(chosen) == k
            assert np.median(imp[chosen]) > np.quantile(imp[rest], 0.9)
        full = r.render(CAMERA)
        if use_compute:  # culled on the GPU
            assert abs(full.drawn - int(visible.sum())) <= 2
        else:  # culled per vertex; the sorted list holds every splat
            assert full.drawn == n
    finally:
        r.release()


def test_budget_probe_prefers_resolution_when_fill_bound():
    # fill-bound: time grows with pixels; 20k splats at full resolution take 70 ms
    model = lambda p: 0.002 + 3.5e-6 * p.budget * p.resolution_scale**2  # noqa: E731
    b = InteractionBudget(target_fps=30)
    plans = simulate(b, model, 45_000, frames=120)
    assert b.bound == "fill"
    assert plans[-1].resolution_scale < 1.0 and plans[-1].budget >= 20_000
    assert all(model(p) <= 1 / 30 for p in plans[-10:])


def test_budget_probe_keeps_resolution_when_splat_bound():
    # splat-bound: per-triangle cost, resolution hardly matters
    model = lambda p: 0.003 + 2.2e-6 * p.budget * (0.9 + 0.1 * p.resolution_scale**2)  # noqa: E731
    b = InteractionBudget(target_fps=30)
    plans = simulate(b, model, 1_000_000, frames=120)
    assert b.bound == "splats"
    assert all(p.resolution_scale == 1.0 for p in plans[-30:])
    assert all(model(p) <= 1 / 30 for p in plans[-10:])


def test_coverage_boost():
    from app.render.interaction import MAX_BOOST, coverage_boost

    hist = np.zeros(HIST_BINS, np.int64)
    assert coverage_boost(hist, 0) == 1.0
    hist[[100, 400]] = [1000, 10]
    assert coverage_boost(hist, 0) == 1.0  # everything kept
    v100, v400 = 2.0 ** (100.5 / 32 - 8), 2.0 ** (400.5 / 32 - 8)
    assert np.isclose(coverage_boost(hist, 200), np.sqrt((1000 * v100 + 10 * v400) / (10 * v400)))
    hist[100] = 10**9
    assert coverage_boost(hist, 200) == MAX_BOOST
    # kept splats already covering the image 4 times over: no enlargement
    assert coverage_boost(hist, 200, image_area=10 * v400 / 4) == 1.0
    assert np.isclose(coverage_boost(hist, 200, image_area=10 * v400), 2.0)


def test_budget_frames_enlarge_kept_splats(gl_ctx):
    rng = np.random.default_rng(2)
    n = 4000
    c = cloud(rng.uniform([-1.5, -1.1, -1], [1.5, 1.1, 2], (n, 3)), rng.lognormal(-3.5, 0.5, (n, 3)),
              random_rotations(rng, n), rng.uniform(0.2, 1.0, n), rng.uniform(0, 1, (n, 3)))
    for use_compute in (True, False):
        r = SplatRenderer(gl_ctx, use_compute=use_compute)
        try:
            r.set_cloud(c)
            def settled(**kw):  # the GL 3.3 path sorts budget frames on a worker thread
                stats = r.render(CAMERA, **kw)
                if not use_compute:
                    r._cpu_sorter.wait(timeout=30)
                    stats = r.render(CAMERA, **kw)
                return stats

            assert settled().splat_boost == 1.0
            boosted = settled(budget=300)
            assert 1.2 < boosted.splat_boost <= 2.5 and boosted.drawn <= 300
            assert settled(budget=10 * n).splat_boost == 1.0
        finally:
            r.release()
