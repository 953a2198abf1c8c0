"""The differentiable torch rasterizer (`inference.rasterizer`).

Checked three ways: the tiled fast path equals its plain autograd twin (values
and gradients, float64); `torch.autograd.gradcheck` on the hand-written
backward; the forward image agrees with the project's numpy reference renderer
(`editor.rendering.reference.render_reference`, PSNR >= 35 dB).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from editor.model.camera import Camera
from editor.model.sh import sh_basis
from editor.rendering import reference
from editor.model.splat_cloud import SplatCloud
from inference.rasterizer import (
    T_MIN_3DGS,
    cloud_tensors,
    rasterize,
    rasterize_reference_torch,
    render_cloud,
    sh_basis_torch,
)

CAM = dict(eye=[0.0, 0.0, -3.0], target=[0.0, 0.0, 0.0], up=[0.0, -1.0, 0.0])


def _scene(n: int, degree: int = 3, seed: int = 0, spread=(1.5, 1.0, 1.0), log_scale=-2.5) -> SplatCloud:
    """Random anisotropic splats in front of a camera at z = -3 looking at +z."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-1, 1, (n, 3)) * spread
    ls = log_scale + rng.normal(0, 0.6, (n, 3))
    q = rng.normal(size=(n, 4))
    op = rng.normal(0.5, 2.0, n)
    sh = rng.normal(0, 0.3, (n, (degree + 1) ** 2, 3))
    sh[:, 0] = rng.normal(0, 1.0, (n, 3))
    return SplatCloud(pos, ls, q / np.linalg.norm(q, axis=1, keepdims=True), op, sh)


def _hard_scene() -> SplatCloud:
    """Everything the rules have to get right in one cloud: anisotropic SH-3
    splats, splats crossing the image border, splats near / behind the camera
    and its near plane, huge and tiny splats, a NaN splat, faint splats."""
    c = _scene(400, degree=3, seed=3, spread=(2.2, 1.6, 1.0))
    pos, ls, op = c.positions.copy(), c.log_scales.copy(), c.opacity_logits.copy()
    pos[0], ls[0] = [0.0, 0.0, 0.5], [0.8, 0.6, 0.1]  # huge, covers the frame
    pos[1], ls[1] = [0.3, -0.2, 0.0], [-9.0, -9.0, -9.0]  # tiny: the 0.3 px^2 low-pass dominates
    pos[2], ls[2] = [0.1, 0.1, -2.83], [-3.0, -3.5, -3.0]  # depth 0.17: in front of the near plane (0.15)
    pos[3], ls[3] = [0.0, 0.05, -2.9], [-2.0, -2.0, -2.0]  # depth 0.1: behind the near plane, dropped
    pos[4] = [0.0, 0.0, -4.0]  # behind the camera
    pos[5], ls[5] = [1.45, 0.0, 0.0], [-1.5, -1.0, -1.2]  # straddles the right border
    pos[6], ls[6] = [0.0, -1.15, 0.0], [-1.2, -3.0, -2.0]  # straddles the top border
    pos[7], ls[7] = [0.3, 0.3, -2.7], [-1.0, -1.0, -1.0]  # big and near: J clamp at play
    pos[8] = [np.nan, 0.0, 0.0]
    op[9:20] = -6.0  # opacity ~ 1/400: below 1/255, invisible
    ls[20:40, 0] -= 2.5  # needles
    return SplatCloud(pos, ls, c.rotations, op, c.sh)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _tensors(cloud: SplatCloud, dtype=torch.float64):
    t = cloud_tensors(cloud, dtype=dtype, requires_grad=True)
    return [t["means"], t["log_scales"], t["quats"], t["opacity_logits"], t["sh"]]


