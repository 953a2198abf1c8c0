"""The numpy reference rasterizer against hand-computed values (it is the
contract the GL and torch renderers are tested against, so it is tested on
its own first)."""
import numpy as np
import pytest

from editor.model.camera import Camera
from editor.model.sh import SH_C1
from editor.model.splat_cloud import SH_C0, SplatCloud, logit
from editor.rendering import near_plane, project_splats, render_reference

CAM = Camera([0, 0, 0], [0, 0, 1], [0, -1, 0], 60.0, 64, 48)


def one_splat(pos, sigma, opacity, colour=(1.0, 0.5, 0.25), sh=None):
    if sh is None:
        sh = ((np.asarray(colour, float) - 0.5) / SH_C0)[None, None, :]
    return SplatCloud(np.array([pos], float), np.log(np.full((1, 3), sigma)), np.array([[1.0, 0, 0, 0]]),
                      logit(np.array([opacity])), sh)


def at_pixel(px, py, z):
    """World point (camera at the origin looking +z) that projects to pixel
    coordinates (px, py)."""
    return [(px - CAM.cx) * z / CAM.fx, (py - CAM.cy) * z / CAM.fy, z]


def test_single_gaussian_values():
    # on the optical axis the Jacobian is diag(f/z): cov2d = (sigma f / z)^2 + 0.3
    cam = Camera([0, 0, 0], [0, 0, 1], [0, -1, 0], 60.0, 65, 49)  # pixel (32, 24) is centred on the axis
    z, sigma, op = 2.0, 0.004, 0.7
    img = render_reference(one_splat([0, 0, z], sigma, op), cam, background=(0, 0, 1))
    var = (sigma * cam.fx / z) ** 2 + 0.3  # px^2, with the low-pass
    hits = 0
    for dx in range(-4, 5):
        for dy in range(-4, 5):
            power = 0.5 * (dx * dx + dy * dy) / var
            alpha = op * np.exp(-power)
            alpha = alpha if alpha >= 1 / 255 and power <= 4.5 else 0.0
            hits += alpha > 0
            expect = np.array([1.0, 0.5, 0.25]) * alpha + np.array([0, 0, 1.0]) * (1 - alpha)
            assert np.allclose(img[24 + dy, 32 + dx], expect, atol=1e-6), (dx, dy)
    assert 5 <= hits < 81  # the footprint is cut: the 1/255 and 3-sigma rules matter here
    assert np.allclose(img[0, 0], (0, 0, 1))


def test_alpha_is_capped_at_099():
    img = render_reference(one_splat(at_pixel(20.5, 10.5, 2.0), 0.2, 0.99999), CAM, background=(1, 1, 1))
    assert np.allclose(img[10, 20], np.array([1.0, 0.5, 0.25]) * 0.99 + 0.01, atol=1e-6)


def test_near_plane_rule():
    assert near_plane(CAM) == pytest.approx(0.05)  # |target - eye| = 1: small-scene branch
    far_cam = Camera([0, 0, 0], [0, 0, 10], [0, -1, 0], 60.0, 64, 48)
    assert near_plane(far_cam) == pytest.approx(0.2)  # the 3DGS constant
    before = one_splat(at_pixel(32, 24, 0.19), 0.01, 0.9)
    after = one_splat(at_pixel(32, 24, 0.21), 0.01, 0.9)
    assert render_reference(before, far_cam).max() == 0.0
    assert render_reference(after, far_cam).max() > 0.5


def test_front_to_back_by_depth_not_index():
    far = one_splat(at_pixel(32.5, 24.5, 3.0), 0.3, 0.95, colour=(0, 1, 0))
    near = one_splat(at_pixel(32.5, 24.5, 1.0), 0.1, 0.95, colour=(1, 0, 0))
    for c in (SplatCloud.concatenate([far, near]), SplatCloud.concatenate([near, far])):
        px = render_reference(c, CAM)[24, 32]
        assert px[0] > 0.9 and px[1] < 0.06


def test_faint_splats_vanish_and_culling_never_changes_pixels():
    faint = one_splat(at_pixel(20.5, 10.5, 2.0), 0.05, 0.9 / 255)
    assert render_reference(faint, CAM).max() == 0.0
    assert not project_splats(faint, CAM).visible[0]
    off = one_splat(at_pixel(-30, 10, 2.0), 0.01, 0.9)  # far left of the image
    assert not project_splats(off, CAM).visible[0]


def test_sh_is_evaluated_along_eye_to_splat():
    sh = np.zeros((1, 4, 3))
    sh[0, 0] = (0.5 - 0.5) / SH_C0  # DC gives 0.5 grey
    sh[0, 1] = (0.2, 0.0, 0.0)  # band 1, basis -SH_C1 * y: red varies with the direction's y
    pos = np.array(at_pixel(20.5, 10.5, 2.0))
    c = one_splat(pos, 0.001, 0.98, sh=sh)
    d = pos / np.linalg.norm(pos)
    red = np.clip(0.5 + 0.2 * (-SH_C1 * d[1]), 0, 1)
    img = render_reference(c, CAM)
    assert img[10, 20, 0] == pytest.approx(0.98 * red, abs=1e-6)
    assert img[10, 20, 1] == pytest.approx(0.98 * 0.5, abs=1e-6)
    assert np.allclose(render_reference(c, CAM, sh_degree=0)[10, 20], 0.98 * 0.5, atol=1e-6)
