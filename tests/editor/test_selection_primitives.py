"""Volume selection with layout primitives (`editor.selection.in_primitive`):
each solid type against its definition written out in the primitive's own
frame, rotated and moved so a frame mix-up fails."""
import numpy as np

from editor import selection as sel
from editor.model.layout import Box, Cylinder, Group, Layout, Opening, Plane, Sphere, Wall

T = np.radians(35)
Q = (np.cos(T / 2), 0.0, 0.0, np.sin(T / 2))  # 35 degrees about z
R = np.array([[np.cos(T), -np.sin(T), 0], [np.sin(T), np.cos(T), 0], [0, 0, 1]])
C = np.array([0.4, -0.2, 1.0])


def points(n=20000, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, (n, 3))


def local(p):
    return (p - C) @ R  # world -> local with the columns of R as the local axes


def test_box_matches_in_box_and_rotation():
    p = points()
    box = Box("b", position=tuple(C), rotation=Q, size=(2.0, 1.0, 3.0))
    got = sel.in_primitive(p, box)
    want = (np.abs(local(p)) <= (1.0, 0.5, 1.5)).all(1)
    assert np.array_equal(got, want) and 0 < want.sum() < len(p)
    assert np.array_equal(got, sel.in_box(p, C, (1.0, 0.5, 1.5), Q))
    # The unrotated box is a different set: the rotation is really applied.
    assert not np.array_equal(got, sel.in_primitive(p, box.replace(rotation=(1.0, 0.0, 0.0, 0.0))))


def test_sphere_cylinder_plane():
    p = points(seed=1)
    lp = local(p)
    assert np.array_equal(sel.in_primitive(p, Sphere("s", position=tuple(C), rotation=Q, radius=1.2)),
                          np.linalg.norm(p - C, axis=1) <= 1.2)
    cyl = sel.in_primitive(p, Cylinder("c", position=tuple(C), rotation=Q, radius=0.8, height=2.0))
    want = (lp[:, 0] ** 2 + lp[:, 2] ** 2 <= 0.64) & (np.abs(lp[:, 1]) <= 1.0)
    assert np.array_equal(cyl, want) and 0 < want.sum()
    floor = sel.in_primitive(p, Plane("f", position=tuple(C), rotation=Q, size=(2.0, 4.0), thickness=0.1))
    want = (np.abs(lp[:, 0]) <= 1.0) & (np.abs(lp[:, 2]) <= 2.0) & (np.abs(lp[:, 1]) <= 0.1)
    assert np.array_equal(floor, want)
    # Both sides of the surface.
    assert (lp[floor, 1] > 0.05).any() and (lp[floor, 1] < -0.05).any()


def test_wall_openings_are_not_inside():
    p = points(40000, seed=2)
    wall = Wall("w", position=tuple(C), rotation=Q, length=4.0, height=2.5, thickness=0.6)
    door = Opening(1.0, 0.0, 2.0, 2.0, "door")
    solid = sel.in_primitive(p, wall)
    holed = sel.in_primitive(p, wall.replace(openings=(door,)))
    lp = local(p)
    u, v = lp[:, 0] + 2.0, lp[:, 1] + 1.25
    in_door = (u > 1.0) & (u < 2.0) & (v > 0.0) & (v < 2.0)
    assert np.array_equal(solid, (np.abs(lp) <= (2.0, 1.25, 0.3)).all(1))
    assert np.array_equal(holed, solid & ~in_door)
    assert (solid & in_door).sum() > 20


def test_groups_unite_their_children_and_non_solids_pick_nothing():
    p = points(seed=3)
    a = Box("a", position=(1.0, 0.0, 0.0), size=(1.0, 1.0, 1.0))
    b = Sphere("b", position=(-1.0, 0.0, 0.0), radius=0.7)
    g = Group("g", children=("a", "b"))
    layout = Layout({"a": a, "b": b, "g": g})
    want = sel.in_primitive(p, a) | sel.in_primitive(p, b)
    assert np.array_equal(sel.in_primitives(p, layout, ["g"]), want)
    assert np.array_equal(sel.in_primitives(p, layout, ["a", "g"]), want)
    assert not sel.in_primitive(p, g).any()
    assert sel.in_primitives(np.zeros((0, 3)), layout, ["g"]).shape == (0,)