# ------------------------------------------------------------------------ maths
def test_sh_basis_matches_numpy():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(50, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    for degree in range(4):
        ours = sh_basis_torch(torch.tensor(d), degree).numpy()
        np.testing.assert_allclose(ours, sh_basis(d, degree), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "seed,width,height,tile,budget,t_min",
    [
        (0, 37, 29, 16, 1 << 18, 0.0),  # image not a multiple of the tile
        (1, 40, 24, 8, 64 * 7, 0.0),  # tiny budget: many tiles split in depth chunks
        (2, 33, 21, 4, 16 * 5, T_MIN_3DGS),  # 3DGS early termination across chunks
        (4, 70, 52, None, None, 0.0),  # the defaults
    ],
)
def test_tiled_equals_plain_twin_values_and_gradients(seed, width, height, tile, budget, t_min):
    cloud = _hard_scene() if seed == 0 else _scene(150, degree=2, seed=seed, log_scale=-2.0)
    if t_min:
        cloud.opacity_logits[:] = 4.0  # dense and opaque: most pixels terminate
    cam = Camera(**CAM, fov_y_deg=50, width=width, height=height)
    ts = _tensors(cloud)
    bg = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64, requires_grad=True)
    knobs = {k: v for k, v in (("tile", tile), ("budget", budget)) if v is not None}
    slow = rasterize_reference_torch(*ts, cam, bg, t_min=t_min)
    w = torch.randn(slow.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    g_slow = torch.autograd.grad((slow * w).sum(), ts + [bg])
    for cache_bytes in (0, 1 << 30):  # backward recomputing alpha, or reusing the forward's
        fast = rasterize(*ts, cam, bg, t_min=t_min, cache_bytes=cache_bytes, **knobs)
        assert fast.shape == (height, width, 3)
        torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-12)
        g_fast = torch.autograd.grad((fast * w).sum(), ts + [bg])
        for name, a, b in zip(("means", "log_scales", "quats", "opacity", "sh", "background"), g_fast, g_slow):
            assert torch.isfinite(a).all(), name
            assert b.abs().max() > 0, name  # the comparison is not vacuous
            torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10, msg=f"gradient of {name}")
    if t_min:  # termination really happened, so the rule was exercised
        with torch.no_grad():
            assert (rasterize(*ts, cam, bg, **knobs) - fast).abs().max() > 1e-6
    if seed == 0:  # splat 8 has a NaN centre: dropped, with zero gradients
        assert all((g[8] == 0).all() for g in g_fast[:5])


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(5)
    n = 4
    spread = torch.tensor([0.5, 0.4, 0.3], dtype=torch.float64)
    means = (torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * spread
    log_scales = torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.3 - 1.6
    quats = torch.randn(n, 4, generator=g, dtype=torch.float64)
    opacity = torch.randn(n, generator=g, dtype=torch.float64) * 0.5
    sh = torch.randn(n, 16, 3, generator=g, dtype=torch.float64) * 0.15
    bg = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (means, log_scales, quats, opacity, sh, bg)]
    cam = Camera(**CAM, fov_y_deg=40, width=8, height=7)

    def fn(*args):
        return rasterize(*args[:5], cam, args[5], tile=4, budget=16 * 3)

    assert fn(*inputs).std() > 0.02  # the splats are in view
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_float32_agrees_with_float64_and_early_termination_is_bounded():
    cloud = _scene(2000, degree=3, seed=9, log_scale=-3.0)
    cam = Camera(**CAM, fov_y_deg=50, width=64, height=48)
    t64, t32 = _tensors(cloud, torch.float64), _tensors(cloud, torch.float32)
    img64 = rasterize_reference_torch(*t64, cam)
    img32 = rasterize(*t32, cam)
    assert (img32.double() - img64).abs().max() < 1e-4
    g64 = torch.autograd.grad(img64.square().sum(), t64)
    g32 = torch.autograd.grad(img32.square().sum(), t32)
    for name, a, b in zip(("means", "log_scales", "quats", "opacity", "sh"), g32, g64):
        rel = (a.double() - b).norm() / b.norm()
        assert rel < 1e-3, (name, float(rel))
    # 3DGS leaves out the splat that would take T below 1e-4, which can carry
    # alpha * T < 1e-4 / (1 - 0.99) = 0.01: a small, bounded change.
    with torch.no_grad():
        early = rasterize(*t32, cam, t_min=T_MIN_3DGS)
    diff = (early - img32).abs()
    assert 0 < diff.max() < 0.0101 and diff.mean() < 1e-4


