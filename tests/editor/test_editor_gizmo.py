"""Transform gizmo maths (`editor.geometry.gizmo`): handle geometry at a
constant screen size, hit testing, and drags -> constrained transforms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from editor.geometry.gizmo import (
    GizmoDrag,
    GizmoView,
    Snapping,
    axis_angle_matrix,
    axis_angle_quaternion,
    closest_on_axis,
    handles,
    hit_test,
)
from editor.model.camera import Camera
from editor.model.splat_cloud import quaternion_to_matrix

W, H = 800, 600


def _front_camera(distance: float = 5.0, pivot=(0.0, 0.0, 0.0)) -> Camera:
    """Looks along +z at ``pivot`` from ``distance`` away; screen right = +x, down = +y."""
    p = np.asarray(pivot, float)
    return Camera(p - (0, 0, distance), p, (0, -1, 0), 60.0, W, H)


def _view(camera: Camera, pivot=(0.0, 0.0, 0.0), axes=None, size=100.0) -> GizmoView:
    return GizmoView(pivot, np.eye(3) if axes is None else axes, camera, size)


def _by_name(hs):
    return {h.name: h for h in hs}


def _arrow_tip(view, i):
    return view.project((view.pivot + view.length * view.axis(i))[None])[0]


def test_the_gizmo_keeps_its_screen_size_at_any_distance():
    for d in (0.5, 5.0, 80.0):
        cam = _front_camera(d)
        view = _view(cam)
        tip = _arrow_tip(view, 0)
        assert np.linalg.norm(tip - view.centre_px) == pytest.approx(100.0, rel=1e-9)
        assert view.length == pytest.approx(100.0 * d / cam.fy)
        x = _by_name(handles(view, "move"))["x"]
        assert x.polygons[0][0] == pytest.approx(tip)  # the arrow head ends at the tip


def test_handle_sets_per_mode_and_hidden_handles():
    cam = _front_camera()
    view = _view(cam)
    move = _by_name(handles(view, "move"))
    # z points straight at the camera: its arrow and the two planes containing it are edge-on.
    assert set(move) == {"x", "y", "xy", "free"}
    rot = _by_name(handles(view, "rotate"))
    assert set(rot) == {"x", "y", "z", "view"}
    assert set(_by_name(handles(view, "scale"))) == {"x", "y", "uniform"}
    assert set(_by_name(handles(view, "scale", axes=(False, False, False)))) == {"uniform"}
    tilted = _view(Camera((3, -2, -4), (0, 0, 0), (0, -1, 0), 60.0, W, H))
    assert set(_by_name(handles(tilted, "move"))) == {"x", "y", "z", "xy", "yz", "zx", "free"}
    # Behind the camera: nothing.
    behind = _view(cam, pivot=(0, 0, -10))
    assert not behind.visible and handles(behind, "move") == []
    with pytest.raises(ValueError):
        handles(view, "shear")


def test_hit_test_nearest_handle_within_tolerance():
    view = _view(_front_camera())
    hs = handles(view, "move")
    c = view.centre_px
    assert hit_test(hs, c) == "free"
    assert hit_test(hs, c + (60, 0)) == "x"  # on the x shaft
    assert hit_test(hs, c + (60, 5)) == "x"
    assert hit_test(hs, c + (60, 12)) is None  # beyond 8 px
    assert hit_test(hs, c + (60, 12), tolerance_px=15) == "x"
    assert hit_test(hs, c + (0, 60)) == "y"
    assert hit_test(hs, c + (35, 35)) == "xy"  # inside the plane square
    assert hit_test(hs, c + (300, 300)) is None
    # Nearest wins: between the x shaft (6 px away) and the plane square (4 px away).
    assert hit_test(hs, c + (40, 21)) == "xy"
    assert hit_test(hs, c + (40, 2)) == "x"


def test_only_the_front_half_of_a_ring_is_pickable():
    cam = Camera((0, -3, -4), (0, 0, 0), (0, -1, 0), 60.0, W, H)  # above and in front
    view = _view(cam)
    y_ring = _by_name(handles(view, "rotate"))["y"]
    # The ring of the y axis lies in the x-z plane; its front point is towards the camera (-z).
    front = view.project((view.pivot + view.length * np.array([0, 0, -1.0]))[None])[0]
    back = view.project((view.pivot + view.length * np.array([0, 0, 1.0]))[None])[0]
    assert y_ring.distance(front) < 1.0
    assert y_ring.distance(back) > 10.0
    assert hit_test(handles(view, "rotate"), front) == "y"


def test_closest_point_on_axis():
    s = closest_on_axis((0, 0, 5), (1, 0, 0), np.zeros(3), np.array([0.2, 0.0, 1.0]))
    assert s == pytest.approx(1.0)
    assert closest_on_axis((0, 0, 5), (0, 0, 1), np.zeros(3), np.array([0, 0, 1.0])) is None


def test_dragging_the_x_arrow_moves_along_x_by_what_the_pixels_cover_at_that_depth():
    cam = _front_camera(distance=5.0, pivot=(1.0, 0.5, 2.0))
    view = _view(cam, pivot=(1.0, 0.5, 2.0))
    press = view.centre_px + (60, 0)
    drag = GizmoDrag(view, "move", "x", press)
    r = drag.update(press + (100, 0))
    np.testing.assert_allclose(r.translation, (100 * 5.0 / cam.fx, 0, 0), rtol=1e-9, atol=1e-12)
    assert r.angle == 0 and np.all(r.factors == 1)
    # Vertical mouse movement does not leave the axis.
    r = drag.update(press + (-40, 70))
    assert r.translation[1] == 0 and r.translation[2] == 0
    assert r.translation[0] < 0
    assert r.text.startswith("ΔX -")


def test_move_along_a_local_axis_and_snapping():
    a = math.radians(30)
    axes = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    cam = Camera((2, -3, -6), (0, 0, 0), (0, -1, 0), 50.0, W, H)
    view = _view(cam, axes=axes)
    tip = _arrow_tip(view, 0)
    drag = GizmoDrag(view, "move", "x", tip)
    r = drag.update(tip + (37, 11))
    t = r.translation
    assert np.linalg.norm(np.cross(t, axes[:, 0])) < 1e-12 and t @ axes[:, 0] > 0
    # The moved arrow tip projects where the mouse's ray passes closest to the axis.
    snapped = drag.update(tip + (37, 11), Snapping(translate=0.25))
    k = snapped.translation @ axes[:, 0]
    assert k == pytest.approx(round((t @ axes[:, 0]) / 0.25) * 0.25) and k != 0
    assert abs(k / 0.25 - round(k / 0.25)) < 1e-12
    assert snapped.snapped and "(snap)" in snapped.text


def test_plane_and_free_moves():
    cam = _front_camera(distance=4.0)
    view = _view(cam)
    press = view.centre_px + (35, 35)
    r = GizmoDrag(view, "move", "xy", press).update(press + (50, -20))
    np.testing.assert_allclose(r.translation, (50 * 4.0 / cam.fx, -20 * 4.0 / cam.fy, 0), atol=1e-12)
    free = GizmoDrag(view, "move", "free", view.centre_px).update(view.centre_px + (10, 40), Snapping(0.1))
    np.testing.assert_allclose(free.translation, (0.1, 0.3, 0.0), atol=1e-12)  # 10 px ~ 0.077, 40 px ~ 0.308
    # A plane handle seen from the side moves in its own plane only.
    tilted = _view(Camera((3, -2, -4), (0, 0, 0), (0, -1, 0), 60.0, W, H))
    zx = GizmoDrag(tilted, "move", "zx", tilted.centre_px + (5, 5)).update(tilted.centre_px + (40, -25))
    assert zx.translation[1] == pytest.approx(0.0, abs=1e-12) and np.linalg.norm(zx.translation) > 0


def test_rotation_follows_the_mouse_around_the_pivot():
    cam = _front_camera()
    view = _view(cam)
    c = view.centre_px
    # The z ring faces the camera (z points away from it). Grab it on the right and go a
    # quarter turn clockwise on screen: right -> down, i.e. world +x -> +y: +90 degrees about +z.
    drag = GizmoDrag(view, "rotate", "z", c + (100, 0))
    for k in range(1, 10):
        a = math.radians(10 * k)
        r = drag.update(c + 100 * np.array([math.cos(a), math.sin(a)]))
    assert r.angle == pytest.approx(math.pi / 2)
    np.testing.assert_allclose(r.axis, (0, 0, 1))
    assert r.text == "Z +90.0°"
    grabbed = view.pivot + view.length * np.array([1.0, 0, 0])
    turned = view.pivot + axis_angle_matrix(r.axis, r.angle) @ (grabbed - view.pivot)
    np.testing.assert_allclose(view.project(turned[None])[0], c + (0, 100), atol=1e-6)
    # More than half a turn keeps counting (unwrapped), and snapping rounds to 15 degrees.
    for k in range(10, 23):
        a = math.radians(10 * k)
        r = drag.update(c + 100 * np.array([math.cos(a), math.sin(a)]))
    assert math.degrees(r.angle) == pytest.approx(220.0)
    assert math.degrees(drag.update(c + 100 * np.array([math.cos(3.9), math.sin(3.9)]), Snapping()).angle) == \
        pytest.approx(225.0)


def test_rotation_sign_when_the_axis_points_at_the_camera_and_for_the_view_ring():
    # Looking along -z (from +z): the z axis points at the camera, screen right is world -x.
    cam = Camera((0, 0, 5), (0, 0, 0), (0, -1, 0), 60.0, W, H)
    view = _view(cam)
    c = view.centre_px
    grabbed = view.pivot + view.length * np.array([1.0, 0, 0])
    start = view.project(grabbed[None])[0]
    assert start[0] < c[0]
    drag = GizmoDrag(view, "rotate", "z", start)
    end_dir = np.array([0.0, 1.0])  # a quarter turn counter-clockwise on screen: left -> down
    r = drag.update(c + 100 * end_dir)
    turned = view.pivot + axis_angle_matrix(r.axis, r.angle) @ (grabbed - view.pivot)
    got = view.project(turned[None])[0] - c
    np.testing.assert_allclose(got / np.linalg.norm(got), end_dir, atol=1e-6)
    assert r.angle == pytest.approx(math.pi / 2)  # world +x -> +y
    # The view ring turns about the view direction the way the mouse goes: a quarter
    # turn clockwise (right -> down) takes the grabbed point (on the left) up.
    vr = GizmoDrag(view, "rotate", "view", c + (120, 0))
    r = vr.update(c + (0, 120))
    turned = view.pivot + axis_angle_matrix(r.axis, r.angle) @ (grabbed - view.pivot)
    got = view.project(turned[None])[0] - c
    np.testing.assert_allclose(got / np.linalg.norm(got), (0, -1), atol=1e-6)


def test_tilted_and_edge_on_rings_turn_the_grabbed_point_with_the_mouse():
    cam = Camera((3, -2, -4), (0, 0, 0), (0, -1, 0), 60.0, W, H)
    view = _view(cam)
    for i, name in enumerate("xyz"):
        ring = _by_name(handles(view, "rotate"))[name]
        arc = max(ring.lines, key=len)
        k = len(arc) // 2
        press, toward = arc[k], arc[k + 3]  # move a little along the drawn ring
        r = GizmoDrag(view, "rotate", name, press).update(toward)
        assert r.angle != 0
        # The ring point under the press, turned, moves towards where the mouse went.
        o, d = view.ray(press)
        normal = view.axis(i)
        t = (normal @ (view.pivot - o)) / (normal @ d)
        on_plane = o + t * d
        grabbed = view.pivot + view.length * (on_plane - view.pivot) / np.linalg.norm(on_plane - view.pivot)
        turned = view.pivot + axis_angle_matrix(view.axis(i), r.angle) @ (grabbed - view.pivot)
        moved = view.project(turned[None])[0] - view.project(grabbed[None])[0]
        assert moved @ (toward - press) > 0.5 * np.linalg.norm(moved) * np.linalg.norm(toward - press), name
    # Edge-on: the y ring seen from the side (camera level with the pivot) is a line.
    side = _view(_front_camera())
    ring = _by_name(handles(side, "rotate"))["y"]
    c = side.centre_px
    assert ring.lines and np.ptp(ring.lines[0][:, 1]) < 1e-9
    drag = GizmoDrag(side, "rotate", "y", c + (0, 0.5))
    r = drag.update(c + (4, 0.5))  # push the front rim (the ring point nearest the camera) 4 px right
    front = side.pivot + side.length * np.array([0, 0, -1.0])
    turned = side.pivot + axis_angle_matrix(r.axis, r.angle) @ (front - side.pivot)
    np.testing.assert_allclose(side.project(turned[None])[0], c + (4, 0), atol=0.01)  # it follows the mouse


def test_scale_along_an_axis_and_uniform():
    cam = _front_camera(distance=3.0)
    view = _view(cam)
    tip = _arrow_tip(view, 0)
    drag = GizmoDrag(view, "scale", "x", tip)
    r = drag.update(tip + (100, 0))
    np.testing.assert_allclose(r.factors, (2.0, 1.0, 1.0), rtol=1e-9)
    assert r.text == "X × 2.000"
    r = drag.update(tip + (-500, 0))
    assert r.factors[0] == pytest.approx(0.01)  # never flips
    r = drag.update(tip + (47, 0), Snapping(scale=0.1))
    assert r.factors[0] == pytest.approx(1.5)
    r = drag.update(tip + (-97, 0), Snapping(scale=0.1))
    assert r.factors[0] == pytest.approx(0.1)  # the smallest snapped factor
    uni = GizmoDrag(view, "scale", "uniform", view.centre_px)
    np.testing.assert_allclose(uni.update(view.centre_px + (50, 0)).factors, (1.5, 1.5, 1.5))
    np.testing.assert_allclose(uni.update(view.centre_px + (0, 25)).factors, (0.75, 0.75, 0.75))
    np.testing.assert_allclose(uni.update(view.centre_px + (0, -23), Snapping()).factors, (1.2, 1.2, 1.2))


def test_axis_angle_quaternion_matches_the_matrix():
    axis, angle = np.array([1.0, 2.0, -0.5]), 0.7
    np.testing.assert_allclose(quaternion_to_matrix(axis_angle_quaternion(axis, angle)),
                               axis_angle_matrix(axis, angle), atol=1e-12)


def test_snapping_values_are_checked():
    with pytest.raises(ValueError):
        Snapping(translate=0)
    with pytest.raises(ValueError):
        Snapping(angle_deg=float("nan"))
