"""Move / Rotate / Scale gizmo tools (W / E / R) in the real window (Xvfb):
dragging handles edits primitives or splats live as one undo step, Ctrl
snaps, Esc cancels, clicks select primitives, and the gizmo is drawn."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from editor.commands.layout_edits import SetPrimitiveProperty, TransformPrimitive
from editor.commands.splat_edits import SetSelection

TIMEOUT = 30_000
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NOMOD = Qt.KeyboardModifier.NoModifier



@pytest.fixture
def win(qtbot, main_window, scene_file):
    """A window with the ring scene, seen from the front, focused."""
    w = main_window
    with qtbot.waitSignal(w.scene_loaded, timeout=TIMEOUT):
        w.open_file(scene_file)
    w.set_view("front")
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # shortcuts need the active window
    w.viewport.setFocus()
    yield w
    w.history.set_clean()


def _send(widget, kind, pos, buttons, button=LEFT, modifiers=NOMOD):
    p = QPointF(float(pos[0]), float(pos[1]))
    QApplication.sendEvent(widget, QMouseEvent(kind, p, p, button, buttons, modifiers))


def _press(vp, pos, modifiers=NOMOD):
    _send(vp, QMouseEvent.Type.MouseButtonPress, pos, LEFT, modifiers=modifiers)


def _move(qtbot, vp, pos, modifiers=NOMOD):
    _send(vp, QMouseEvent.Type.MouseMove, pos, LEFT, NONE, modifiers)
    qtbot.wait(5)


def _release(vp, pos, modifiers=NOMOD):
    _send(vp, QMouseEvent.Type.MouseButtonRelease, pos, NONE, modifiers=modifiers)


def _drag(qtbot, vp, start, end, modifiers=NOMOD, steps=8):
    start, end = np.asarray(start, float), np.asarray(end, float)
    _press(vp, start, modifiers)
    for i in range(1, steps + 1):
        _move(qtbot, vp, start + (end - start) * i / steps, modifiers)
    _release(vp, end, modifiers)


def _logical(vp, device_xy):
    return np.asarray(device_xy, float) / vp.devicePixelRatioF()


def _handle(vp, tool_key, name):
    hs = {h.name: h for h in vp.tools[tool_key].handles()}
    assert name in hs, f"no {name!r} handle; have {sorted(hs)}"
    return hs[name]


def _box(w):
    pid = w.add_primitive("box")
    assert w.layout_selection == [pid]
    return pid, w.document.layout.get(pid)


def _depth(w, point):
    return float(w.viewport.camera().world_to_camera(np.asarray(point, float)[None])[0, 2])


def test_move_arrow_drag_moves_along_x_by_what_the_pixels_cover_one_undo_step(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)
    qtbot.keyClick(vp, Qt.Key.Key_W)
    assert vp.tool == "move" and w.action_map["tool_move"].isChecked()
    x = _handle(vp, "move", "x")
    a, b = x.lines[0]
    direction = (b - a) / np.linalg.norm(b - a)
    local_x = box.rotation_matrix()[:, 0]
    assert abs(local_x @ vp.camera().basis()[2]) < 1e-9  # the arrow lies in the image plane
    steps = len(w.history)
    start = _logical(vp, 0.5 * (a + b))
    _drag(qtbot, vp, start, start + 100 * direction / vp.devicePixelRatioF())
    moved = w.document.layout.get(pid)
    delta = np.subtract(moved.position, box.position)
    expected = 100.0 * _depth(w, box.position) / vp.camera().fx
    assert np.linalg.norm(delta) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(delta, expected * local_x, atol=1e-9 * max(1.0, expected))  # along x only
    assert moved.rotation == box.rotation and moved.size == box.size
    assert len(w.history) == steps + 1 and w.action_map["undo"].text() == "&Undo Transform"
    assert not vp.tools["move"].busy
    w.undo()
    assert w.document.layout.get(pid) is box  # the exact pose before the drag


def test_ctrl_drag_snaps_to_the_grid_step(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)
    w.set_tool("move")
    local_x = box.rotation_matrix()[:, 0]
    for step in (0.1, 0.25):
        w.grid_spin.setValue(step)
        x = _handle(vp, "move", "x")
        a, b = x.lines[0]
        direction = (b - a) / np.linalg.norm(b - a)
        before = np.asarray(w.document.layout.get(pid).position)
        start = _logical(vp, 0.5 * (a + b))
        _drag(qtbot, vp, start, start + 137 * direction, modifiers=CTRL)
        delta = np.asarray(w.document.layout.get(pid).position) - before
        k = float(delta @ local_x)
        free = 137.0 * _depth(w, before) / vp.camera().fx
        assert k == pytest.approx(round(free / step) * step, abs=1e-9) and k != 0
        assert np.linalg.norm(delta - k * local_x) < 1e-9


def test_esc_during_a_drag_restores_the_pose_and_ends_the_drag(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)
    w.set_tool("move")
    steps = len(w.history)
    a, b = _handle(vp, "move", "y").lines[0]
    start = _logical(vp, 0.5 * (a + b))
    _press(vp, start)
    for i in range(1, 5):
        _move(qtbot, vp, start + (0, -15 * i))
    assert w.document.layout.get(pid).position != box.position  # live
    assert "ΔY" in vp.tools["move"]._readout
    qtbot.keyClick(vp, Qt.Key.Key_Escape)
    assert w.document.layout.get(pid) is box
    assert not vp.tools["move"].busy and w.history.index == steps
    assert not w.history.can_redo  # a cancelled drag never happened: nothing to redo
    _move(qtbot, vp, start + (0, -90))  # the rest of the gesture does nothing
    _release(vp, start + (0, -90))
    assert w.document.layout.get(pid) is box and w.history.index == steps


def test_rotate_ring_turns_about_its_axis_by_the_mouse_angle(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)
    qtbot.keyClick(vp, Qt.Key.Key_E)
    assert vp.tool == "rotate"
    r0 = box.rotation_matrix()
    axis = r0[:, 2]
    assert abs(abs(axis @ vp.camera().basis()[2]) - 1) < 1e-9  # the z ring faces the camera
    c = vp.camera().project(np.asarray(box.position)[None])[0][0]
    ring = _handle(vp, "rotate", "z").lines[0]
    radius = float(np.median(np.linalg.norm(ring - c, axis=1)))
    def at(deg):
        return _logical(vp, c + radius * np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))]))

    steps = len(w.history)
    _press(vp, at(-30))
    for deg in range(-20, 51, 10):
        _move(qtbot, vp, at(deg))
    _release(vp, at(50))
    turned = w.document.layout.get(pid)
    r1 = turned.rotation_matrix()
    np.testing.assert_allclose(r1[:, 2], axis, atol=1e-9)  # about z
    angle = math.degrees(math.acos(np.clip(r1[:, 0] @ r0[:, 0], -1, 1)))
    assert angle == pytest.approx(80.0, abs=1e-6)
    # The box turns the way the mouse went: its +x axis follows on screen.
    pivot = np.asarray(box.position)
    px0 = vp.camera().project((pivot + r0[:, 0])[None])[0][0] - c
    px1 = vp.camera().project((pivot + r1[:, 0])[None])[0][0] - c
    screen_turn = math.degrees(math.atan2(px0[0] * px1[1] - px0[1] * px1[0], px0 @ px1))
    assert screen_turn == pytest.approx(80.0, abs=1e-6)
    np.testing.assert_allclose(turned.position, box.position, atol=1e-12)
    assert len(w.history) == steps + 1
    # Ctrl snaps to 15 degrees: 37 degrees of mouse travel turn by 30.
    _press(vp, at(0), CTRL)
    for deg in (10, 20, 30, 37):
        _move(qtbot, vp, at(deg), CTRL)
    _release(vp, at(37), CTRL)
    r2 = w.document.layout.get(pid).rotation_matrix()
    assert math.degrees(math.acos(np.clip(r2[:, 0] @ r1[:, 0], -1, 1))) == pytest.approx(30.0, abs=1e-6)


def test_scale_handle_scales_along_the_axis_and_the_centre_uniformly(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)
    qtbot.keyClick(vp, Qt.Key.Key_R)
    assert vp.tool == "scale"
    x = _handle(vp, "scale", "x")
    tip = x.polygons[0].mean(axis=0)  # the square at the end of the handle (one gizmo length out)
    c = vp.camera().project(np.asarray(box.position)[None])[0][0]
    out = (tip - c) / np.linalg.norm(tip - c)
    _drag(qtbot, vp, _logical(vp, tip), _logical(vp, tip + np.linalg.norm(tip - c) * out))
    scaled = w.document.layout.get(pid)
    assert scaled.size[0] == pytest.approx(2 * box.size[0], rel=1e-6)  # dragged out to twice the distance
    assert scaled.size[1:] == box.size[1:] and scaled.position == pytest.approx(box.position)
    w.undo()
    _drag(qtbot, vp, _logical(vp, c), _logical(vp, c) + (45, 0))  # the uniform centre: right grows
    uni = w.document.layout.get(pid)
    np.testing.assert_allclose(uni.size, 1.5 * np.asarray(box.size), rtol=1e-9)


def test_gizmo_moves_only_the_selected_splats(qtbot, win):
    w, vp = win, win.viewport
    layer = w.document.layers[0]
    pos0 = layer.cloud.positions.copy()
    mask = pos0[:, 0] < 0
    w.push(SetSelection({layer.id: mask}))
    assert not w.layout_selection
    w.set_tool("move")
    tool = vp.tools["move"]
    target = tool.target()
    assert target.kind == "splats" and target.count == mask.sum()
    np.testing.assert_allclose(target.pivot, pos0[mask].astype(np.float64).mean(axis=0))
    a, b = _handle(vp, "move", "x").lines[0]
    direction = (b - a) / np.linalg.norm(b - a)
    assert abs(direction[1]) < 1e-9  # world x is horizontal in the front view
    steps = len(w.history)
    start = _logical(vp, 0.5 * (a + b))
    _drag(qtbot, vp, start, start + 80 * direction)
    pos1 = layer.cloud.positions
    delta = (pos1[mask] - pos0[mask]).astype(np.float64)
    expected = 80.0 * _depth(w, target.pivot) / vp.camera().fx
    np.testing.assert_allclose(np.abs(delta[:, 0]), expected, rtol=1e-4)
    np.testing.assert_allclose(delta[:, 1:], 0.0, atol=1e-6)
    assert np.array_equal(pos1[~mask], pos0[~mask])
    assert len(w.history) == steps + 1 and w.action_map["undo"].text() == "&Undo Transform splats"
    w.undo()
    assert np.array_equal(layer.cloud.positions, pos0)


def test_click_selects_primitives_shift_adds_empty_space_clears_drag_orbits(qtbot, win):
    w, vp = win, win.viewport
    left, _ = _box(w)
    size = w.document.layout.get(left).size[0]
    right_dir = vp.camera().basis()[0]
    w.push(TransformPrimitive([left], translation=-1.5 * size * right_dir))
    right, _ = _box(w)
    w.set_tool("move")
    cam = vp.camera()

    def screen(pid):
        return _logical(vp, cam.project(np.asarray(w.document.layout.get(pid).position)[None])[0][0])

    # Click on the left box (away from the gizmo on the right one).
    _press(vp, screen(left) + (0, 8))
    _release(vp, screen(left) + (0, 8))
    assert w.layout_selection == [left]
    assert w.outliner.ids() and w.properties.prim.id == left
    # Shift+click adds the other one (clicked off its gizmo: below the centre, left of the y arrow).
    spot = screen(right) + (-12, 15)
    _press(vp, spot, SHIFT)
    _release(vp, spot, SHIFT)
    assert set(w.layout_selection) == {left, right}
    # A drag off the gizmo orbits and keeps the selection.
    eye = vp.nav.eye.copy()
    _drag(qtbot, vp, (20, 20), (90, 40))
    assert not np.allclose(vp.nav.eye, eye) and set(w.layout_selection) == {left, right}
    # A click on empty space clears it.
    _press(vp, (5, 5))
    _release(vp, (5, 5))
    assert w.layout_selection == []
    assert vp.tools["move"].handles() == []  # no gizmo without a selection (no splats are selected either)


def test_locked_primitives_are_not_moved(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)
    w.push(SetPrimitiveProperty(pid, "locked", True))
    locked = w.document.layout.get(pid)
    w.set_tool("move")
    steps = len(w.history)
    a, b = _handle(vp, "move", "x").lines[0]
    start = _logical(vp, 0.5 * (a + b))
    _drag(qtbot, vp, start, start + (60, 0))
    assert w.document.layout.get(pid) is locked and len(w.history) == steps
    assert "locked" in w.statusBar().currentMessage()


def test_gizmo_is_drawn_over_the_view(qtbot, win):
    w, vp = win, win.viewport
    pid, box = _box(w)

    def shot():
        vp.overlay.repaint()
        with qtbot.waitSignal(vp.frame_rendered, timeout=TIMEOUT):
            vp.update()
        return np.asarray(_rgb(vp.grab().toImage()))

    plain = shot()
    w.set_tool("move")
    drawn = shot()
    x = _handle(vp, "move", "x")
    dpr = vp.devicePixelRatioF()

    def reds(img):
        r, g, bl = (img[..., i].astype(int) for i in range(3))
        return (r > 180) & (g < 110) & (bl < 110)

    # Pixels along the projected x arrow (shaft and head) turn red; nowhere else does.
    ys, xs = np.nonzero(reds(drawn) & ~reds(plain))
    near = np.array([x.distance(((px + 0.5) * dpr, (py + 0.5) * dpr)) < 3 * dpr for px, py in zip(xs, ys)])
    shaft = np.linalg.norm(x.lines[0][1] - x.lines[0][0]) / dpr
    assert near.sum() > shaft  # a solid line along the arrow
    assert near.mean() > 0.9  # and the new red is there, not elsewhere
    corner = (slice(0, 40), slice(0, 40))
    assert np.array_equal(drawn[corner], plain[corner])
    # Hovering the arrow highlights it: yellow where it was red.
    mid = _logical(vp, x.lines[0].mean(axis=0))
    _send(vp, QMouseEvent.Type.MouseMove, mid, NONE, NONE)
    assert vp.tools["move"]._hover == "x"
    hovered = shot()
    r, g, bl = (hovered[..., i].astype(int) for i in range(3))
    yellow = (r > 200) & (g > 180) & (bl < 90)
    on_shaft = np.zeros(drawn.shape[:2], bool)
    pts = np.vstack([*x.lines, *x.polygons]) / dpr
    (x0, y0), (x1, y1) = np.floor(pts.min(axis=0)).astype(int) - 3, np.ceil(pts.max(axis=0)).astype(int) + 3
    for py in range(max(y0, 0), min(y1, drawn.shape[0])):
        for px in range(max(x0, 0), min(x1, drawn.shape[1])):
            on_shaft[py, px] = x.distance(((px + 0.5) * dpr, (py + 0.5) * dpr)) < 2 * dpr
    assert (yellow & on_shaft).sum() > 0.8 * (reds(drawn) & on_shaft).sum() > 0
    assert (reds(hovered) & on_shaft).sum() < 0.1 * (reds(drawn) & on_shaft).sum()
    w.set_layout_selection([])
    without = shot()
    w.set_tool("navigate")
    assert abs(int(reds(without).sum()) - int(reds(shot()).sum())) <= 5  # gone without a selection


def _rgb(image):
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    ptr = image.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=image.bytesPerLine() * h).reshape(h, image.bytesPerLine())
    return arr[:, : w * 3].reshape(h, w, 3).copy()


def test_w_e_r_pick_tools_shift_r_resets_and_flying_keeps_w_and_e(qtbot, win):
    w, vp = win, win.viewport
    for key, tool in ((Qt.Key.Key_W, "move"), (Qt.Key.Key_E, "rotate"), (Qt.Key.Key_R, "scale")):
        qtbot.keyClick(vp, key)
        assert vp.tool == tool
    vp.nav.zoom(-3)
    d = vp.nav.distance
    qtbot.keyClick(vp, Qt.Key.Key_R, SHIFT)
    assert vp.nav.distance != d and vp.tool == "scale"
    # Holding the right button, W flies instead of picking the Move tool.
    c = QPointF(vp.width() / 2, vp.height() / 2)
    QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseButtonPress, c, c, Qt.MouseButton.RightButton,
                                           Qt.MouseButton.RightButton, NOMOD))
    eye = vp.nav.eye.copy()
    qtbot.keyPress(vp, Qt.Key.Key_W)
    qtbot.wait(60)
    qtbot.keyRelease(vp, Qt.Key.Key_W)
    QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseButtonRelease, c, c, Qt.MouseButton.RightButton,
                                           NONE, NOMOD))
    assert vp.tool == "scale" and not np.allclose(vp.nav.eye, eye)
    # X toggles the gizmo between the primitive's own axes and the world axes.
    pid, box = _box(w)
    qtbot.keyClick(vp, Qt.Key.Key_W)
    tool = vp.tools["move"]
    np.testing.assert_allclose(tool.target().axes, box.rotation_matrix())
    qtbot.keyClick(vp, Qt.Key.Key_X)
    np.testing.assert_allclose(tool.target().axes, np.eye(3))
    assert not vp.tools["rotate"].local
    qtbot.keyClick(vp, Qt.Key.Key_X)
    assert tool.local