# ----------------------------------------------------------- against reference
@pytest.mark.parametrize("background,sh_degree", [((0.0, 0.0, 0.0), None), ((0.3, 0.6, 1.0), 1)])
def test_forward_matches_numpy_reference(background, sh_degree):
    cloud = _hard_scene()
    for cam in (
        Camera(**CAM, fov_y_deg=50, width=96, height=72),
        Camera([1.0, -0.6, -2.5], [0.1, 0.0, 0.0], [0.0, -1.0, 0.2], fov_y_deg=65, width=80, height=100),
    ):
        ref = reference.render_reference(cloud, cam, background=background, sh_degree=sh_degree)
        ours = render_cloud(cloud, cam, background=background, sh_degree=sh_degree)
        assert ours.shape == ref.shape and ours.dtype == np.float32
        assert ref.std() > 0.05  # a real picture, not a blank frame
        assert _psnr(ours, ref) >= 35.0, _psnr(ours, ref)
        assert np.abs(ours - ref).max() < 0.05


def test_forward_matches_reference_on_real_scene(samples_dir):
    from editor.formats.registry import read_splats

    cloud = read_splats(samples_dir / "donut.ply", None).cloud
    lo, hi = cloud.bounds()
    cam = Camera.framing(lo, hi, direction=(0.3, -0.6, -1.0), width=80, height=60)
    ref = reference.render_reference(cloud, cam)
    ours = render_cloud(cloud, cam)
    assert ref.std() > 0.05
    assert _psnr(ours, ref) >= 35.0, _psnr(ours, ref)


def test_near_plane_and_invisible_splats_follow_the_reference():
    cam = Camera(**CAM, fov_y_deg=50, width=32, height=24)
    near = reference.near_plane(cam)
    base = _scene(1, degree=0, seed=1)
    base.log_scales[:] = -2.0
    base.opacity_logits[:] = 3.0
    for depth, drawn in ((near * 1.2, True), (near * 0.8, False), (-1.0, False)):
        c = base.copy()
        c.positions[:] = [0.0, 0.0, -3.0 + depth]
        img = render_cloud(c, cam, background=(0.0, 0.0, 0.0))
        assert (img.max() > 0) == drawn, depth
        np.testing.assert_allclose(img, reference.render_reference(c, cam), atol=2e-3)


def test_empty_and_culled_scenes_give_the_background():
    cam = Camera(**CAM, fov_y_deg=50, width=20, height=10)
    bg = (0.25, 0.5, 0.75)
    img = render_cloud(SplatCloud.empty(3), cam, background=bg)
    np.testing.assert_array_equal(img, np.broadcast_to(np.float32(bg), (10, 20, 3)))
    behind = _scene(30, degree=1, seed=2)
    behind.positions[:, 2] = -5.0
    np.testing.assert_array_equal(render_cloud(behind, cam, background=bg), img)


# --------------------------------------------------------------- optimisation
def test_one_adam_step_on_colours_reduces_the_loss():
    torch.manual_seed(0)
    cam = Camera(**CAM, fov_y_deg=50, width=48, height=32)
    cloud = _scene(300, degree=1, seed=7)
    target_cloud = cloud.copy()
    target_cloud.sh = target_cloud.sh[:, :, ::-1].copy()  # same geometry, colours channel-swapped
    target = torch.from_numpy(render_cloud(target_cloud, cam))
    ts = cloud_tensors(cloud, dtype=torch.float32)
    sh = ts.pop("sh").requires_grad_(True)
    opt = torch.optim.Adam([sh], lr=0.05)

    def loss_fn():
        return (rasterize(sh=sh, camera=cam, **ts) - target).abs().mean()

    before = loss_fn()
    opt.zero_grad()
    before.backward()
    assert sh.grad.abs().sum() > 0
    opt.step()
    with torch.no_grad():
        after = loss_fn()
    assert after.item() < 0.95 * before.item()


def test_gradients_reach_every_splat_parameter_in_float32():
    cam = Camera(**CAM, fov_y_deg=50, width=40, height=30)
    t = cloud_tensors(_scene(80, degree=3, seed=4), dtype=torch.float32, requires_grad=True)
    bg = torch.tensor([0.1, 0.1, 0.1], requires_grad=True)
    img = rasterize(camera=cam, background=bg, **t)
    assert img.dtype == torch.float32
    img.square().mean().backward()
    for name, v in list(t.items()) + [("background", bg)]:
        assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0, name
