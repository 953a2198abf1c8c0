"""Layout primitives, LAYOUT.json and the layout edit commands."""
import json

import numpy as np
import pytest

from editor_docgen import base_layout, make_document
from editor.commands.layout_edits import (
    AddOpening,
    AddPrimitive,
    Extrude,
    GroupPrimitives,
    RemoveOpening,
    RemovePrimitive,
    SetLayout,
    SetPrimitiveProperty,
    TransformPrimitive,
    Ungroup,
)
from editor.geometry.snapping import intersect_plane, pixel_ray, snap_angle, snap_segment, snap_to_grid, snap_to_splats
from editor.history import History
from editor.model.camera import Camera
from editor.model.layout import (
    SCHEMA,
    Box,
    Cylinder,
    Group,
    Layout,
    LayoutError,
    Opening,
    Plane,
    Sphere,
    Wall,
)
from editor.model.splat_cloud import SplatCloud


def test_json_round_trip_is_exact(tmp_path):
    layout = base_layout()
    layout = layout.with_primitive(layout.get("p2").with_opening(Opening(0.5, 0, 1.4, 2.1, "door")))
    path = tmp_path / "LAYOUT.json"
    layout.save(path)
    text = path.read_text()
    data = json.loads(text)
    assert data["schema"] == SCHEMA and data["version"] == 1
    assert [p["type"] for p in data["primitives"]] == ["plane", "wall", "box", "cylinder", "sphere", "group"]
    assert Layout.load(path) == layout
    assert Layout.load(path).to_json() == text


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(schema="other"), "not a SplatForge layout"),
        (lambda d: d.update(version=2), "newer SplatForge"),
        (lambda d: d["primitives"].append(dict(d["primitives"][0])), "used twice"),
        (lambda d: d["primitives"][0].update(type="torus"), "unknown type"),
        (lambda d: d["primitives"][2].update(size=[1, -1, 1]), "at least"),
        (lambda d: d["primitives"][2].update(size=[1, "a", 1]), "must be a number"),
        (lambda d: d["primitives"][2].update(position=[1, 2]), "list of 3"),
        (lambda d: d["primitives"][5].update(children=["p3", "zz"]), "unknown child"),
        (lambda d: d["primitives"][1].update(openings=[{"u0": 1, "v0": 1, "u1": 0, "v1": 2}]), "u1 > u0"),
        (lambda d: d["primitives"][2].update(rotation=[0, 0, 0, 0]), "zero quaternion"),
        (lambda d: d.update(primitives={}), "must be a list"),
    ],
)
def test_bad_layout_json_gives_one_line_layout_error(tmp_path, mutate, message):
    data = base_layout().to_dict()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(LayoutError, match=message) as e:
        Layout.load(path)
    assert "\n" not in str(e.value)


