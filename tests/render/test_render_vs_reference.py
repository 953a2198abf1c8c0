"""The GL renderer against the numpy reference, as images (PSNR >= 35 dB).

Both GL paths are checked: the compute path (GL >= 4.3: compute preprocess,
GPU radix sort) and the GL 3.3 path (fragment-pass preprocess, CPU sort).
"""
import numpy as np
import pytest
from render_scenes import CAMERA, SCENES, psnr, scene_anisotropic, scene_sh3

from app.render.splat_renderer import SplatRenderer
from editor.model.camera import Camera
from editor.rendering import render_reference

MIN_PSNR = 35.0
PATHS = {"compute": True, "gl33": False}


@pytest.fixture(scope="module")
def renderers(gl_ctx):
    with gl_ctx:  # module fixtures run before the per-test fixture makes gl_ctx current
        made = {name: SplatRenderer(gl_ctx, use_compute=flag) for name, flag in PATHS.items()}
    yield made
    with gl_ctx:
        for r in made.values():
            r.release()


def gl_image(renderer, cloud, camera, **kw):
    renderer.set_cloud(cloud)
    renderer.render(camera, **kw)
    return renderer.read_image(dtype=np.float32)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scene", SCENES)
def test_scene_matches_reference(renderers, scene, path):
    cloud = SCENES[scene]()
    ref = render_reference(cloud, CAMERA)
    img = gl_image(renderers[path], cloud, CAMERA)
    assert ref.std() > 0.02, "scene renders (nearly) blank: the test would prove nothing"
    assert psnr(img, ref) >= MIN_PSNR


@pytest.mark.parametrize("path", PATHS)
def test_background_sh_cap_and_other_view(renderers, path):
    cloud = scene_sh3()
    cam = Camera([2.5, -1.5, -3.0], [0.2, 0.1, 0.0], [0.0, -1.0, 0.0], 65.0, 120, 90)
    for kw in ({"background": (0.2, 0.5, 0.9)}, {"sh_degree": 1}, {"sh_degree": 0, "background": (1, 1, 1)}):
        ref = render_reference(cloud, cam, **kw)
        assert psnr(gl_image(renderers[path], cloud, cam, **kw), ref) >= MIN_PSNR, kw


def test_sh_degree_changes_the_image(renderers):
    """The SH cap is not a no-op (so the test above can fail)."""
    cloud = scene_sh3()
    full = gl_image(renderers["compute"], cloud, CAMERA)
    dc = gl_image(renderers["compute"], cloud, CAMERA, sh_degree=0)
    assert psnr(full, dc) < 30


def test_splat_scale_equals_scaled_cloud(renderers):
    cloud = scene_anisotropic()
    bigger = cloud.copy()
    bigger.log_scales = bigger.log_scales + np.float32(np.log(1.7))
    ref = render_reference(bigger, CAMERA)
    assert psnr(gl_image(renderers["compute"], cloud, CAMERA, splat_scale=1.7), ref) >= MIN_PSNR


@pytest.mark.parametrize("path", PATHS)
def test_donut_sample_matches_reference(renderers, samples_dir, path):
    from editor.formats import read_splats

    cloud = read_splats(samples_dir / "donut.ply").cloud
    lo, hi = cloud.bounds()
    for direction in ((0, 0, -1), (0.3, -0.5, 1.0)):
        cam = Camera.framing(lo, hi, direction=direction, width=128, height=96)
        ref = render_reference(cloud, cam)
        assert psnr(gl_image(renderers[path], cloud, cam), ref) >= MIN_PSNR, direction


def test_uint8_output_is_rounded_float(renderers):
    r = renderers["compute"]
    cloud = scene_anisotropic()
    f = gl_image(r, cloud, CAMERA)
    u = r.read_image()
    assert u.dtype == np.uint8 and u.shape == (CAMERA.height, CAMERA.width, 3)
    assert np.abs(u.astype(np.float64) - f * 255).max() <= 0.5 + 1e-3


def test_image_orientation(renderers):
    """Pixel (0, 0) is the top-left: a splat up and left of the centre (y is
    down in camera space) lands in the top-left quadrant, in both paths."""
    from render_scenes import cloud as make

    c = make(np.array([[-0.8, -0.6, 0.0]]), np.array([[0.15, 0.15, 0.15]]), np.array([[1.0, 0, 0, 0]]),
             np.array([0.9]), np.array([[1.0, 1.0, 1.0]]))
    for r in renderers.values():
        img = gl_image(r, c, CAMERA)
        ys, xs = np.nonzero(img[:, :, 0] > 0.5)
        assert len(xs) and xs.mean() < CAMERA.width / 2 and ys.mean() < CAMERA.height / 2


@pytest.mark.parametrize("path", PATHS)
def test_non_finite_splats_are_skipped_like_the_reference(renderers, path):
    cloud = scene_anisotropic()
    cloud.positions[3] = np.nan
    cloud.positions[4, 2] = np.inf
    cloud.log_scales[5] = 1e4  # exp overflows to inf
    cloud.sh[6, 0, 1] = np.nan
    cloud.opacity_logits[7] = np.nan
    cloud.rotations[8] = np.nan
    ref = render_reference(cloud, CAMERA)
    assert np.isfinite(ref).all()
    img = gl_image(renderers[path], cloud, CAMERA)
    assert np.isfinite(img).all() and psnr(img, ref) >= MIN_PSNR


SAMPLE_FILES = [
    "guitar.compressed.ply", "guitar.spz", "minimal-raw.spz", "minimal-v2.spz", "minimal-v3.spz",
    "minimal-v4.spz", "minimal.ksplat", "minimal.splat", "monkey_0001.sog",
    pytest.param("playcanvas-logo-sog/meta.json", marks=pytest.mark.slow),  # 307k splats: ~12 s of numpy
]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_shared_samples_match_reference(renderers, samples_dir, name):
    """Every sample file a codec can read, framed from an oblique side."""
    from editor.formats import FormatError, read_splats

    try:
        cloud = read_splats(samples_dir / name).cloud
    except FormatError as e:
        pytest.skip(f"{name} is not readable here: {e}")
    lo, hi = cloud.bounds()
    cam = Camera.framing(lo, hi, direction=(0.4, -0.5, 1.0), width=96, height=72)
    ref = render_reference(cloud, cam)
    assert ref.max() > 0.05  # something is in view
    for path in PATHS:
        assert psnr(gl_image(renderers[path], cloud, cam), ref) >= MIN_PSNR, path
