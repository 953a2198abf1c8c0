"""Structure-first editing in the real window (Xvfb): selection tools, delete /
undo / redo through the history, projects (save, reopen, dirty prompt,
recovery), layout proposal, outliner and properties, collider export."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from editor.formats import write_splats
from tests.ui.helpers import open_scene as _open
from tests.ui.helpers import psnr

TIMEOUT = 30_000



@pytest.fixture
def room_file(tmp_path):
    from tests.editor.editor_scenes import make_room

    cloud, _ = make_room(seed=3, density=120.0)
    path = tmp_path / "room.ply"
    write_splats(cloud, path)
    return path



def _drag(qtbot, widget, start, end, modifiers=Qt.KeyboardModifier.NoModifier, steps=6):
    """Press the left button at ``start``, move to ``end`` in ``steps``, release."""
    def send(kind, pos, buttons, button=Qt.MouseButton.LeftButton):
        p = QPointF(*pos)
        QApplication.sendEvent(widget, QMouseEvent(kind, p, p, button, buttons, modifiers))

    send(QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for i in range(1, steps + 1):
        t = i / steps
        pos = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        send(QMouseEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
        qtbot.wait(5)
    send(QMouseEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def _count(window, key="count") -> int:
    return int(window.stats_panel.values()[key].split()[0].replace(",", ""))


def test_rectangle_select_delete_undo_redo(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    vp = w.viewport
    assert w.windowTitle() == "ring.ply - SplatForge"
    assert not w.action_map["undo"].isEnabled()
    original = vp.render_image()
    w.action_map["tool_rect"].trigger()
    assert vp.tool == "rect"
    # Drag a rectangle over the left half of the view.
    _drag(qtbot, vp, (5, 5), (vp.width() // 2, vp.height() - 5))
    selected = _count(w, "selected")
    assert 0 < selected < 600
    assert w.windowTitle() == "ring.ply* - SplatForge"
    assert w.action_map["undo"].text() == "&Undo Select"
    tinted = vp.render_image()
    assert psnr(original, tinted) < 40.0  # the selection is drawn highlighted
    # Shift adds, Ctrl subtracts.
    _drag(qtbot, vp, (vp.width() // 2, 5), (vp.width() - 5, vp.height() - 5), Qt.KeyboardModifier.ShiftModifier)
    assert _count(w, "selected") > selected
    _drag(qtbot, vp, (vp.width() // 2, 5), (vp.width() - 5, vp.height() - 5), Qt.KeyboardModifier.ControlModifier)
    assert _count(w, "selected") == selected
    # Ctrl+Shift intersects: the top half of the left half.
    both = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    _drag(qtbot, vp, (2, 2), (vp.width() - 2, vp.height() // 2), both)
    assert 0 < _count(w, "selected") < selected
    w.action_map["undo"].trigger()
    assert _count(w, "selected") == selected
    w.history.rollback(w.history.index)  # drop the redo branch: the steps below count on it

    w.action_map["delete"].trigger()
    assert _count(w) == 600 - selected and _count(w, "selected") == 0
    assert len(vp.cloud) == 600 - selected
    deleted = vp.render_image()
    assert psnr(original, deleted) < 30.0
    assert w.action_map["undo"].text() == "&Undo Delete splats"

    w.action_map["undo"].trigger()
    assert _count(w) == 600 and _count(w, "selected") == selected
    assert psnr(tinted, vp.render_image()) > 40.0
    for _ in range(3):  # the subtract, the add and the first selection
        w.action_map["undo"].trigger()
    assert _count(w, "selected") == 0
    assert psnr(original, vp.render_image()) > 40.0
    assert w.windowTitle() == "ring.ply - SplatForge"  # back at the loaded state: clean
    for _ in range(4):
        w.action_map["redo"].trigger()
    assert _count(w) == 600 - selected
    assert psnr(deleted, vp.render_image()) > 40.0
    assert not w.action_map["redo"].isEnabled()
    w.history.set_clean()  # let the fixture close the window without a prompt


def test_brush_select_is_one_step_per_stroke_and_hide_unhide(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    vp = w.viewport
    w.set_tool("brush")
    w.brush_spin.setValue(30)
    steps = len(w.history)
    _drag(qtbot, vp, (vp.width() * 0.2, vp.height() * 0.5), (vp.width() * 0.8, vp.height() * 0.5), steps=10)
    assert len(w.history) == steps + 1
    painted = _count(w, "selected")
    assert painted > 0
    w.hide_selected()
    assert _count(w, "selected") == 0 and len(vp.cloud) == 600 - painted
    assert w.stats_panel.values()["count"] == f"600 ({painted} hidden)"
    w.unhide_all()
    assert len(vp.cloud) == 600
    w.select_all()
    assert _count(w, "selected") == 600
    w.select_invert()
    assert _count(w, "selected") == 0
    w.select_all()
    w.select_none()
    assert _count(w, "selected") == 0
    w.history.set_clean()


def test_save_project_reopen_same_document(qtbot, main_window, scene_file, tmp_path):
    from editor.commands.splat_edits import DeleteSelection

    w = main_window
    _open(qtbot, w, scene_file)
    w.select_all()
    w.select_invert()
    w.action_map["tool_rect"].trigger()
    _drag(qtbot, w.viewport, (5, 5), (w.viewport.width() // 3, w.viewport.height() - 5))
    w.history.push(DeleteSelection())
    pid = w.add_primitive("box")
    assert pid in w.document.layout and w.outliner.ids() == [pid]
    w.action_map["add_cylinder"].trigger()
    w.action_map["add_sphere"].trigger()
    kinds = [w.document.layout.get(i).TYPE for i in w.outliner.ids()]
    assert kinds == ["box", "cylinder", "sphere"]
    digest = w.document.digest()
    live = _count(w)
    out = tmp_path / "edited.sforge"
    assert w.save_project_to(out)
    assert w.windowTitle() == "edited.sforge - SplatForge" and w.history.is_clean
    w.history.undo()
    assert w.windowTitle() == "edited.sforge* - SplatForge"
    w.history.redo()
    assert w.history.is_clean
    # Reopen through the normal open path (recent files, drop and Open all go there).
    with qtbot.waitSignal(w.scene_loaded, timeout=TIMEOUT):
        w.open_file(out)
    assert w.project_path == out and w.document.digest() == digest
    assert _count(w) == live and len(w.viewport.cloud) == live
    assert [w.document.layout.get(i).TYPE for i in w.outliner.ids()] == kinds
    assert w.windowTitle() == "edited.sforge - SplatForge" and not w.action_map["undo"].isEnabled()
    assert w.settings.recent_files()[0] == str(out.resolve())


def test_unsaved_changes_prompt_on_close_open_and_new(monkeypatch, qtbot, main_window, scene_file, tmp_path):
    w = main_window
    _open(qtbot, w, scene_file)
    answers, asked = [], []

    def fake_warning(parent, title, text, buttons, default):
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(fake_warning))
    w.select_all()
    # Cancel keeps the window open and the changes.
    answers.append(QMessageBox.StandardButton.Cancel)
    assert not w.close()
    assert w.isVisible() and not w.history.is_clean and "ring.ply" in asked[-1]
    # Cancel also stops New and opening another file.
    answers.append(QMessageBox.StandardButton.Cancel)
    assert not w.new_document() and w.document.layers
    answers.append(QMessageBox.StandardButton.Cancel)
    assert w.open_file(scene_file) is None
    # Save: without a project file yet, the save dialog asks where.
    out = tmp_path / "saved.sforge"
    monkeypatch.setattr("app.ui.main_window.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    answers.append(QMessageBox.StandardButton.Save)
    assert w.new_document()
    assert out.is_file() and not w.document.layers and w.windowTitle() == "SplatForge"
    # Discard closes without saving.
    w.add_primitive("floor")
    assert w.windowTitle() == "Untitled* - SplatForge"
    answers.append(QMessageBox.StandardButton.Discard)
    assert w.close()
    assert not answers and len(asked) == 5
    w.history.set_clean()


def test_autosave_and_recovery_offer(monkeypatch, qtbot, window_factory, scene_file, tmp_path):
    settings = tmp_path / "recover.ini"
    w1 = window_factory(settings)
    _open(qtbot, w1, scene_file)
    assert w1.autosave_now() is None  # nothing changed
    w1.select_all()
    w1.add_primitive("wall")
    written = w1.autosave_now()
    assert written is not None and written.is_file()
    assert written.parent == w1.settings.recovery_dir()
    digest = w1.document.digest()
    w1.history.set_clean()  # stands in for a crash: the recovery file stays behind
    w1.autosaver = None
    w1.close()
    assert written.is_file()

    w2 = window_factory(settings)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(w2.scene_loaded, timeout=TIMEOUT):
        assert w2.offer_recovery()
    qtbot.waitUntil(lambda: not w2.history.is_clean, timeout=TIMEOUT)
    assert w2.document.metadata["recovered_from"] == str(written)
    w2.history.undo()  # the recovery step itself; what is left is the autosaved document
    assert w2.document.digest() == digest
    assert not written.exists()
    w2.history.redo()
    assert w2.windowTitle() == "ring.ply* - SplatForge"  # the recovered work is unsaved
    w2.history.set_clean()


def test_propose_layout_outliner_properties_and_collider(qtbot, main_window, room_file, tmp_path):
    w = main_window
    _open(qtbot, w, room_file)
    w.set_up_axis("-y")
    with qtbot.waitSignal(w.viewport.full_frame_ready, timeout=TIMEOUT):
        w.viewport.update()
    before = w.viewport.render_image()
    job = w.propose_layout()
    qtbot.waitUntil(lambda: job.outcome is not None and w.job is None, timeout=TIMEOUT)
    assert job.outcome == "succeeded", job.error
    layout = w.document.layout
    kinds = [p.TYPE for p in layout]
    assert "plane" in kinds and kinds.count("wall") >= 3
    assert w.outliner.ids() == list(layout.primitives)
    assert w.action_map["undo"].text() == "&Undo Set layout"
    from editor.geometry.layout_proposal import edited_solid_ids
    assert edited_solid_ids(layout) == set()  # recorded as fitted, for the appearance pass
    drawn = w.viewport.render_image()
    assert psnr(before, drawn) < 30.0
    # Layout > Show Layout off: the splats alone again.
    w.action_map["show_layout"].trigger()
    assert psnr(before, w.viewport.render_image()) > 40.0
    w.action_map["show_layout"].trigger()

    # Pick a wall in the outliner; the properties panel shows it.
    wall = next(p for p in layout if p.TYPE == "wall")
    w.outliner.item(wall.id).setSelected(True)
    assert w.layout_selection == [wall.id]
    assert w.properties.prim.id == wall.id
    qtbot.waitUntil(lambda: w.properties.name_edit.isVisible(), timeout=5000)
    assert w.properties.name_edit.text() == wall.name
    x = w.properties.findChild(type(w.brush_spin), "prop_position_0")
    assert x.value() == pytest.approx(wall.position[0], abs=1e-4)
    steps = len(w.history)
    x.setValue(x.value() + 0.25)  # three changes of one field in a row: one undo step
    x.setValue(x.value() + 0.25)
    x.stepBy(2)
    assert len(w.history) == steps + 1
    assert edited_solid_ids(w.document.layout) == {wall.id}  # the edit is told apart from the proposal
    moved = w.document.layout.get(wall.id)
    assert moved.position[0] == pytest.approx(wall.position[0] + 0.5 + 2 * x.singleStep(), abs=1e-3)
    height = w.properties.findChild(type(w.brush_spin), "prop_height_0")
    height.setValue(1.0)
    assert w.document.layout.get(wall.id).height == pytest.approx(1.0)
    assert len(w.history) == steps + 2
    w.undo()
    w.undo()
    assert w.document.layout.get(wall.id) is wall
    assert x.value() == pytest.approx(wall.position[0], abs=1e-4)  # the panel follows undo

    # Delete the primitive (Del with no splats selected), undo brings it back.
    w.delete_selected()
    assert wall.id not in w.document.layout and wall.id not in w.outliner.ids()
    w.undo()
    assert wall.id in w.document.layout

    # Export colliders.
    glb, obj = tmp_path / "room.glb", tmp_path / "room.obj"
    assert w.export_collider(glb) and w.export_collider(obj)
    assert glb.read_bytes()[:4] == b"glTF"
    assert obj.read_text().count("\no ") == len(w.document.layout.solids(visible_only=True))
    w.history.set_clean()


def test_shortcuts_drive_tools_and_edits(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    vp = w.viewport
    vp.setFocus()
    qtbot.keyClick(vp, Qt.Key.Key_M)
    assert vp.tool == "rect"
    qtbot.keyClick(vp, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert _count(w, "selected") == 600
    qtbot.keyClick(vp, Qt.Key.Key_Delete)
    assert _count(w) == 0 and len(vp.cloud) == 0
    qtbot.keyClick(vp, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _count(w) == 600
    qtbot.keyClick(vp, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert _count(w) == 0
    qtbot.keyClick(vp, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(vp, Qt.Key.Key_H)
    assert len(vp.cloud) == 0 and _count(w) == 600
    qtbot.keyClick(vp, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    assert len(vp.cloud) == 600
    qtbot.keyClick(vp, Qt.Key.Key_N)
    assert vp.tool == "navigate"
    w.history.set_clean()
