"""The layout tools in the real window (Xvfb), driven by mouse events at the
pixels where the window's own camera sees known world points: the wall tool
(click-to-click chains, corner joins, Esc, Backspace, undo), push/pull (one
undo step per drag, Esc restores, refusal, grid snapping), the opening tool
(a door cut through a wall, visible in the exported collider), grouping from
the outliner, and the collider's up-axis choice."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QPushButton

from editor.commands.layout_edits import SetLayout
from editor.formats import write_splats
from editor.geometry import drawing
from editor.geometry.meshing import Mesh
from editor.model.camera import Camera
from editor.model.layout import Box, Layout, Plane, Wall, frame_from_axes
from tests.ui.helpers import small_cloud

TIMEOUT = 30_000
UP = np.array([0.0, -1.0, 0.0])  # the 3DGS frame: y down, so "above the floor" is smaller y
FLOOR_Y = 0.5
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton



@pytest.fixture
def window(qtbot, main_window, tmp_path):
    """The window on a small ring scene, with a floor plane under it."""
    path = tmp_path / "ring.ply"
    write_splats(small_cloud(600), path)
    w = main_window
    with qtbot.waitSignal(w.scene_loaded, timeout=TIMEOUT):
        w.open_file(path)
    yield w
    w.history.set_clean()


def _set_layout(w, *prims) -> Layout:
    layout = Layout({p.id: p for p in prims}, tuple(UP))
    assert w.push(SetLayout(layout))
    return w.document.layout


def _look(w, eye, target) -> None:
    vp = w.viewport
    width, height = vp.pixel_size()
    vp.nav.set_camera(Camera(np.asarray(eye, float), np.asarray(target, float), UP, 50.0, width, height))
    vp.view_changed(full=True)


def _px(w, point) -> tuple[float, float]:
    """Logical widget position of a world point in the window's current view."""
    uv, z = w.viewport.camera().project(np.asarray(point, float)[None])
    assert z[0] > 0
    dpr = w.viewport.devicePixelRatioF()
    return float(uv[0, 0] / dpr), float(uv[0, 1] / dpr)


