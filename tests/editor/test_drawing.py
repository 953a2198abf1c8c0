"""`editor.geometry.drawing`: the maths behind the wall, push/pull and
opening tools (drawing plane, snapping, corner joins, face drags, openings,
outlines)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from editor.geometry import drawing as dr
from editor.geometry.meshing import primitive_mesh
from editor.geometry.snapping import pixel_ray
from editor.model.camera import Camera
from editor.model.layout import Box, Cylinder, Layout, LayoutError, Plane, Wall, frame_from_axes

UP = np.array([0.0, -1.0, 0.0])  # the 3DGS frame: y down


def _layout(*prims, up=(0.0, -1.0, 0.0)) -> Layout:
    return Layout({p.id: p for p in prims}, up)


def test_nice_step_and_grid_step():
    assert dr.nice_step(0.085) == pytest.approx(0.1)
    assert dr.nice_step(0.3) == pytest.approx(0.2)
    assert dr.nice_step(0.4) == pytest.approx(0.5)
    assert dr.nice_step(7.0) == pytest.approx(5.0)
    assert dr.nice_step(1234.0) == pytest.approx(1000.0)
    assert dr.grid_step_for(8.5) == pytest.approx(0.1)
    assert dr.grid_step_for(None) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        dr.nice_step(0.0)


def test_drawing_plane_prefers_the_floor_then_the_splats_then_the_origin():
    rng = np.random.default_rng(0)
    # Splats of a room in a y-down scene: the floor is at y = 1.6 (the largest y).
    pts = np.column_stack([rng.uniform(-3, 3, 5000), rng.uniform(-1.0, 1.6, 5000), rng.uniform(-3, 3, 5000)])
    pts[:5] = [0.0, 40.0, 0.0]  # floaters far below the floor must not pull the plane down
    plane = dr.drawing_plane(_layout(), pts)
    assert plane.source == "splats"
    assert plane.normal == pytest.approx(UP)
    assert (np.array([0.0, 1.6, 0.0]) - plane.origin) @ plane.normal == pytest.approx(0.0, abs=0.05)
    assert np.linalg.det(plane.rotation) == pytest.approx(1.0)

    default = dr.drawing_plane(_layout(), None)
    assert default.source == "default" and default.origin == pytest.approx(np.zeros(3))

    rot = frame_from_axes([1.0, 0.0, 1.0], UP)
    floor = Plane("f", "Floor", position=(0.5, 2.0, 0.0), rotation=rot, size=(4, 4), role="floor")
    ceiling = Plane("c", "Ceiling", position=(0.5, -0.6, 0.0), rotation=rot, size=(4, 4), role="ceiling")
    plane = dr.drawing_plane(_layout(ceiling, floor), pts)
    assert plane.source == "floor f"
    assert plane.origin == pytest.approx([0.5, 2.0, 0.0])
    assert plane.normal == pytest.approx(UP)
    assert plane.rotation[:, 0] == pytest.approx(np.array([1.0, 0.0, 1.0]) / math.sqrt(2))  # the floor's own grid
    # A ray from above hits it at the floor's height.
    hit = plane.intersect(np.array([0.0, -3.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    assert hit == pytest.approx([0.0, 2.0, 0.0])
    assert plane.intersect(np.array([0.0, -3.0, 0.0]), np.array([0.0, -1.0, 0.0])) is None  # away from it


def test_segment_end_snaps_angle_length_and_grid():
    plane = dr.drawing_plane(_layout(), None)  # x axis is the grid's reference
    start = np.array([0.0, 0.0, 0.0])
    raw = np.array([1.0, 0.0, 0.27])  # ~15.1 degrees from x
    assert dr.segment_end(plane, start, raw) == pytest.approx(raw)
    end = dr.segment_end(plane, start, raw, angle_step_deg=15.0)
    d = dr.heading(start, end, UP)
    assert math.degrees(math.acos(abs(d[0]))) == pytest.approx(15.0, abs=1e-9)
    assert np.linalg.norm(end) == pytest.approx(np.linalg.norm(raw))
    end = dr.segment_end(plane, start, raw, grid_step=0.25, angle_step_deg=15.0)
    assert np.linalg.norm(end) == pytest.approx(1.0)  # 1.036 -> 1.0
    assert dr.segment_end(plane, start, np.array([1.13, 0.0, 0.27]), grid_step=0.25) == pytest.approx([1.25, 0, 0.25])


def test_corner_extensions_close_the_outer_corner():
    x, z = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    assert dr.corner_extensions(x, z, 0.2, 0.2) == pytest.approx((0.1, 0.1))  # 90 degrees: half the thickness
    assert dr.corner_extensions(x, x, 0.2, 0.2) == (0.0, 0.0)  # straight on
    d60 = np.array([math.cos(math.radians(60)), 0, math.sin(math.radians(60))])
    e = 0.1 * math.tan(math.radians(30))
    assert dr.corner_extensions(x, d60, 0.2, 0.2) == pytest.approx((e, e))
    # A U-turn is capped.
    e = 0.1 * math.tan(math.radians(67.5))
    assert dr.corner_extensions(x, -x, 0.2, 0.2) == pytest.approx((e, e))
    # Different thicknesses at a right angle: each reaches the other's outer face.
    assert dr.corner_extensions(x, z, 0.2, 0.4) == pytest.approx((0.2, 0.1))


@pytest.mark.parametrize("turn_deg", [90.0, 60.0, 120.0, -45.0])
def test_chain_walls_meet_at_the_mitre_point(turn_deg):
    t, h = 0.2, 2.5
    p0 = np.array([0.0, 1.0, 0.0])
    p1 = p0 + np.array([3.0, 0.0, 0.0])
    a = math.radians(turn_deg)
    p2 = p1 + 2.0 * np.array([math.cos(a), 0.0, math.sin(a)])
    w1, w2 = dr.chain_walls([p0, p1, p2], UP, h, t)
    assert w1.start == pytest.approx(p0)  # the free ends are where they were clicked
    e = dr.corner_extensions(p1 - p0, p2 - p1, t, t)[0]
    assert w1.length == pytest.approx(3.0 + e) and w2.length == pytest.approx(2.0 + e)
    assert w2.end == pytest.approx(p2)
    assert w1.height == h and w1.thickness == t
    assert (w1.rotation_matrix()[:, 1]) == pytest.approx(UP)  # standing along up
    assert w1.position[1] == pytest.approx(1.0 - h / 2)  # up is -y: the wall rises to smaller y
    # Outer faces: both walls' outer corners at the shared end coincide (no gap).
    # The outer side is the one the path turns away from.
    z1, z2 = w1.rotation_matrix()[:, 2], w2.rotation_matrix()[:, 2]
    d1, d2 = w1.rotation_matrix()[:, 0], w2.rotation_matrix()[:, 0]
    c1 = w1.to_world(np.array([[w1.length / 2, -h / 2, -np.sign(d2 @ z1) * t / 2]]))[0]
    c2 = w2.to_world(np.array([[-w2.length / 2, -h / 2, np.sign(d1 @ z2) * t / 2]]))[0]
    assert c1 == pytest.approx(c2, abs=1e-9)
    # ... and that point is the mitre point: t/2 from both drawn centre lines.
    for wall in (w1, w2):
        assert abs(wall.to_local(c1[None])[0, 2]) == pytest.approx(t / 2)


def test_closed_chain_joins_the_first_corner_too():
    pts = [np.array(p, float) for p in ([0, 0, 0], [4, 0, 0], [4, 0, 3], [0, 0, 3])]
    walls = dr.chain_walls(pts, UP, 2.5, 0.2, closed=True)
    assert len(walls) == 4
    assert all(w.length == pytest.approx(ln + 0.2) for w, ln in zip(walls, (4, 3, 4, 3)))
    with pytest.raises(LayoutError):
        dr.chain_walls([pts[0], pts[0]], UP, 2.5, 0.2)


def test_wall_defaults_are_scene_relative():
    assert dr.wall_defaults(_layout(), 8.5) == (2.5, 0.15)
    assert dr.wall_defaults(_layout(), None) == (2.5, 0.15)
    h, t = dr.wall_defaults(_layout(), 0.4)  # a tiny object scan
    assert h == pytest.approx(0.1) and t == pytest.approx(0.006)
    h, t = dr.wall_defaults(_layout(), 4000.0)
    assert h == pytest.approx(1000.0) and t == pytest.approx(60.0)
    walls = [Wall(f"w{i}", height=2.6 + 0.1 * i, thickness=0.12) for i in range(3)]
    assert dr.wall_defaults(_layout(*walls), 0.4) == (pytest.approx(2.7), pytest.approx(0.12))


def _camera(eye, target, w=640, h=480) -> Camera:
    return Camera(np.asarray(eye, float), np.asarray(target, float), np.array([0.0, -1.0, 0.0]), 50.0, w, h)


def test_face_drag_follows_the_cursor_along_the_normal():
    cam = _camera([4.0, -3.0, -6.0], [0.0, 0.0, 0.0])
    point, normal = np.array([0.5, 0.0, 0.0]), np.array([1.0, 0.0, 0.0])
    start = cam.project(point[None])[0][0]
    drag = dr.FaceDrag.start(cam, point, normal, start)
    assert not drag.along_view
    assert drag.distance(cam, start) == pytest.approx(0.0, abs=1e-9)
    for target in (0.8, -0.3):
        px = cam.project((point + target * normal)[None])[0][0]
        assert drag.distance(cam, px) == pytest.approx(target, abs=1e-9)
    # Moving the cursor sideways off the line gives the closest point on it.
    px = cam.project((point + 0.8 * normal)[None])[0][0] + np.array([0.0, 15.0])
    assert 0.5 < drag.distance(cam, px) < 1.1


def test_face_drag_along_the_view_uses_screen_motion():
    cam = _camera([0.0, -5.0, 0.001], [0.0, 0.0, 0.0])  # looking straight down at a top face
    point, normal = np.array([0.0, -1.0, 0.0]), np.array([0.0, -1.0, 0.0])
    start = cam.project(point[None])[0][0]
    drag = dr.FaceDrag.start(cam, point, normal, start)
    assert drag.along_view
    d = drag.distance(cam, start + np.array([0.0, -10.0]))  # cursor up 10 px: towards the camera
    assert d == pytest.approx(10.0 * 4.0 / cam.fy, rel=1e-3)
    assert drag.distance(cam, start + np.array([0.0, 10.0])) == pytest.approx(-d)


def test_snap_and_surface_distance():
    assert dr.snap_distance(0.37, 0.1) == pytest.approx(0.4)
    assert dr.snap_distance(-0.33, 0.25) == pytest.approx(-0.25)
    assert dr.distance_to_point([0, 0, 0], [0, 0, 2], [5, 1, 0.7]) == pytest.approx(0.7)


def test_opening_from_rect_clamps_snaps_to_the_base_and_refuses_slivers():
    wall = Wall.from_endpoints("w", [0, 0, 0], [4, 0, 0], UP, height=2.5, thickness=0.2)
    uv = dr.wall_uv(wall, np.array([1.0, -1.0, 0.1]))
    assert uv == pytest.approx([1.0, 1.0])
    assert dr.wall_face_point(wall, uv, "+z")[[0, 1]] == pytest.approx([1.0, -1.0])
    door = dr.opening_from_rect(wall, (1.0, 0.2), (1.9, 2.1))
    assert door.kind == "door" and (door.u0, door.v0, door.u1, door.v1) == pytest.approx((1.0, 0.0, 1.9, 2.1))
    window = dr.opening_from_rect(wall, (3.5, 1.9), (2.5, 0.9))  # dragged right to left, bottom up
    assert window.kind == "window" and (window.u0, window.v0, window.u1, window.v1) == pytest.approx((2.5, 0.9, 3.5, 1.9))
    clamped = dr.opening_from_rect(wall, (3.0, 1.0), (9.0, 9.0))
    assert (clamped.u1, clamped.v1) == pytest.approx((4.0, 2.5))
    snapped = dr.opening_from_rect(wall, (1.04, 0.93), (1.93, 2.07), grid_step=0.1)
    assert (snapped.u0, snapped.v0, snapped.u1, snapped.v1) == pytest.approx((1.0, 0.9, 1.9, 2.1))
    assert dr.opening_from_rect(wall, (1.0, 1.0), (1.05, 2.0)) is None
    assert dr.opening_from_rect(wall, (5.0, 1.0), (6.0, 2.0)) is None  # entirely off the wall


def test_outlines_lie_on_the_solids_faces():
    box = Box("b", position=(1, 2, 3), rotation=frame_from_axes([1, 0, 1], UP), size=(1, 2, 3))
    (quad,) = dr.face_outline(box, "+z")
    local = box.to_local(quad)
    assert local[:, 2] == pytest.approx(np.full(5, 1.5)) and quad[0] == pytest.approx(quad[-1])
    edges = dr.solid_edges(box)
    assert len(edges) == 12
    lengths = sorted(round(float(np.linalg.norm(e[1] - e[0])), 9) for e in edges)
    assert lengths == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    plane = Plane("p", size=(2, 2), thickness=0.1)
    (top,) = dr.face_outline(plane, "+y")
    assert top[:, 1] == pytest.approx(np.zeros(5))  # the surface, not the slab's middle
    cyl = Cylinder("c", radius=0.5, height=2.0)
    assert len(dr.face_outline(cyl, "side")) == 2 and len(dr.face_outline(cyl, "+y")) == 1
    wall = Wall.from_endpoints("w", [0, 0, 0], [4, 0, 0], UP, height=2.5, thickness=0.2)
    door = dr.opening_from_rect(wall, (1.0, 0.0), (1.9, 2.1))
    rect = dr.opening_outline(wall, door, "-z")
    assert np.abs(wall.to_local(rect)[:, 2]) == pytest.approx(np.full(5, 0.1))


def test_project_polylines_clips_at_the_near_plane():
    cam = _camera([0.0, 0.0, -5.0], [0.0, 0.0, 0.0])
    line = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -20.0]])  # runs from the target to behind the eye
    segs = dr.project_polylines(cam, [line])
    assert segs.shape == (1, 2, 2)
    assert segs[0, 0] == pytest.approx([cam.cx, cam.cy])
    assert np.isfinite(segs).all()
    behind = np.array([[0.0, 0.0, -6.0], [1.0, 0.0, -7.0]])
    assert dr.project_polylines(cam, [behind]).shape == (0, 2, 2)
    square = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0], [-1, -1, 0]], float)
    segs = dr.project_polylines(cam, [square])
    uv = cam.project(square)[0]
    assert segs[:, 0] == pytest.approx(uv[:-1]) and segs[:, 1] == pytest.approx(uv[1:])
    assert dr.project_point(cam, np.array([0.0, 0.0, -6.0])) is None


def test_a_drawn_chain_is_pickable_where_it_was_drawn():
    """The walls the chain builds are real solids: a ray down onto a drawn
    corner hits the wall on top (their meshes are what the picker uses)."""
    from editor.geometry.picking import pick_primitive

    p = [np.array([0.0, 0.0, 0.0]), np.array([3.0, 0.0, 0.0]), np.array([3.0, 0.0, 2.0])]
    walls = dr.chain_walls(p, UP, 2.5, 0.2)
    layout = _layout(*[w.replace(id=f"w{i}") for i, w in enumerate(walls)])
    assert all(primitive_mesh(w).is_watertight() for w in layout.solids())
    # Just outside the drawn corner, in the square the join has to fill.
    hit = pick_primitive(layout, np.array([3.09, -5.0, -0.09]), np.array([0.0, 1.0, 0.0]))
    assert hit is not None and hit.face == "+y"  # the top (local +y is up, world -y)
    cam = _camera([6.0, -4.0, -5.0], [1.5, 0.0, 1.0])
    o, d = pixel_ray(cam, cam.project(np.array([[1.5, -1.0, -0.1]]))[0][0])
    hit = pick_primitive(layout, o, d)
    assert hit is not None and hit.primitive_id == "w0"
    assert hit.normal == pytest.approx([0.0, 0.0, -1.0]) and hit.face == "+z"  # local +z = x cross up = world -z


def test_opening_edges_and_resizing():
    wall = Wall.from_endpoints("w", [0, 0, 0], [4, 0, 0], UP, height=2.5, thickness=0.2)
    window = dr.opening_from_rect(wall, (1.0, 1.0), (2.0, 2.0))
    assert dr.opening_edges_at(window, (2.02, 1.5), 0.05) == ("u1",)
    assert dr.opening_edges_at(window, (0.97, 1.98), 0.05) == ("u0", "v1")
    assert dr.opening_edges_at(window, (1.5, 1.5), 0.05) == ()
    assert dr.opening_edges_at(window, (2.2, 1.5), 0.05) is None
    wider = dr.resized_opening(wall, window, ("u1",), (2.6, 9.0))
    assert (wider.u0, wider.v0, wider.u1, wider.v1) == pytest.approx((1.0, 1.0, 2.6, 2.0)) and wider.kind == "window"
    clamped = dr.resized_opening(wall, window, ("u1", "v1"), (7.0, 7.0))
    assert (clamped.u1, clamped.v1) == (4.0, 2.5)
    flipped = dr.resized_opening(wall, window, ("u0",), (2.5, 0.0))  # dragged past the other edge
    assert (flipped.u0, flipped.u1) == pytest.approx((2.0, 2.5))
    door = dr.resized_opening(wall, window, ("v0",), (0.0, 0.2))  # bottom dragged to the base
    assert door.kind == "door" and door.v0 == 0.0
    assert dr.resized_opening(wall, door, ("v0",), (0.0, 0.8)).kind == "window"
    assert dr.resized_opening(wall, door, ("u1",), (2.33, 0.0), grid_step=0.25).u1 == pytest.approx(2.25)
    assert dr.resized_opening(wall, window, ("u1",), (1.02, 1.5)) is None  # too thin
