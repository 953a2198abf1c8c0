import json

import numpy as np
import pytest

from editor.model.camera import Camera, CameraError


def test_projection_follows_the_contract():
    cam = Camera([0, 0, -5], [0, 0, 0], [0, -1, 0], 90.0, 200, 100)
    assert cam.fy == pytest.approx(50.0)  # 0.5 * H / tan(45 deg)
    uv, z = cam.project(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
    assert np.allclose(uv[0], [100, 50]) and z[0] == pytest.approx(5)
    # world +x is image right, world +y (down in this y-down scene) is image down
    assert uv[1, 0] > 100 and uv[1, 1] > 50


def test_y_up_camera_puts_up_at_the_top():
    cam = Camera([0, 0, 5], [0, 0, 0], [0, 1, 0], 60.0, 100, 100)
    uv, _ = cam.project(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    assert uv[0, 1] < 50  # above the centre
    assert uv[1, 0] > 50  # +x to the right


def test_basis_is_right_handed():
    cam = Camera([1, 2, 3], [0, 0.5, 0], [0, 1, 0], 40.0, 64, 48)
    r, d, f = cam.basis()
    assert np.allclose(np.cross(r, d), f)


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"eye": [0, 0, 0]}, "same point"),
        ({"up": [0, 0, 1]}, "parallel"),
        ({"fov_y_deg": 0}, "fov_y_deg"),
        ({"width": 0}, "size"),
        ({"eye": [0, 0]}, "three numbers"),
        ({"width": 10.5}, "whole number"),
    ],
)
def test_bad_cameras_are_rejected(patch, message):
    data = {"eye": [0, 0, -1], "target": [0, 0, 0], "up": [0, 1, 0], "fov_y_deg": 50, "width": 64, "height": 48}
    data.update(patch)
    with pytest.raises(CameraError, match=message):
        Camera.from_dict(data)


def test_missing_keys_and_bad_json(tmp_path):
    p = tmp_path / "cam.json"
    p.write_text(json.dumps({"eye": [0, 0, 1]}))
    with pytest.raises(CameraError, match="missing key"):
        Camera.load(p)
    p.write_text("{nope")
    with pytest.raises(CameraError, match="not valid JSON"):
        Camera.load(p)


def test_save_load_round_trip(tmp_path):
    cam = Camera([1, 2, 3], [0, 0, 0], [0, 1, 0], 42.0, 320, 240)
    cam.save(tmp_path / "c.json")
    back = Camera.load(tmp_path / "c.json")
    assert back.to_dict() == cam.to_dict()


def test_framing_sees_the_whole_box():
    lo, hi = np.array([-1.0, -2.0, -0.5]), np.array([3.0, 1.0, 0.5])
    cam = Camera.framing(lo, hi, width=320, height=240)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    uv, depth = cam.project(corners)
    assert np.all(depth > 0)
    assert np.all((uv >= 0) & (uv <= [320, 240]))