def _send(w, kind, pos, button=LEFT, buttons=LEFT, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    p = QPointF(*pos)
    QApplication.sendEvent(w.viewport, QMouseEvent(kind, p, p, button, buttons, modifiers))


def _hover(w, pos, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    _send(w, QMouseEvent.Type.MouseMove, pos, NONE, NONE, modifiers)


def _click(w, pos, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    _hover(w, pos, modifiers)
    _send(w, QMouseEvent.Type.MouseButtonPress, pos, LEFT, LEFT, modifiers)
    _send(w, QMouseEvent.Type.MouseButtonRelease, pos, LEFT, NONE, modifiers)


def _press_and_move(w, start, end, steps=6, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    _hover(w, start, modifiers)
    _send(w, QMouseEvent.Type.MouseButtonPress, start, LEFT, LEFT, modifiers)
    for i in range(1, steps + 1):
        t = i / steps
        pos = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        _send(w, QMouseEvent.Type.MouseMove, pos, NONE, LEFT, modifiers)


def _release(w, pos, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    _send(w, QMouseEvent.Type.MouseButtonRelease, pos, LEFT, NONE, modifiers)


def _overlay_pixels(w, colour, tol=40) -> int:
    """How many overlay pixels have (about) ``colour``: what a tool draws over the view."""
    image = w.viewport.overlay.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    a = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
    a = a[:, : image.width() * 4].reshape(image.height(), image.width(), 4).astype(int)
    return int((np.abs(a[..., :3] - np.array(colour)).max(axis=2) < tol).sum())


def _walls(w) -> list[Wall]:
    return [p for p in w.document.layout if isinstance(p, Wall)]


def _floor() -> Plane:
    return Plane("floor", "Floor", position=(0.0, FLOOR_Y, 0.0), rotation=frame_from_axes([1, 0, 0], UP),
                 size=(6.0, 6.0), thickness=0.05, role="floor")


ORANGE, BLUE = (255, 170, 40), (80, 200, 255)


def test_wall_chain_click_to_click_joins_corners_and_undoes(qtbot, window):
    w = window
    before = _set_layout(w, _floor())
    _look(w, [0.3, -4.0, -3.0], [0.0, FLOOR_Y, 0.0])
    w.action_map["tool_wall"].trigger()
    assert w.viewport.tool == "wall"
    # The tool bar shows the wall options (height, thickness, snap) only while the tool is active.
    assert all(a.isVisible() for a in w.tool_options["wall"])
    assert not any(a.isVisible() for a in w.tool_options["pushpull"])
    # The defaults are scene-relative: this ring is ~3 units across, too small for 2.5-unit walls.
    assert w.findChild(QDoubleSpinBox, "wallHeight").value() < 2.5
    w.findChild(QDoubleSpinBox, "wallHeight").setValue(1.2)
    w.findChild(QDoubleSpinBox, "wallThickness").setValue(0.1)
    steps = len(w.history)
    p0, p1, p2 = (np.array(p) for p in ([-1.0, FLOOR_Y, -0.5], [1.0, FLOOR_Y, -0.5], [1.0, FLOOR_Y, 0.8]))

    _hover(w, _px(w, p1))
    assert _overlay_pixels(w, ORANGE) < 200  # just the cursor's marker
    _click(w, _px(w, p0))
    assert w.viewport.active_tool.busy and len(w.history) == steps  # a start point is not an edit
    _hover(w, _px(w, p1))
    assert _overlay_pixels(w, ORANGE) > 400  # the previewed wall
    _click(w, _px(w, p1))
    _click(w, _px(w, p2))
    qtbot.keyClick(w.viewport, Qt.Key.Key_Return)  # finishes the chain
    assert not w.viewport.active_tool.busy

    w1, w2 = _walls(w)
    assert len(w.history) == steps + 2  # one undo step per wall
    # Exactly the chain the drawing maths defines (ids aside).
    for got, want in zip((w1, w2), drawing.chain_walls([p0, p1, p2], UP, 1.2, 0.1)):
        assert got.position == pytest.approx(want.position, abs=1e-6)
        assert got.rotation == pytest.approx(want.rotation, abs=1e-6)
        assert got.length == pytest.approx(want.length, abs=1e-6)
    assert w.action_map["undo"].text() == "&Undo Add wall"
    assert w1.height == pytest.approx(1.2) and w1.thickness == pytest.approx(0.1)
    assert w1.rotation_matrix()[:, 1] == pytest.approx(UP)  # standing on the floor
    assert w1.start == pytest.approx(p0, abs=1e-6) and w2.end == pytest.approx(p2, abs=1e-6)
    assert w1.length == pytest.approx(2.0 + 0.05, abs=1e-6)  # reaches half the thickness past the corner
    assert w2.length == pytest.approx(1.3 + 0.05, abs=1e-6)
    # Corner joined: the walls' outer corners coincide (no gap), at the mitre point.
    r1, r2 = w1.rotation_matrix(), w2.rotation_matrix()
    c1 = w1.to_world(np.array([[w1.length / 2, -0.6, -np.sign(r2[:, 0] @ r1[:, 2]) * 0.05]]))[0]
    c2 = w2.to_world(np.array([[-w2.length / 2, -0.6, np.sign(r1[:, 0] @ r2[:, 2]) * 0.05]]))[0]
    assert c1 == pytest.approx(c2, abs=1e-6)
    assert c1 == pytest.approx([1.05, FLOOR_Y, -0.55], abs=1e-6)
    assert w.layout_selection == [w2.id]

    w.undo()
    assert [x.id for x in _walls(w)] == [w1.id] and _walls(w)[0].length == pytest.approx(2.0, abs=1e-6)
    w.undo()
    assert w.document.layout is before


def test_wall_tool_esc_keeps_placed_walls_and_backspace_takes_the_last_back(qtbot, window):
    w = window
    _set_layout(w, _floor())
    _look(w, [0.3, -4.0, -3.0], [0.0, FLOOR_Y, 0.0])
    w.set_tool("wall")
    tool = w.viewport.active_tool
    pts = [np.array(p) for p in ([-1.0, FLOOR_Y, -1.0], [1.0, FLOOR_Y, -1.0], [1.0, FLOOR_Y, 1.0],
                                 [-1.0, FLOOR_Y, 1.0])]
    for p in pts[:3]:
        _click(w, _px(w, p))
    assert len(_walls(w)) == 2
    first_before = _walls(w)[0]
    # Backspace: the last wall goes, and the first loses the lengthening that joined them.
    qtbot.keyClick(w.viewport, Qt.Key.Key_Backspace)
    assert len(_walls(w)) == 1 and _walls(w)[0].length == pytest.approx(2.0, abs=1e-6)
    assert tool.busy  # the chain goes on from the first wall's end
    _click(w, _px(w, pts[2]))
    assert len(_walls(w)) == 2 and _walls(w)[0].length == pytest.approx(first_before.length, abs=1e-9)
    # Esc in the middle of the next segment: placed walls stay, the segment goes.
    _hover(w, _px(w, pts[3]))
    qtbot.keyClick(w.viewport, Qt.Key.Key_Escape)
    assert not tool.busy and len(_walls(w)) == 2
    _click(w, _px(w, pts[3]))  # a new chain starts here: no wall yet
    assert len(_walls(w)) == 2 and tool.busy
    qtbot.keyClick(w.viewport, Qt.Key.Key_Escape)

    # A closed loop: clicking the first point again joins the last wall to the first and finishes.
    w.history.undo_all()
    _set_layout(w, _floor())
    for p in pts + [pts[0]]:
        _click(w, _px(w, p))
    assert not tool.busy
    walls = _walls(w)
    t = tool.settings.thickness
    assert len(walls) == 4 and all(x.length == pytest.approx(2.0 + t, abs=1e-6) for x in walls)
    # A double-click ends a chain too.
    _click(w, _px(w, pts[0]))
    _click(w, _px(w, [0.0, FLOOR_Y, 0.0]))
    _send(w, QMouseEvent.Type.MouseButtonDblClick, _px(w, [0.0, FLOOR_Y, 0.0]))
    _release(w, _px(w, [0.0, FLOOR_Y, 0.0]))
    assert not tool.busy and len(_walls(w)) == 5


def test_push_pull_a_box_face_is_one_step_and_esc_restores(qtbot, window):
    w = window
    box = Box("box", "Box", position=(0.0, 0.0, 0.0), size=(0.6, 0.6, 0.6))
    _set_layout(w, box)
    _look(w, [3.0, -2.0, -2.5], [0.0, 0.0, 0.0])
    w.action_map["tool_pushpull"].trigger()
    face = np.array([0.3, 0.0, 0.0])  # the middle of the box's +x face
    # Hovering the face outlines it; empty space does not.
    _hover(w, _px(w, [0.0, 2.0, 2.5]))
    assert _overlay_pixels(w, BLUE) == 0
    _hover(w, _px(w, face))
    assert _overlay_pixels(w, BLUE) > 100

    steps = len(w.history)
    end = _px(w, face + [0.5, 0.0, 0.0])
    _press_and_move(w, _px(w, face), end, steps=8)
    assert w.document.layout.get("box").size[0] == pytest.approx(1.1, abs=1e-6)  # live while dragging
    _release(w, end)
    pulled = w.document.layout.get("box")
    assert pulled.size == pytest.approx((1.1, 0.6, 0.6), abs=1e-6)
    assert pulled.position == pytest.approx((0.25, 0.0, 0.0), abs=1e-6)  # the -x face stayed
    assert len(w.history) == steps + 1 and w.action_map["undo"].text() == "&Undo Push/pull"
    w.undo()
    assert w.document.layout.get("box") is box  # exact
    w.redo()
    assert w.document.layout.get("box").size[0] == pytest.approx(1.1, abs=1e-6)

    # Esc in the middle of a drag puts the box back and records nothing.
    pulled = w.document.layout.get("box")
    face = np.array([0.8, 0.0, 0.0])
    _press_and_move(w, _px(w, face), _px(w, face + [0.4, 0.0, 0.0]))
    assert w.document.layout.get("box").size[0] == pytest.approx(1.5, abs=1e-6)
    qtbot.keyClick(w.viewport, Qt.Key.Key_Escape)
    _release(w, _px(w, face + [0.4, 0.0, 0.0]))
    assert w.document.layout.get("box") is pulled
    assert len(w.history) == steps + 1 and not w.history.can_redo

    # Pushing the face through the opposite one is refused; the box keeps its last valid size.
    _press_and_move(w, _px(w, face), _px(w, face - [1.6, 0.0, 0.0]), steps=4)
    assert "opposite face" in w.statusBar().currentMessage()
    _release(w, _px(w, face - [1.6, 0.0, 0.0]))
    assert w.document.layout.get("box").size[0] > 0
    w.undo()
    assert w.document.layout.get("box") is pulled

    # Ctrl snaps the distance to the grid step.
    w.grid_spin.setValue(0.25)
    ctrl = Qt.KeyboardModifier.ControlModifier
    target = _px(w, face + [0.33, 0.0, 0.0])
    _press_and_move(w, _px(w, face), target, modifiers=ctrl)
    _release(w, target, modifiers=ctrl)
    assert w.document.layout.get("box").size[0] == pytest.approx(1.1 + 0.25, abs=1e-9)


def _read_obj(path) -> Mesh:
    v, f = [], []
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            v.append([float(x) for x in line.split()[1:]])
        elif line.startswith("f "):
            f.append([int(x) - 1 for x in line.split()[1:]])
    return Mesh(np.array(v), np.array(f, np.int64))


def test_opening_tool_cuts_a_door_that_the_collider_has(qtbot, window, tmp_path, monkeypatch):
    w = window
    wall = Wall.from_endpoints("wall", [-1.0, FLOOR_Y, 0.0], [1.0, FLOOR_Y, 0.0], UP, height=1.5, thickness=0.1,
                               name="Wall")
    before = _set_layout(w, wall)
    _look(w, [0.4, -0.5, -4.0], [0.0, -0.25, 0.0])
    w.action_map["tool_opening"].trigger()
    face = "+z"  # local +z = x cross up = world -z: the face towards the camera
    assert wall.to_local(np.array([[0.0, 0.0, -1.0]]))[0, 2] > 0
    a = drawing.wall_face_point(wall, (0.6, 0.05), face)  # starts near the floor: a door
    b = drawing.wall_face_point(wall, (1.4, 1.2), face)
    steps = len(w.history)
    _press_and_move(w, _px(w, a), _px(w, b))
    assert _overlay_pixels(w, ORANGE) > 200  # the rectangle being drawn
    assert w.document.layout is before  # nothing cut until the release
    _release(w, _px(w, b))
    cut = w.document.layout.get("wall")
    assert len(cut.openings) == 1 and len(w.history) == steps + 1
    door = cut.openings[0]
    assert door.kind == "door"
    assert (door.u0, door.v0, door.u1, door.v1) == pytest.approx((0.6, 0.0, 1.4, 1.2), abs=1e-6)

    # The exported collider has the hole: its volume is smaller by the door's.
    out = tmp_path / "wall.obj"
    assert w.export_collider(out)
    mesh = _read_obj(out)
    assert mesh.is_watertight()
    assert mesh.volume == pytest.approx(2.0 * 1.5 * 0.1 - 0.8 * 1.2 * 0.1, rel=1e-6)

    # Dragging the door's right edge resizes it live, as one undo step; Esc puts it back.
    edge = drawing.wall_face_point(wall, (1.4, 0.6), face)
    wider = drawing.wall_face_point(wall, (1.7, 0.9), face)
    _hover(w, _px(w, edge))
    assert w.viewport.cursor().shape() == Qt.CursorShape.SizeHorCursor
    _press_and_move(w, _px(w, edge), _px(w, wider))
    assert w.document.layout.get("wall").openings[0].u1 == pytest.approx(1.7, abs=1e-6)
    qtbot.keyClick(w.viewport, Qt.Key.Key_Escape)
    _release(w, _px(w, wider))
    assert w.document.layout.get("wall") is cut and len(w.history) == steps + 1
    _press_and_move(w, _px(w, edge), _px(w, wider))
    _release(w, _px(w, wider))
    resized = w.document.layout.get("wall").openings[0]
    assert (resized.u0, resized.v0, resized.u1, resized.v1) == pytest.approx((0.6, 0.0, 1.7, 1.2), abs=1e-6)
    assert resized.kind == "door" and len(w.history) == steps + 2
    assert w.action_map["undo"].text() == "&Undo Resize opening"
    w.undo()
    assert w.document.layout.get("wall") is cut

    # Del over the opening (seen through its hole) removes it.
    _hover(w, _px(w, drawing.wall_face_point(wall, (1.0, 0.6), face)))
    assert _overlay_pixels(w, BLUE) > 100  # the opening under the cursor is outlined
    qtbot.keyClick(w.viewport, Qt.Key.Key_Delete)
    assert w.document.layout.get("wall").openings == () and "wall" in w.document.layout
    w.undo()
    assert w.document.layout.get("wall") is cut

    # The Properties panel lists the opening and removes it (one undo step).
    assert w.layout_selection == ["wall"]
    assert w.properties.openings.count() == 1
    w.properties.findChild(QPushButton, "prop_remove_opening").click()
    assert w.document.layout.get("wall").openings == ()
    w.undo()
    assert w.document.layout.get("wall") is cut
    w.undo()
    assert w.document.layout is before

    # A click without a drag cuts nothing and says why.
    _press_and_move(w, _px(w, a), _px(w, a), steps=1)
    _release(w, _px(w, a))
    assert w.document.layout is before and "larger rectangle" in w.statusBar().currentMessage()


def test_group_and_ungroup_from_the_outliner(qtbot, window):
    w = window
    boxes = [Box(f"b{i}", f"Box {i}", position=(i, 0.0, 0.0), size=(0.5, 0.5, 0.5)) for i in range(3)]
    before = _set_layout(w, *boxes)
    w.outliner.item("b0").setSelected(True)
    w.outliner.item("b2").setSelected(True)
    assert w.layout_selection == ["b0", "b2"]
    w.action_map["group"].trigger()
    gid = w.layout_selection[0]
    group = w.document.layout.get(gid)
    assert group.TYPE == "group" and group.children == ("b0", "b2")
    assert w.outliner.parent_id("b0") == gid and w.outliner.parent_id("b2") == gid
    assert w.outliner.parent_id("b1") is None
    assert w.outliner.ids() == [gid, "b0", "b2", "b1"]
    w.action_map["ungroup"].trigger()
    assert gid not in w.document.layout and w.layout_selection == ["b0", "b2"]
    assert w.outliner.parent_id("b0") is None
    assert w.document.layout.to_dict() == before.to_dict()  # the round trip changes nothing
    w.undo()
    assert w.document.layout.get(gid).children == ("b0", "b2")
    w.undo()
    assert w.document.layout is before
    # Ungroup with no group selected does nothing but say so.
    w.set_layout_selection(["b1"])
    w.action_map["ungroup"].trigger()
    assert w.document.layout is before and "select a group" in w.statusBar().currentMessage()


@pytest.mark.parametrize("chosen, axis", [("Wavefront OBJ, z up (*.obj)", 2), ("Wavefront OBJ, y up (*.obj)", 1)])
def test_export_collider_dialog_passes_the_chosen_up_axis(qtbot, window, tmp_path, monkeypatch, chosen, axis):
    w = window
    _set_layout(w, Wall.from_endpoints("wall", [-1.0, FLOOR_Y, 0.0], [1.0, FLOOR_Y, 0.0], UP, height=1.5,
                                       thickness=0.1))
    out = tmp_path / "collider"
    offered = []

    def save_name(parent, caption, start, filters):
        offered.append(filters)
        return str(out), chosen

    monkeypatch.setattr("app.ui.main_window.QFileDialog.getSaveFileName", save_name)
    w.export_collider_dialog()
    assert "z up" in offered[0] and "y up" in offered[0]
    mesh = _read_obj(tmp_path / "collider.obj")
    extent = mesh.vertices.max(axis=0) - mesh.vertices.min(axis=0)
    assert extent[axis] == pytest.approx(1.5)  # the wall's height lies along the chosen up axis
    assert mesh.vertices[:, axis].min() == pytest.approx(-FLOOR_Y)  # standing on the floor, upwards
