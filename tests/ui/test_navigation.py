"""Navigation maths (no Qt needed: these run without a display)."""
import math

import numpy as np
import pytest

from app.ui.navigation import (
    UP_PRESETS,
    OrbitNavigator,
    keyframe_path,
    robust_bounds,
    turntable_path,
)
from editor.model.camera import Camera

W, H = 640, 480


def _nav(up="-y"):
    nav = OrbitNavigator(up=up)
    nav.set_bounds([-1, -1, -1], [1, 1, 1])
    nav.view("front", W / H)
    return nav


def _pixel(nav, point):
    uv, z = nav.camera(W, H).project(np.asarray([point], float))
    return uv[0], z[0]


@pytest.mark.parametrize("up", list(UP_PRESETS))
def test_front_view_is_upright_for_every_preset(up):
    nav = _nav(up)
    sky = np.array(UP_PRESETS[up].up)
    (u0, v0), _ = _pixel(nav, [0, 0, 0])
    (u1, v1), _ = _pixel(nav, sky * 0.5)
    assert abs(u1 - u0) < 1e-6 and v1 < v0 - 10  # the sky is up on screen
    assert nav.camera(W, H).basis()[0] @ np.array([1.0, 0, 0]) > 0.99  # +x to the right


def test_frame_all_fits_bounds_in_view():
    nav = _nav()
    nav.set_bounds([-5, -2, 10], [3, 4, 12])
    nav.frame(W / H)
    cam = nav.camera(W, H)
    corners = np.array([[x, y, z] for x in (-5, 3) for y in (-2, 4) for z in (10, 12)], float)
    uv, depth = cam.project(corners)
    assert (depth > 0).all()
    assert (uv[:, 0] >= 0).all() and (uv[:, 0] <= W).all() and (uv[:, 1] >= 0).all() and (uv[:, 1] <= H).all()
    # ...and not absurdly small: the box spans a good part of the image height.
    assert np.ptp(uv[:, 1]) > 0.3 * H


def test_orbit_right_moves_near_points_right_and_keeps_distance():
    nav = _nav()
    d0 = nav.distance
    near_point = nav.target + 0.5 * (nav.eye - nav.target) / d0  # between target and eye
    (u0, _), _ = _pixel(nav, near_point)
    nav.orbit(40, 0)
    (u1, _), _ = _pixel(nav, near_point)
    assert u1 > u0 + 5
    assert nav.distance == pytest.approx(d0)
    assert np.allclose(_pixel(nav, nav.target)[0], (W / 2, H / 2))


def test_orbit_down_lifts_camera_and_clamps_at_pole():
    nav = _nav()
    e0 = nav.elevation()
    nav.orbit(0, 30)
    assert nav.elevation() > e0
    nav.orbit(0, 10_000)
    assert nav.elevation() == pytest.approx(math.pi / 2, abs=1e-6)
    cam = nav.camera(W, H)  # still a valid camera at the pole
    assert np.isfinite(cam.view_matrix()).all()
    nav.orbit(25, 0)  # spinning at the pole stays valid
    nav.orbit(0, -30)  # and we can come back down
    assert nav.elevation() < math.pi / 2 - 0.1
    assert np.isfinite(nav.camera(W, H).view_matrix()).all()


def test_pan_moves_target_plane_with_the_mouse():
    nav = _nav()
    (u0, v0), _ = _pixel(nav, [0, 0, 0])
    nav.pan(30, -20, H)
    (u1, v1), _ = _pixel(nav, [0, 0, 0])
    assert u1 - u0 == pytest.approx(30, abs=1e-6)
    assert v1 - v0 == pytest.approx(-20, abs=1e-6)


