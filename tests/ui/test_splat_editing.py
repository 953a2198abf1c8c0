"""Splat editing in the real window (Xvfb): lasso, selection inside a layout
primitive, range selection on the histograms, lock, separate, crop,
recolour, purge, the Layers panel, and what the viewport draws of hidden,
deleted and selected splats (compared as images)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from editor import selection
from editor.commands.layout_edits import SetPrimitiveProperty
from editor.formats import write_splats
from editor.model.document import DELETED, LOCKED
from editor.model.splat_cloud import SplatCloud
from tests.ui.helpers import open_scene as _open
from tests.ui.helpers import psnr, small_cloud

TIMEOUT = 30_000
N = 600



@pytest.fixture
def scene_file(tmp_path):
    """The ring of `small_cloud` with opacities spread over 0.02 .. 0.98 (for the histogram)."""
    c = small_cloud(N)
    opacity = np.linspace(0.02, 0.98, N)[np.random.default_rng(1).permutation(N)]
    cloud = SplatCloud(c.positions, c.log_scales, c.rotations, np.log(opacity / (1 - opacity)), c.sh)
    path = tmp_path / "ring.ply"
    write_splats(cloud, path)
    return path


@pytest.fixture
def dense_file(tmp_path):
    """A denser ring (4000 splats), so that growing by 1% of the scene reaches new splats."""
    path = tmp_path / "dense.ply"
    write_splats(small_cloud(4000), path)
    return path



def _mouse(widget, kind, pos, buttons, modifiers=Qt.KeyboardModifier.NoModifier, button=Qt.MouseButton.LeftButton):
    p = QPointF(*pos)
    g = QPointF(widget.mapToGlobal(p.toPoint()))
    QApplication.sendEvent(widget, QMouseEvent(kind, p, g, button, buttons, modifiers))


def _press(widget, pos, modifiers=Qt.KeyboardModifier.NoModifier):
    _mouse(widget, QEvent.Type.MouseButtonPress, pos, Qt.MouseButton.LeftButton, modifiers)


def _move(widget, pos, modifiers=Qt.KeyboardModifier.NoModifier):
    _mouse(widget, QEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton, modifiers, Qt.MouseButton.NoButton)


def _release(widget, pos, modifiers=Qt.KeyboardModifier.NoModifier):
    _mouse(widget, QEvent.Type.MouseButtonRelease, pos, Qt.MouseButton.NoButton, modifiers)


def _escape(widget):
    """Esc as Qt delivers it: a ShortcutOverride first (the window's Esc shortcut cancels jobs), then the key."""
    for kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
        QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier))


