"""Ray picking of layout primitives (`editor.geometry.picking`)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from editor.geometry.picking import pick_primitive, ray_box
from editor.geometry.snapping import pixel_ray
from editor.model.camera import Camera
from editor.model.layout import Box, Cylinder, Layout, Opening, Plane, Sphere, Wall, quat_from_matrix


def _rot_y(deg: float):
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return quat_from_matrix(np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]))


def _layout(*prims) -> Layout:
    return Layout({p.id: p for p in prims})


BOX = Box("b", position=(0.0, 0.0, 5.0), size=(2.0, 1.0, 0.5))


@pytest.mark.parametrize("origin, direction, face, normal, distance", [
    ((0, 0, 0), (0, 0, 1), "-z", (0, 0, -1), 4.75),
    ((0, 0, 10), (0, 0, -1), "+z", (0, 0, 1), 4.75),
    ((-5, 0, 5), (1, 0, 0), "-x", (-1, 0, 0), 4.0),
    ((5, 0.2, 5.1), (-1, 0, 0), "+x", (1, 0, 0), 4.0),
    ((0.3, -3, 5), (0, 1, 0), "-y", (0, -1, 0), 2.5),
    ((0.3, 3, 5), (0, -1, 0), "+y", (0, 1, 0), 2.5),
])
def test_box_faces_distance_point_and_normal(origin, direction, face, normal, distance):
    hit = pick_primitive(_layout(BOX), origin, direction)
    assert hit is not None and hit.primitive_id == "b"
    assert hit.face == face
    assert hit.distance == pytest.approx(distance, abs=1e-9)
    expected = np.asarray(origin, float) + distance * np.asarray(direction, float)
    np.testing.assert_allclose(hit.point, expected, atol=1e-9)
    np.testing.assert_allclose(hit.normal, normal, atol=1e-12)
    BOX.extruded(face, 0.1)  # the name is one extrusion accepts


def test_rotated_box_face_names_follow_the_local_axes():
    box = Box("r", position=(0.0, 0.0, 5.0), rotation=_rot_y(90), size=(2.0, 1.0, 0.5))
    # Local +x now points along world -z, towards a camera at the origin.
    hit = pick_primitive(_layout(box), (0, 0, 0), (0, 0, 1))
    assert hit.face == "+x" and hit.distance == pytest.approx(4.0)
    np.testing.assert_allclose(hit.normal, (0, 0, -1), atol=1e-9)
    side = pick_primitive(_layout(box), (3, 0, 5), (-1, 0, 0))
    assert side.face == "+z" and side.distance == pytest.approx(3 - 0.25)


def test_nearest_of_several_and_direction_need_not_be_unit():
    near = Box("near", position=(0, 0, 3), size=(1, 1, 1))
    far = Box("far", position=(0, 0, 8), size=(4, 4, 1))
    layout = _layout(far, near)
    hit = pick_primitive(layout, (0, 0, 0), (0, 0, 7.0))
    assert hit.primitive_id == "near" and hit.distance == pytest.approx(2.5)
    assert pick_primitive(layout, (1.5, 0, 0), (0, 0, 1)).primitive_id == "far"
    assert pick_primitive(layout, (3, 0, 0), (0, 0, 1)) is None  # beside both
    assert pick_primitive(layout, (0, 0, 0), (0, 0, -1)) is None  # behind the ray


def test_camera_inside_a_box_picks_its_inner_face():
    room = Box("room", position=(0, 0, 0), size=(4, 3, 6))
    hit = pick_primitive(_layout(room), (0, 0, 0), (0, 0, 1))
    assert hit.primitive_id == "room" and hit.distance == pytest.approx(3.0) and hit.face == "+z"


def test_plane_faces_top_bottom_and_edges():
    # Floor at y = 1 (y down: up is -y), slab below the surface (towards +y).
    floor = Plane("f", position=(0, 1, 0), rotation=quat_from_matrix(np.diag([1.0, -1.0, -1.0])),
                  size=(4.0, 6.0), thickness=0.2)
    layout = _layout(floor)
    top = pick_primitive(layout, (0.5, -2, 0.5), (0, 1, 0))
    assert top.face == "+y" and top.distance == pytest.approx(3.0)
    np.testing.assert_allclose(top.normal, (0, -1, 0), atol=1e-12)
    bottom = pick_primitive(layout, (0.5, 5, 0.5), (0, -1, 0))
    assert bottom.face == "-y" and bottom.distance == pytest.approx(5 - 1.2)
    edge = pick_primitive(layout, (-9, 1.1, 0), (1, 0, 0))
    assert edge.face == "-x" and edge.distance == pytest.approx(7.0)


def test_cylinder_caps_and_side():
    cyl = Cylinder("c", position=(0, 0, 0), radius=1.0, height=2.0, segments=64)
    layout = _layout(cyl)
    top = pick_primitive(layout, (0.2, 5, 0.1), (0, -1, 0))
    assert top.face == "+y" and top.distance == pytest.approx(4.0)
    bottom = pick_primitive(layout, (0.2, -5, 0.1), (0, 1, 0))
    assert bottom.face == "-y"
    side = pick_primitive(layout, (5, 0.3, 0), (-1, 0, 0))
    assert side.face == "side" and side.distance == pytest.approx(4.0, abs=1e-9)  # a vertex sits at angle 0
    cyl.extruded(side.face, 0.1)


def test_sphere_surface():
    sph = Sphere("s", position=(0, 0, 10), radius=2.0, subdivisions=3)
    hit = pick_primitive(_layout(sph), (0, 0, 0), (0, 0, 1))
    assert hit.face == "surface"
    assert 8.0 - 1e-9 <= hit.distance < 8.05  # the icosphere lies inside the true sphere
    assert np.dot(hit.normal, (0, 0, -1)) > 0.95


def test_hidden_and_locked_filtering():
    front = Box("front", position=(0, 0, 2), size=(1, 1, 1), visible=False)
    back = Box("back", position=(0, 0, 6), size=(1, 1, 1), locked=True)
    layout = _layout(front, back)
    assert pick_primitive(layout, (0, 0, 0), (0, 0, 1)).primitive_id == "back"
    assert pick_primitive(layout, (0, 0, 0), (0, 0, 1), include_hidden=True).primitive_id == "front"
    assert pick_primitive(layout, (0, 0, 0), (0, 0, 1), include_locked=False) is None
    both = pick_primitive(layout, (0, 0, 0), (0, 0, 1), include_locked=False, include_hidden=True)
    assert both.primitive_id == "front"


def test_ray_through_a_door_misses_the_wall_and_hits_what_is_behind():
    # A wall along x at z = 3, 4 long, 2.5 high (base at y = 1.25, y down), with a door at u 1.5..2.5.
    wall = Wall("w", position=(0, 0, 3), rotation=quat_from_matrix(np.diag([1.0, -1.0, -1.0])),
                length=4.0, height=2.5, thickness=0.2, openings=(Opening(1.5, 0.0, 2.5, 2.0, "door"),))
    behind = Box("behind", position=(0, 0, 8), size=(6, 6, 1))
    layout = _layout(wall, behind)
    # Through the door (its centre: u = 2 -> x = 0, v = 1 -> y = 1.25 - 1 = 0.25).
    through = pick_primitive(layout, (0, 0.25, 0), (0, 0, 1))
    assert through.primitive_id == "behind" and through.distance == pytest.approx(7.5)
    # Beside the door the wall is solid; local -z (the wall's back) faces the origin here.
    solid = pick_primitive(layout, (-1.2, 0.25, 0), (0, 0, 1))
    assert solid.primitive_id == "w" and solid.distance == pytest.approx(2.9)
    assert solid.face == "+z"  # local z = world -z (the rotation flips y and z)
    # Above the door (v > 2): the wall again.
    assert pick_primitive(layout, (0, -1.0, 0), (0, 0, 1)).primitive_id == "w"
    # A slanted ray that hits the door's jamb (inner side): the wall, but no extrudable face.
    jamb = pick_primitive(layout, (-0.4, 0.25, 2.95), (1, 0, 0.05))
    assert jamb.primitive_id == "w" and jamb.face is None
    np.testing.assert_allclose(np.abs(jamb.normal), (1, 0, 0), atol=1e-12)


def test_pixel_ray_picks_the_box_under_the_image_centre():
    box = Box("b", position=(0.3, -0.2, 4.0), size=(1, 1, 1))
    cam = Camera([0.3, -0.2, 0.0], [0.3, -0.2, 1.0], [0, -1, 0], 50.0, 640, 480)
    hit = pick_primitive(_layout(box), *pixel_ray(cam, (320, 240)))
    assert hit.primitive_id == "b" and hit.distance == pytest.approx(3.5)
    assert pick_primitive(_layout(box), *pixel_ray(cam, (5, 5))) is None


def test_ray_box_slabs():
    lo, hi = np.array([0.0, 0, 0]), np.array([1.0, 1, 1])
    assert ray_box(np.array([0.5, 0.5, -1]), np.array([0, 0, 1.0]), lo, hi)
    assert not ray_box(np.array([1.5, 0.5, -1]), np.array([0, 0, 1.0]), lo, hi)  # parallel, outside
    assert not ray_box(np.array([0.5, 0.5, 2]), np.array([0, 0, 1.0]), lo, hi)  # box behind
    assert ray_box(np.array([0.5, 0.5, 0.5]), np.array([1.0, 2, 3]), lo, hi)  # from inside
    assert not ray_box(np.array([-1, -1, 0.5]), np.array([1.0, -1, 0]), lo, hi)