def test_zoom_to_cursor_keeps_point_under_cursor():
    nav = _nav()
    px, py = 500.0, 120.0
    cam = nav.camera(W, H)
    # The point of the target plane under the cursor.
    d = nav.distance
    p = nav.eye + cam.basis()[2] * d + cam.basis()[0] * (px - cam.cx) / cam.fx * d + cam.basis()[1] * (py - cam.cy) / cam.fy * d
    d0 = nav.distance
    nav.zoom(2, px, py, W, H)
    assert nav.distance == pytest.approx(d0 * 0.85**2)
    (u, v), _ = _pixel(nav, p)
    assert (u, v) == pytest.approx((px, py), abs=1e-6)
    nav.zoom(-2)
    assert nav.distance == pytest.approx(d0)


def test_fly_look_and_move():
    nav = _nav()
    eye0 = nav.eye.copy()
    f0 = nav.forward
    nav.look(50, 0)  # turn right
    assert np.allclose(nav.eye, eye0)
    assert np.dot(nav.forward, nav.camera(W, H).basis()[0]) == pytest.approx(0, abs=1e-9)
    assert np.dot(f0, [1, 0, 0]) == pytest.approx(0, abs=1e-9)
    assert np.dot(nav.forward, [1, 0, 0]) > 0.15  # turned towards +x, the screen's right
    nav.look(0, 40)  # mouse down: look down (towards +y, the sky being -y)
    assert np.dot(nav.forward, [0, 1, 0]) > 0.1
    f1 = nav.forward
    nav.fly(1.0, 0.0, 0.0, dt=0.5)
    moved = nav.eye - eye0
    assert np.dot(moved, f1) > 0 and np.allclose(np.cross(moved, f1), 0, atol=1e-9)
    e1 = nav.eye.copy()
    nav.fly(0.0, 0.0, 1.0, dt=0.5)  # E goes to the sky
    assert np.dot(nav.eye - e1, UP_PRESETS["-y"].up) > 0


def test_top_view_and_side_view_directions():
    nav = _nav("+z")
    nav.view("top", W / H)
    assert np.allclose(nav.forward, [0, 0, -1])
    # Top view of a Z-up scene: +y (away from the front viewer) is up on screen.
    (u0, v0), _ = _pixel(nav, nav.target)
    (u1, v1), _ = _pixel(nav, nav.target + [0, 0.3, 0])
    assert v1 < v0 - 5
    nav.view("right", W / H)
    assert np.allclose(nav.forward, [-1, 0, 0])


def test_set_camera_round_trips_a_json_camera():
    cam = Camera([1, -2, 3], [0.2, 0.1, -0.3], [0.1, -1, 0.2], 37.0, 320, 200)
    nav = OrbitNavigator()
    nav.set_camera(cam)
    got = nav.camera(320, 200)
    assert np.allclose(got.view_matrix(), cam.view_matrix())
    assert got.fov_y_deg == 37.0


def test_fov_change_keeps_target_plane_size():
    nav = _nav()
    h0 = nav.distance * math.tan(math.radians(nav.fov_y_deg) / 2)
    nav.set_fov(80)
    assert nav.distance * math.tan(math.radians(80) / 2) == pytest.approx(h0)


def test_robust_bounds_ignore_floaters():
    rng = np.random.default_rng(0)
    p = rng.uniform(-1, 1, (10_000, 3))
    p[:5] = 1000.0
    lo, hi = robust_bounds(p)
    assert (hi < 1.01).all() and (lo > -1.01).all()


def test_turntable_and_keyframe_paths():
    start = Camera([0, 0, -3], [0, 0, 0], [0, -1, 0], 50, 64, 48)
    cams = turntable_path(start, 8, [0, -1, 0])
    assert len(cams) == 8
    assert all(np.linalg.norm(c.eye) == pytest.approx(3) for c in cams)
    assert np.allclose(cams[4].eye, [0, 0, 3], atol=1e-9)  # half way round
    end = Camera([3, 0, 0], [0, 0, 0], [0, -1, 0], 30, 64, 48)
    path = keyframe_path([start, end], 5, 64, 48)
    assert np.allclose(path[0].eye, start.eye) and np.allclose(path[-1].eye, end.eye)
    assert path[-1].fov_y_deg == pytest.approx(30)