def _lasso(qtbot, vp, polygon, modifiers=Qt.KeyboardModifier.NoModifier, release=True):
    """Drag the outline through ``polygon``'s corners (logical pixels), with
    points every few pixels; returns the points the tool was given."""
    pts = [tuple(polygon[0])]
    _press(vp, pts[0], modifiers)
    corners = list(polygon[1:])
    for a, b in zip([polygon[0]] + corners[:-1], corners):
        for t in np.linspace(0, 1, 9)[1:]:
            p = (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
            _move(vp, p, modifiers)
            pts.append(p)
        qtbot.wait(1)
    if release:
        _release(vp, pts[-1], modifiers)
        pts.append(pts[-1])
    return pts


def _selected(w) -> np.ndarray:
    return np.concatenate([l.selected for l in w.document.layers])


def test_lasso_selects_what_in_screen_polygon_picks_and_esc_cancels(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    vp = w.viewport
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    vp.setFocus()
    qtbot.keyClick(vp, Qt.Key.Key_L)  # L is the lasso; Shift+L shows/hides the layout
    assert vp.tool == "lasso" and w.action_map["tool_lasso"].isChecked()
    assert "Lasso select" in w.statusBar().currentMessage()
    qtbot.keyClick(vp, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)
    assert not w.action_map["show_layout"].isChecked()
    qtbot.keyClick(vp, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)

    W, H = vp.width(), vp.height()
    poly = [(0.05 * W, 0.1 * H), (0.5 * W, 0.2 * H), (0.35 * W, 0.55 * H), (0.6 * W, 0.9 * H), (0.05 * W, 0.9 * H)]
    steps = w.history.index
    # While dragging: the outline is drawn over the view.
    pts = _lasso(qtbot, vp, poly, release=False)
    tool = vp.tools["lasso"]
    assert tool.busy and len(tool.outline) == len(pts)
    overlay = vp.overlay.grab().toImage()
    orange = sum(1 for x in range(0, overlay.width(), 3) for y in range(0, overlay.height(), 3)
                 if overlay.pixelColor(x, y).red() > 200 and overlay.pixelColor(x, y).blue() < 120
                 and overlay.pixelColor(x, y).alpha() > 200)
    assert orange > 20
    # Esc drops it: no step, nothing selected.
    _escape(vp)
    assert not tool.busy and w.history.index == steps
    _release(vp, pts[-1])
    assert w.history.index == steps and not _selected(w).any()

    pts = _lasso(qtbot, vp, poly)
    assert w.history.index == steps + 1 and w.action_map["undo"].text() == "&Undo Select"
    dpr = vp.devicePixelRatioF()
    want = selection.in_screen_polygon(w.document.layers[0].cloud.positions, vp.camera(), np.array(pts) * dpr)
    got = _selected(w)
    assert np.array_equal(got, want) and 20 < got.sum() < N - 20
    # Shift adds a second outline, Ctrl takes it away again.
    poly2 = [(0.6 * W, 0.1 * H), (0.95 * W, 0.1 * H), (0.95 * W, 0.9 * H), (0.7 * W, 0.9 * H)]
    pts2 = _lasso(qtbot, vp, poly2, Qt.KeyboardModifier.ShiftModifier)
    second = selection.in_screen_polygon(w.document.layers[0].cloud.positions, vp.camera(), np.array(pts2) * dpr)
    assert second.any() and np.array_equal(_selected(w), want | second)
    _lasso(qtbot, vp, poly2, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(_selected(w), want & ~second)
    w.history.set_clean()


def test_select_inside_box_grow_shrink_and_crop(qtbot, main_window, dense_file):
    w = main_window
    _open(qtbot, w, dense_file)
    pos = w.document.layers[0].cloud.positions
    assert not w.splat_editing.select_inside()  # no primitive selected: a hint, no step
    assert "select a layout box" in w.statusBar().currentMessage()
    pid = w.add_primitive("box")
    w.push(SetPrimitiveProperty(pid, "position", (1.0, 0.0, 0.0)))
    w.push(SetPrimitiveProperty(pid, "rotation", (1.0, 0.0, 0.0, 0.0)))
    w.push(SetPrimitiveProperty(pid, "size", (0.8, 1.0, 1.2)))
    w.set_layout_selection([pid])
    inside = selection.in_box(pos, (1.0, 0.0, 0.0), (0.4, 0.5, 0.6))
    assert 100 < inside.sum() < 3000
    steps = w.history.index
    w.action_map["select_inside"].trigger()
    assert np.array_equal(_selected(w), inside) and w.history.index == steps + 1

    # Grow / shrink by 1% of the framed scene's diagonal, exactly as editor.selection does it.
    r = w.splat_editing.grow_radius()
    lo, hi = w.viewport.nav.frame_bounds
    assert r == pytest.approx(0.01 * np.linalg.norm(np.asarray(hi) - lo))
    w.action_map["select_grow"].trigger()
    grown = selection.grow(pos, inside, r)
    assert np.array_equal(_selected(w), grown) and grown.sum() > inside.sum()
    w.action_map["select_shrink"].trigger()
    shrunk = selection.shrink(pos, grown, r)
    assert np.array_equal(_selected(w), shrunk) and shrunk.sum() < grown.sum()
    w.select_none()
    w.splat_editing.select_inside("add")
    assert np.array_equal(_selected(w), inside)
    w.splat_editing.select_inside("subtract")
    assert not _selected(w).any()

    # Crop to the box: only its splats are left; undo brings everything back.
    before = w.document.digest()
    w.action_map["crop_to_box"].trigger()
    layer = w.document.layers[0]
    assert np.array_equal(layer.alive, inside) and len(w.viewport.cloud) == inside.sum()
    assert w.action_map["undo"].text() == "&Undo Crop to box"
    w.undo()
    assert w.document.digest() == before
    w.history.set_clean()


def _plot_point(stats, key, x):
    """Widget position (in the plots' viewport) of data x at mid-height of the ``key`` histogram."""
    vb = stats._plot_items[key].getViewBox()
    y0, y1 = vb.viewRange()[1]
    p = stats.plots.mapFromScene(vb.mapViewToScene(QPointF(x, 0.5 * (y0 + y1))))
    return float(p.x()), float(p.y())


def _band_drag(qtbot, stats, key, x0, x1, modifiers=Qt.KeyboardModifier.NoModifier, escape=False):
    target = stats.plots.viewport()
    a, b = _plot_point(stats, key, x0), _plot_point(stats, key, x1)
    _press(target, a, modifiers)
    for t in np.linspace(0, 1, 7)[1:]:
        _move(target, (a[0] + t * (b[0] - a[0]), a[1]), modifiers)
        qtbot.wait(2)
    if escape:
        _escape(stats.plots)
    _release(target, b, modifiers)


def test_histogram_band_selects_an_opacity_range(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    stats = w.stats_panel
    qtbot.waitUntil(lambda: stats.plots is not None and stats.plots.isVisible(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: stats.plots.height() > 200, timeout=5000)
    opacity = w.document.layers[0].cloud.opacities
    steps = w.history.index
    _band_drag(qtbot, stats, "opacity", 0.3, 0.6)
    key, lo, hi = stats.ranges.region()
    assert key == "opacity" and lo == pytest.approx(0.3, abs=0.08) and hi == pytest.approx(0.6, abs=0.08)
    band = (opacity >= lo) & (opacity <= hi)
    assert np.array_equal(_selected(w), band) and 100 < band.sum() < 300
    assert w.history.index == steps + 1  # one drag, one step
    # Ctrl subtracts a narrower band from it, again one step.
    _band_drag(qtbot, stats, "opacity", 0.4, 0.5, Qt.KeyboardModifier.ControlModifier)
    _, lo2, hi2 = stats.ranges.region()
    cut = band & ~((opacity >= lo2) & (opacity <= hi2))
    assert np.array_equal(_selected(w), cut) and cut.sum() < band.sum()
    assert w.history.index == steps + 2
    # Esc during a drag takes that drag back.
    _band_drag(qtbot, stats, "opacity", 0.05, 0.9, escape=True)
    assert np.array_equal(_selected(w), cut) and stats.ranges.region() is None
    assert w.history.index == steps + 2
    # A change from elsewhere (undo) removes the band.
    _band_drag(qtbot, stats, "opacity", 0.7, 0.8, Qt.KeyboardModifier.ShiftModifier)
    assert stats.ranges.region() is not None
    w.undo()
    assert stats.ranges.region() is None and np.array_equal(_selected(w), cut)
    w.history.set_clean()


def test_lock_separate_recolour_purge(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    vp = w.viewport
    w.set_tool("rect")
    from tests.ui.test_editing import _drag

    # Lock the left half: a rectangle over everything then selects only the rest.
    _drag(qtbot, vp, (2, 2), (vp.width() // 2, vp.height() - 2))
    left = _selected(w).copy()
    w.action_map["lock"].trigger()
    assert not _selected(w).any() and np.array_equal((w.document.layers[0].flags & LOCKED) != 0, left)
    _drag(qtbot, vp, (1, 1), (vp.width() - 1, vp.height() - 1))
    assert np.array_equal(_selected(w), ~left)
    w.select_all()
    assert np.array_equal(_selected(w), ~left)
    w.action_map["unlock_all"].trigger()
    w.select_all()
    assert _selected(w).all()

    # Separate the left half into a new layer; undo restores one layer.
    _drag(qtbot, vp, (2, 2), (vp.width() // 2, vp.height() - 2))
    n = int(_selected(w).sum())
    before = w.document.digest()
    new_id = w.splat_editing.separate()
    doc = w.document
    assert [len(l) for l in doc.layers] == [N, n] and doc.layers[1].id == new_id
    assert int(doc.layers[0].alive.sum()) == N - n and doc.layers[1].selected.all()
    assert w.splat_editing.layers_panel.ids() == [l.id for l in doc.layers]
    row = w.splat_editing.layers_panel.row(new_id)
    assert row.text(1) == f"{n:,}" and row.text(2) == f"{n:,}"
    assert len(vp.cloud) == N  # the moved splats are drawn once, from the new layer
    w.undo()
    assert len(w.document.layers) == 1 and w.document.digest() == before
    assert w.splat_editing.layers_panel.ids() == [w.document.layers[0].id]

    # Recolour the selection: a live preview that leaves the document alone, one step on OK.
    layer = w.document.layers[0]
    sh0 = layer.cloud.sh.copy()
    sel = layer.selected.copy()
    steps = w.history.index
    tinted = vp.render_image()
    dlg = w.splat_editing.open_recolour()
    assert dlg is not None and dlg.isVisible()
    dlg.set_tint(QColor(255, 128, 0))
    dlg.brightness.setValue(0.5)
    dlg.saturation.setValue(1.5)
    qtbot.waitUntil(lambda: not w.splat_editing._preview_timer.isActive(), timeout=5000)
    preview = vp.render_image()
    assert psnr(preview, tinted) < 35.0
    assert np.array_equal(layer.cloud.sh, sh0) and w.history.index == steps
    dlg.accept()
    assert w.history.index == steps + 1 and w.action_map["undo"].text() == "&Undo Recolour"
    tint, brightness, saturation = np.array([1.0, 128 / 255, 0.0]), 0.5, 1.5
    luma = np.array([0.299, 0.587, 0.114])
    m = (saturation * np.eye(3) + (1 - saturation) * np.outer(np.ones(3), luma)) @ np.diag(brightness * tint)
    colour = 0.5 + 0.28209479177387814 * sh0[sel, 0].astype(np.float64)
    want = (colour @ m.T - 0.5) / 0.28209479177387814
    assert np.allclose(layer.cloud.sh[sel, 0], want, atol=1e-5)
    assert np.array_equal(layer.cloud.sh[~sel], sh0[~sel])
    # With OK the viewport is back to the tinted selection (of the new colours).
    assert psnr(vp.render_image(), preview) < 40.0
    w.undo()
    assert np.array_equal(layer.cloud.sh, sh0)
    assert psnr(vp.render_image(), tinted) > 45.0
    # Cancel leaves no trace.
    dlg = w.splat_editing.open_recolour()
    dlg.brightness.setValue(2.0)
    dlg.reject()
    assert w.history.index == steps and np.array_equal(layer.cloud.sh, sh0)
    assert w.history.redo_text == "Recolour"  # Cancel did not touch the history: the undone step can still be redone
    assert psnr(vp.render_image(), tinted) > 45.0

    # Purge: the deleted splats leave the layer; undo puts them back exactly.
    w.delete_selected()
    before = w.document.digest()
    w.action_map["purge_deleted"].trigger()
    assert len(w.document.layers[0]) == N - n and not (w.document.layers[0].flags & DELETED).any()
    assert w.action_map["undo"].text() == "&Undo Purge deleted splats"
    w.undo()
    assert len(w.document.layers[0]) == N and w.document.digest() == before
    w.history.set_clean()


def test_layers_panel_rename_visibility_delete_move(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    vp = w.viewport
    w.set_tool("rect")
    from tests.ui.test_editing import _drag

    _drag(qtbot, vp, (2, 2), (vp.width() // 2, vp.height() - 2))
    part = w.splat_editing.separate()
    w.select_none()
    base = w.document.layers[0].id
    panel = w.splat_editing.layers_panel
    assert w.splat_editing.layers_dock.objectName() == "layersDock"
    both = vp.render_image()

    # Rename by editing the row: one step, undoable.
    steps = w.history.index
    panel.row(part).setText(0, "Left half")
    assert w.document.layer(part).name == "Left half" and w.history.index == steps + 1
    w.undo()
    assert panel.row(part).text(0) == w.document.layer(part).name != "Left half"
    panel.row(part).setText(0, "   ")  # an empty name is refused
    assert w.history.index == steps and panel.row(part).text(0) == w.document.layer(part).name

    # Hide the layer with its checkbox: not drawn (same image as without it), one step.
    panel.row(part).setCheckState(0, Qt.CheckState.Unchecked)
    assert not w.document.layer(part).visible and w.history.index == steps + 1
    hidden = vp.render_image()
    assert psnr(hidden, both) < 35.0
    # Select All only takes visible layers.
    w.select_all()
    assert not w.document.layer(part).selected.any() and w.document.layer(base).selected.any()
    w.select_none()
    w.undo()  # select none
    w.undo()  # select all
    w.undo()  # hide
    assert w.document.layer(part).visible and panel.row(part).checkState(0) == Qt.CheckState.Checked
    assert psnr(vp.render_image(), both) > 45.0

    # Delete the layer: the same picture as hiding it; undo brings it back.
    panel.set_current(part)
    steps = w.history.index
    panel.delete_button.click()
    assert [l.id for l in w.document.layers] == [base] and panel.ids() == [base]
    assert w.history.index == steps + 1
    assert psnr(vp.render_image(), hidden) > 45.0
    w.undo()
    assert panel.ids() == [base, part]

    # "Select Its Splats" (context menu) selects that layer only; the counts follow.
    panel.select_requested.emit(part)
    assert w.document.layer(part).selected.all() and not w.document.layer(base).selected.any()
    assert panel.row(part).text(2) == panel.row(part).text(1) and panel.row(base).text(2) == "0"
    w.undo()
    assert panel.row(part).text(2) == "0"

    # Move up / down.
    panel.set_current(part)
    assert panel.up_button.isEnabled() and not panel.down_button.isEnabled()
    panel.up_button.click()
    assert [l.id for l in w.document.layers] == [part, base] == panel.ids()
    assert panel.current_id() == part
    w.undo()
    assert panel.ids() == [base, part]
    w.history.set_clean()


def test_hidden_and_deleted_splats_are_not_drawn_and_selected_ones_are_tinted(qtbot, main_window, scene_file):
    w = main_window
    _open(qtbot, w, scene_file)
    vp = w.viewport
    original = vp.render_image()
    w.set_tool("rect")
    from tests.ui.test_editing import _drag

    _drag(qtbot, vp, (2, 2), (vp.width() // 2, vp.height() - 2))
    sel = _selected(w).copy()
    assert 50 < sel.sum() < N - 50
    tinted = vp.render_image()
    half = original.shape[1] // 2
    diff = np.abs(tinted.astype(float) - original)
    assert diff[:, : half - 8].mean() > 4 * max(diff[:, half + 8:].mean(), 0.05)  # only where the selection is
    # The tint pulls the selected splats towards amber: more red+green than blue.
    lit = original[:, :half].max(axis=2) > 30
    before = original[:, :half][lit].astype(float)
    after = tinted[:, :half][lit].astype(float)
    assert (after[:, :2].mean(1) - after[:, 2]).mean() > (before[:, :2].mean(1) - before[:, 2]).mean() + 20

    # Hidden splats: the image is the render of the other splats alone.
    layer = w.document.layers[0]
    w.hide_selected()
    hidden = vp.render_image()
    vp.show_cloud(layer.cloud.subset(~sel))
    rest = vp.render_image()
    assert psnr(hidden, rest) > 50.0 and psnr(hidden, original) < 30.0
    w.undo()
    w.delete_selected()
    assert psnr(vp.render_image(), rest) > 50.0
    w.undo()
    assert psnr(vp.render_image(), tinted) > 50.0
    w.history.set_clean()


def test_histograms_follow_deletions_and_undo(qtbot, main_window, scene_file):
    """After edits settle, the statistics histograms count the live splats
    (a selection change alone does not recompute them)."""
    w = main_window
    _open(qtbot, w, scene_file)
    stats = w.stats_panel
    qtbot.waitUntil(lambda: stats.plots is not None, timeout=TIMEOUT)

    def total():
        _, y = stats.curves["opacity"].getData()
        return int(round(float(np.sum(y))))

    qtbot.waitUntil(lambda: total() == N, timeout=TIMEOUT)
    w.select_all()
    w.select_invert()  # nothing selected: a flags change with no deletion
    assert not w._histogram_timer.isActive() or w._histogram_live == N
    w.action_map["tool_rect"].trigger()
    w.viewport.select_rect.emit((0, 0, w.viewport.width() / 2, w.viewport.height() * 2), "replace")
    chosen = int(w.document.layers[0].selected.sum())
    assert 0 < chosen < N
    w.delete_selected()
    qtbot.waitUntil(lambda: total() == N - chosen, timeout=TIMEOUT)
    w.undo()
    qtbot.waitUntil(lambda: total() == N, timeout=TIMEOUT)
