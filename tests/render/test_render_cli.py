"""`splatforge render` end to end (in-process, headless EGL)."""
import json

import numpy as np
import pytest
from PIL import Image
from render_scenes import CAMERA, psnr, scene_sh3

from app.cli.main import main
from app.cli.render import orbit_cameras, parse_background
from app.cli.common import CliError
from editor.formats import write_splats
from editor.model.camera import Camera
from editor.rendering import render_reference


@pytest.fixture
def scene_file(tmp_path):
    path = tmp_path / "scene.ply"
    write_splats(scene_sh3(), path)
    return path


@pytest.fixture
def camera_file(tmp_path):
    path = tmp_path / "cam.json"
    CAMERA.with_size(64, 48).save(path)
    return path


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_renders_a_png_that_matches_the_reference(gl_ctx, capsys, tmp_path, scene_file, camera_file):
    out = tmp_path / "out.png"
    rc, _, err = run_cli(capsys, "render", scene_file, "--camera", camera_file, "-o", out, "--background", "0,0,0.5")
    assert rc == 0, err
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (48, 64, 3)
    ref = render_reference(scene_sh3(), CAMERA.with_size(64, 48), background=(0, 0, 0.5))
    assert psnr(img / 255.0, ref) > 35
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_size_override_and_default_camera(gl_ctx, capsys, tmp_path, scene_file, camera_file):
    out = tmp_path / "wide.png"
    assert run_cli(capsys, "render", scene_file, "--camera", camera_file, "-o", out, "--width", "80")[0] == 0
    assert Image.open(out).size == (80, 48)
    out2 = tmp_path / "framed.png"
    assert run_cli(capsys, "render", scene_file, "-o", out2, "--width", "96", "--height", "54")[0] == 0
    img = np.asarray(Image.open(out2).convert("RGB"))
    assert img.shape == (54, 96, 3) and img.max() > 50  # the framing camera sees the scene


@pytest.mark.parametrize(
    "camera_json, message",
    [
        ({"eye": [0, 0, 1], "target": [0, 0, 1], "up": [0, -1, 0], "fov_y_deg": 50, "width": 64, "height": 48},
         "same point"),
        ({"eye": [0, 0, -4], "target": [0, 0, 0], "up": [0, -1, 0], "width": 64}, "missing key"),
        ("not json at all", "not valid JSON"),
    ],
)
def test_bad_camera_is_one_line_exit_2_and_no_output(capsys, tmp_path, scene_file, camera_json, message):
    cam = tmp_path / "bad.json"
    cam.write_text(camera_json if isinstance(camera_json, str) else json.dumps(camera_json))
    out = tmp_path / "out.png"
    rc, stdout, err = run_cli(capsys, "render", scene_file, "--camera", cam, "-o", out)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splatforge: error: ") and message in lines[0]
    assert str(cam) in lines[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "scene.ply"]


@pytest.mark.parametrize("content", [b"", b"ply\nformat binary_little_endian 1.0\nelement vertex 99999\nend_header\n",
                                     b"\x00garbage" * 10])
def test_unreadable_scene_exit_2(capsys, tmp_path, camera_file, content):
    bad = tmp_path / "broken.ply"
    bad.write_bytes(content)
    out = tmp_path / "out.png"
    rc, _, err = run_cli(capsys, "render", bad, "--camera", camera_file, "-o", out)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and str(bad) in err
    assert not out.exists()


@pytest.mark.parametrize(
    "extra",
    [["--background", "1,2"], ["--background", "0.5,300,0"], ["--orbit", "0"], ["--width", "0"],
     ["-o", "missing_folder/out.png"], ["-o", "out.xyz"], [], ["--video", "v.mp4", "-o", "o.png"],
     ["--video", "v.avi"], ["--orbit", "3", "-o", "frames.png"]],
)
def test_bad_arguments_exit_2(capsys, tmp_path, scene_file, camera_file, extra, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["render", scene_file, "--camera", camera_file] + (extra if "-o" in extra else extra + (["-o", "o.png"] if extra else []))
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2 and err.startswith("splatforge: error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "v.mp4").exists()


def test_orbit_frames_and_video(gl_ctx, capsys, tmp_path, scene_file, camera_file):
    frames = tmp_path / "frames"
    video = tmp_path / "turn.mp4"
    rc, _, err = run_cli(capsys, "render", scene_file, "--camera", camera_file, "--orbit", "4", "-o", frames,
                         "--video", video, "--width", "63", "--height", "47")
    assert rc == 0, err
    names = sorted(p.name for p in frames.iterdir())
    assert names == [f"frame_{i:04d}.png" for i in range(4)]
    single = tmp_path / "single.png"
    run_cli(capsys, "render", scene_file, "--camera", camera_file, "-o", single, "--width", "63", "--height", "47")
    assert np.array_equal(np.asarray(Image.open(single)), np.asarray(Image.open(frames / "frame_0000.png")))
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    assert sum(1 for _ in reader) == 4 and meta["size"] == (64, 48)  # padded to even for H.264
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_parse_background():
    assert parse_background("0,0.5,1") == (0.0, 0.5, 1.0)
    assert parse_background("255, 128, 0") == (1.0, 128 / 255, 0.0)
    for bad in ("1,2", "a,b,c", "-1,0,0", "0.5,2,0", "nan,0,0"):
        with pytest.raises(CliError):
            parse_background(bad)


def test_orbit_cameras_turn_about_up_through_target():
    cam = Camera([0, -1, -4], [0, 0.5, 0], [0, -1, 0], 50, 64, 48)
    cams = orbit_cameras(cam, 4)
    assert np.allclose(cams[0].eye, cam.eye)
    assert np.allclose(cams[2].eye, [0, -1, 4])  # half a turn about the vertical axis through the target
    for c in cams:
        assert np.isclose(np.linalg.norm(c.eye - cam.target), np.linalg.norm(cam.eye - cam.target))
        assert np.allclose(c.target, cam.target)