def test_layout_load_file_errors(tmp_path):
    with pytest.raises(LayoutError, match="no such file"):
        Layout.load(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(LayoutError, match="not valid JSON"):
        Layout.load(tmp_path / "x.json")
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(LayoutError):
        Layout.load(tmp_path / "deep.json")


def test_group_cycles_and_double_membership_refused():
    a, b = Group("a", children=("b",)), Group("b", children=("a",))
    with pytest.raises(LayoutError, match="cycle"):
        Layout({"a": a, "b": b})
    with pytest.raises(LayoutError, match="two groups"):
        Layout({"x": Box("x"), "g": Group("g", children=("x",)), "h": Group("h", children=("x",))})


def test_wall_from_endpoints_click_to_click():
    up = (0.0, -1.0, 0.0)
    w = Wall.from_endpoints("w", (0, 1.5, 0), (4, 1.5, 3), up, height=2.5, thickness=0.2)
    assert w.length == pytest.approx(5.0)
    assert np.allclose(w.start, (0, 1.5, 0)) and np.allclose(w.end, (4, 1.5, 3))
    assert np.allclose(w.rotation_matrix()[:, 1], up)  # local y is up
    assert np.allclose(w.position, (2, 1.5 - 1.25, 1.5))
    left = Wall.from_endpoints("w", (0, 1.5, 0), (4, 1.5, 3), up, 2.5, 0.2, align="left")
    # the drawn line is the left face: the body is to the right of the direction of travel
    right_dir = np.cross((0.8, 0, 0.6), up)
    assert np.allclose(np.asarray(left.position) - w.position, right_dir * 0.1)
    with pytest.raises(LayoutError):
        Wall.from_endpoints("w", (0, 0, 0), (0, -3, 0), up)  # vertical: no length on the floor


def test_extrude_faces():
    b = Box("b", position=(0, 0, 0), size=(1, 2, 3))
    e = b.extruded("+x", 0.5)
    assert e.size == (1.5, 2, 3) and np.allclose(e.position, (0.25, 0, 0))
    e = b.extruded("-z", 1.0)
    assert e.size == (1, 2, 4) and np.allclose(e.position, (0, 0, -0.5))
    with pytest.raises(LayoutError):
        b.extruded("+x", -1.0)
    with pytest.raises(LayoutError):
        b.extruded("side", 1.0)
    w = Wall("w", length=4, height=2.5, thickness=0.2, openings=(Opening(1, 0, 2, 2, "door"),))
    e = w.extruded("-x", 1.0)  # lengthen at the start: the door stays where it was in the world
    assert e.length == 5 and e.openings[0].u0 == 2.0
    assert np.allclose(e.to_world([[e.openings[0].u0 - e.length / 2, 0, 0]]), w.to_world([[1 - 2, 0, 0]]))
    p = Plane("f", size=(4, 4), thickness=0.1)
    box = p.extruded("+y", 1.0)
    assert isinstance(box, Box) and box.id == "f" and box.size == (4, 1.1, 4)
    lo, hi = box.world_bounds()
    assert np.allclose([lo[1], hi[1]], [-0.1, 1.0])
    assert Cylinder("c", radius=1, height=2).extruded("side", 0.5).radius == 1.5
    assert Sphere("s", radius=1).extruded("surface", -0.5).radius == 0.5


def test_layout_commands_and_undo():
    doc = make_document()
    h = History(doc)
    start = doc.digest()
    add = h.push(AddPrimitive(Box("", size=(1, 1, 1)), group="g1"))
    assert add.primitive_id == "p6" and "p6" in doc.layout.get("g1").children
    h.push(TransformPrimitive(["g1"], translation=(1, 0, 0)))  # moves every member
    assert doc.layout.get("p3").position[0] == pytest.approx(1.5)
    assert doc.layout.get("p4").position[0] == pytest.approx(3.0)
    h.push(Extrude("p2", "+z", -1.0, region=(0.5, 0.0, 1.4, 2.1), kind="door"))
    assert doc.layout.get("p2").openings[0].kind == "door"
    with pytest.raises(LayoutError, match="thickness"):
        h.push(Extrude("p2", "+z", -0.05, region=(2, 1, 3, 2)))
    h.push(AddOpening("p2", Opening(2, 1, 3, 2, "window")))
    h.push(RemoveOpening("p2", 0))
    assert [o.kind for o in doc.layout.get("p2").openings] == ["window"]
    g = h.push(GroupPrimitives(["p1", "p2"], "Shell"))
    assert doc.layout.get(g.group_id).children == ("p1", "p2")
    nested = h.push(GroupPrimitives(["p3", "p4"], "Inner"))  # inside g1: the new group takes their place
    assert doc.layout.get("g1").children == (nested.group_id, "p6")
    h.push(Ungroup(nested.group_id))
    assert doc.layout.get("g1").children == ("p3", "p4", "p6")
    h.push(SetPrimitiveProperty("p5", "locked", True))
    with pytest.raises(LayoutError, match="locked"):
        h.push(TransformPrimitive(["p5"], translation=(1, 0, 0)))
    with pytest.raises(LayoutError, match="locked"):
        h.push(RemovePrimitive(["p5"]))
    h.push(SetPrimitiveProperty("p5", "name", "still renamable"))
    h.push(RemovePrimitive(["g1"]))  # removes the group and its members
    assert not {"g1", "p3", "p4", "p6"} & set(doc.layout.primitives)
    h.push(SetLayout(Layout()))
    assert len(doc.layout) == 0
    h.undo_all()
    assert doc.digest() == start


def test_transform_rotation_and_scale_about_pivot():
    doc = make_document()
    h = History(doc)
    t = np.radians(90)
    q = (np.cos(t / 2), 0.0, np.sin(t / 2), 0.0)  # 90 degrees about y
    h.push(TransformPrimitive(["p3"], rotation=q, scale=(2, 1, 1), pivot=(0, 0, 0)))
    b = doc.layout.get("p3")
    k = 2 ** (1 / 3)
    assert np.allclose(b.position, k * np.array([0.5, 0.6, -0.5]))  # (x, z) -> (z, -x), scaled by k
    assert b.size == pytest.approx((2.4, 0.8, 0.75))
    assert np.allclose(b.rotation_matrix() @ [1, 0, 0], [0, 0, -1], atol=1e-12)


def test_snapping_helpers():
    assert np.allclose(snap_to_grid([[0.26, 1.04, -0.49]], 0.25), [[0.25, 1.0, -0.5]])
    assert np.allclose(snap_to_grid([0.26, 1.04, -0.49], 0.25, axes=(True, False, True)), [0.25, 1.04, -0.5])
    assert snap_angle(np.radians(52), 15) == pytest.approx(np.radians(45))
    end = snap_segment((0, 0, 0), (3, 0.2, 0.3), up=(0, -1, 0), step_deg=15, length_step=0.5)
    assert np.allclose(end, (3.0, 0.2, 0.0))  # heading snapped to x, height kept, length 3
    cam = Camera((0, -2, -5), (0, 0, 0), (0, -1, 0), 50, 100, 100)
    o, d = pixel_ray(cam, (50, 50))
    assert np.allclose(d, (np.array([0, 2, 5]) / np.linalg.norm([0, 2, 5])))
    hit = intersect_plane(o, d, (0, 1, 0), (0, -1, 0))
    assert np.allclose(hit, (0, 1, 2.5))
    # A wall of splats at z = 2 behind a faint veil at z = 1: snap lands on the wall
    rng = np.random.default_rng(0)
    wall = np.c_[rng.uniform(-1, 1, (400, 2)), np.full(400, 2.0)]
    veil = np.c_[rng.uniform(-1, 1, (400, 2)), np.full(400, 1.0)]
    cloud = SplatCloud.from_activated(np.concatenate([veil, wall]), np.full((800, 3), 0.01), np.tile([1.0, 0, 0, 0], (800, 1)),
                                      np.r_[np.full(400, 0.02), np.full(400, 0.9)], colors=np.full((800, 3), 0.5))
    cam = Camera((0, 0, -3), (0, 0, 0), (0, -1, 0), 50, 100, 100)
    p = snap_to_splats(cloud, cam, (50, 50), radius_px=8)
    assert p is not None and abs(p[2] - 2.0) < 1e-6 and np.allclose(p[:2], 0, atol=1e-9)
    assert snap_to_splats(cloud, cam, (1, 1), radius_px=1) is None


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_GOOD_JSON = base_layout().with_primitive(
    base_layout().get("p2").with_opening(Opening(0.5, 0, 1.4, 2.1, "door"))).to_json().encode()


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_layout_json_loads_or_raises_layout_error(data):
    raw = bytearray(_GOOD_JSON)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert", "digit"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "truncate":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.sampled_from([b"-", b"0", b"1e400", b'"', b",", b"]", b"{", b"null", b"true", b"NaN"]))
        elif raw:
            raw[pos:pos + 1] = str(data.draw(st.integers(0, 9))).encode()
    try:
        layout = Layout.from_json(bytes(raw))
    except LayoutError as e:
        assert "\n" not in str(e)
        return
    assert Layout.from_json(layout.to_json()) == layout  # whatever loads, saves and loads back the same
