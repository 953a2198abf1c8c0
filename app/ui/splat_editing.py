"""Splat editing beyond the viewport tools: Select menu (inside a layout
primitive, grow, shrink), Edit menu (lock, separate, crop, recolour, purge),
range selection on the Statistics histograms and the Layers panel.

`SplatEditing` belongs to the `MainWindow` (``window.splat_editing``). Like
the tools it changes the document only with ``window.push(command)`` (one
undo step each, a histogram drag merged into one step by its merge id), and
it follows the document through the window's change notifications
(`document_changed`, `document_attached`). Edits act on what is shown:
selections pick splats of visible layers only, and the hidden, deleted and
locked splats are never selected (`SetSelection`'s rule), so nothing done
here can touch a locked splat.
"""
from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QTimer

from app.ui.document_view import display_cloud
from app.ui.panels.layers_panel import LayersPanel
from app.ui.recolour_dialog import RecolourDialog
from editor import selection
from editor.commands.layers import MoveLayer, RemoveLayer, RenameLayer, SetLayerVisible
from editor.commands.splat_edits import (
    CropToBox,
    LockSelection,
    PurgeDeleted,
    Recolour,
    SeparateToLayer,
    SetSelection,
    UnlockAll,
)
from editor.model.document import DELETED, LOCKED, DocumentError
from editor.model.layout import Solid

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

#: Select > Grow / Shrink move the selection's border by this fraction of the
#: scene's size (the diagonal of its framed bounds: the 1st-99th percentile
#: box of the splat centres, so far floaters do not inflate it). 1% is about
#: a splat or two apart in a trained room; repeat the command to go further.
GROW_FRACTION = 0.01
#: Quiet time after the last change in the Recolour dialog before the
#: viewport preview is rebuilt (a re-upload of the scene).
PREVIEW_DELAY_MS = 120
_RANGE_NAMES = {"opacity": "Opacity", "scale": "log10 largest scale", "colour": "Base colour"}


def range_mask(cloud, key: str, lo: float, hi: float) -> np.ndarray:
    """(N,) bool: the splats of ``cloud`` inside a histogram band. ``key``
    "opacity" (0..1), "scale" (log10 of the largest axis scale, world
    units) or "colour" (every base RGB channel, clamped to 0..1, within the
    band); ``lo`` / ``hi`` may be -inf / +inf (open ends)."""
    if key == "opacity":
        return selection.by_opacity(cloud, lo, hi)
    if key == "scale":
        return selection.by_scale(cloud, float(np.power(10.0, lo)), float(np.power(10.0, hi)))
    if key == "colour":
        return selection.by_colour(cloud, (lo, lo, lo), (hi, hi, hi))
    raise ValueError(f"unknown histogram {key!r}")


class SplatEditing:
    def __init__(self, window: "MainWindow"):
        # A weak reference (as the tools hold theirs): the window owns this object.
        self._window = weakref.ref(window)
        self.layers_panel = LayersPanel()
        self.layers_dock = window._dock("Layers", "layersDock", self.layers_panel)
        self.layers_panel.rename_requested.connect(lambda lid, name: self._push(RenameLayer(lid, name)))
        self.layers_panel.visibility_requested.connect(lambda lid, on: self._push(SetLayerVisible(lid, on)))
        self.layers_panel.remove_requested.connect(lambda lid: self._push(RemoveLayer(lid)))
        self.layers_panel.move_requested.connect(lambda lid, i: self._push(MoveLayer(lid, i)))
        self.layers_panel.select_requested.connect(self.select_layer)
        stats = window.stats_panel
        stats.range_started.connect(self._range_started)
        stats.range_changed.connect(self._range_changed)
        stats.range_cancelled.connect(self._range_cancelled)
        self._own_push = False  # the change being notified comes from a histogram band
        self._range_base: dict[str, np.ndarray] = {}
        self._range_step: tuple | None = None  # (gesture, history revision after its last push)
        self.recolour: RecolourDialog | None = None
        self._preview_timer = QTimer()
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._show_recolour_preview)

    @property
    def window(self) -> "MainWindow":
        window = self._window()
        if window is None:
            raise RuntimeError("the window is gone")
        return window

    # ================================================================ menus
    def add_select_actions(self, menu) -> None:
        """Select menu entries after All / None / Invert."""
        w = self.window
        menu.addSeparator()
        menu.addAction(w._action("select_inside", "Inside &Primitive", lambda: self.select_inside("replace")))
        menu.addAction(w._action("select_inside_add", "Add Inside Primitive", lambda: self.select_inside("add")))
        menu.addAction(w._action("select_inside_subtract", "Remove Inside Primitive",
                                 lambda: self.select_inside("subtract")))
        menu.addSeparator()
        menu.addAction(w._action("select_grow", "&Grow", lambda: self.grow_selection(+1)))
        menu.addAction(w._action("select_shrink", "&Shrink", lambda: self.grow_selection(-1)))

    def add_edit_actions(self, menu) -> None:
        """Edit menu entries after Delete / Hide / Unhide All."""
        w = self.window
        menu.addAction(w._action("lock", "&Lock Selected", self.lock_selected))
        menu.addAction(w._action("unlock_all", "Unloc&k All", self.unlock_all))
        menu.addSeparator()
        menu.addAction(w._action("separate", "&Separate Selection to New Layer", self.separate))
        menu.addAction(w._action("crop_to_box", "&Crop to Selected Box", self.crop_to_box))
        menu.addAction(w._action("recolour", "Rec&olour Selection...", self.open_recolour))
        menu.addSeparator()
        menu.addAction(w._action("purge_deleted", "&Purge Deleted", self.purge_deleted))

    # ================================================================ document
    def document_attached(self) -> None:
        """The window switched to another document."""
        self._close_recolour(False)
        self.window.stats_panel.clear_range()
        self._range_step = None
        self.layers_panel.show_document(self.window.document)

    def document_changed(self, change) -> None:
        if change.kind not in ("flags", "splats", "layers"):
            return
        self.layers_panel.show_document(self.window.document)
        if not self._own_push:
            # Something else changed the splats or the selection (an undo, a
            # tool): the band no longer describes the selection.
            self.window.stats_panel.clear_range()
            self._range_step = None

    def _push(self, command) -> bool:
        ok = self.window.push(command)
        if not ok:
            self.layers_panel.show_document(self.window.document)  # undo the panel's own display of a refused edit
        return ok

    def _status(self, message: str, ms: int = 6000) -> None:
        self.window.statusBar().showMessage(message, ms)

    def _visible_layers(self):
        return [l for l in self.window.document.layers if l.visible and len(l)]

    def _need_selection(self, what: str) -> bool:
        if self.window.document.has_selection():
            return True
        self._status(f"{what}: select some splats first")
        return False

    # ================================================================ Select menu
    def select_inside(self, mode: str = "replace") -> bool:
        """Select the splats (of visible layers) inside the layout primitives
        selected in the Outliner or the viewport (groups: their members);
        ``mode`` replace / add / subtract. One undo step."""
        w = self.window
        doc = w.document
        ids = [i for i in w.layout_selection if i in doc.layout]
        if not ids or not any(isinstance(doc.layout.get(s), Solid) for i in ids for s in doc.layout.descendants(i)):
            self._status("Select inside: select a layout box, sphere or cylinder first (Layout > Add Box, Outliner)")
            return False
        if not doc.layers:
            return False
        masks = {l.id: selection.in_primitives(l.cloud.positions, doc.layout, ids) for l in self._visible_layers()}
        if not w.push(SetSelection(masks, mode)):
            return False
        names = ", ".join(doc.layout.get(i).name or i for i in ids)
        self._status(f"{sum(int(l.selected.sum()) for l in doc.layers):,} splats selected (inside {names})")
        return True

    def grow_radius(self) -> float:
        """World units one Grow / Shrink step moves the selection's border (`GROW_FRACTION`)."""
        lo, hi = self.window.viewport.nav.frame_bounds
        diag = float(np.linalg.norm(np.asarray(hi, float) - np.asarray(lo, float)))
        if not diag > 0:
            lo, hi = self.window.viewport.nav.bounds
            diag = float(np.linalg.norm(np.asarray(hi, float) - np.asarray(lo, float)))
        return GROW_FRACTION * diag if diag > 0 else 1e-3

    def grow_selection(self, direction: int = +1) -> bool:
        """Grow (``direction`` > 0) or shrink the selection by `grow_radius`
        within each visible layer; one undo step."""
        w = self.window
        what = "Grow" if direction > 0 else "Shrink"
        if not self._need_selection(what):
            return False
        r = self.grow_radius()
        masks = {}
        for layer in self._visible_layers():
            sel = layer.selected
            if not sel.any():
                continue
            pos = layer.cloud.positions
            if direction > 0:
                masks[layer.id] = selection.grow(pos, sel, r, candidates=layer.selectable)
            else:
                masks[layer.id] = sel & ~selection.shrink(pos, sel, r)
        if not masks:
            return False
        before = sum(int(l.selected.sum()) for l in w.document.layers)
        if not w.push(SetSelection(masks, "add" if direction > 0 else "subtract")):
            return False
        after = sum(int(l.selected.sum()) for l in w.document.layers)
        self._status(f"{what} by {r:.3g}: {after:,} splats selected ({after - before:+,})")
        return True

    def select_layer(self, layer_id: str) -> bool:
        """Select every selectable splat of one layer (the Layers panel's menu)."""
        doc = self.window.document
        layer = doc.layer(layer_id)
        if not layer.visible:
            self._status(f"{layer.name} is hidden: show it first")
            return False
        return self._push(SetSelection({layer_id: np.ones(len(layer), bool)}, "replace"))

    # ================================================================ Edit menu
    def lock_selected(self) -> bool:
        """Lock the selection: still drawn, but no tool or edit selects or changes it."""
        if not self._need_selection("Lock"):
            return False
        return self.window.push(LockSelection())

    def unlock_all(self) -> bool:
        if not any(((l.flags & LOCKED) != 0).any() for l in self.window.document.layers):
            self._status("Nothing is locked")
            return False
        return self.window.push(UnlockAll())

    def separate(self) -> str | None:
        """Move the selected splats into a new layer (they stay selected
        there); returns the new layer's id."""
        w = self.window
        if not self._need_selection("Separate"):
            return None
        cmd = SeparateToLayer()
        if not w.push(cmd):
            return None
        self.layers_panel.set_current(cmd.layer_id)
        layer = w.document.layer(cmd.layer_id)
        self._status(f"Separated {len(layer):,} splats into {layer.name}")
        return cmd.layer_id

    def crop_to_box(self) -> bool:
        """Delete the splats of the visible layers outside the one layout
        primitive selected (a box; other solids crop to their oriented
        bounding box). Locked splats stay."""
        w = self.window
        doc = w.document
        solids = [doc.layout.get(i) for i in w.layout_selection if i in doc.layout]
        solids = [p for p in solids if isinstance(p, Solid)]
        if len(solids) != 1:
            self._status("Crop: select one layout box first (Layout > Add Box, Outliner)")
            return False
        box = solids[0]
        layers = [l.id for l in self._visible_layers()]
        if not layers:
            return False
        if not w.push(CropToBox(box.position, box.half_extents(), box.rotation, layer_ids=layers)):
            return False
        kind = "" if box.TYPE == "box" else "the box around "
        self._status(f"Cropped to {kind}{box.name or box.id}")
        return True

    def purge_deleted(self) -> bool:
        """Drop deleted splats from the layers for good (an undo step like any other)."""
        doc = self.window.document
        n = sum(int(((l.flags & DELETED) != 0).sum()) for l in doc.layers)
        if not n:
            self._status("Nothing deleted to purge")
            return False
        if not self.window.push(PurgeDeleted()):
            return False
        self._status(f"Purged {n:,} deleted splats")
        return True

    # ------------------------------------------------------------ recolour
    def open_recolour(self) -> RecolourDialog | None:
        """Edit > Recolour Selection...: a window-modal dialog; the viewport
        previews the result (the selection shown untinted) and OK applies it
        as one undo step. Returns the dialog (already open)."""
        w = self.window
        if not self._need_selection("Recolour"):
            return None
        self._close_recolour(False)
        selected = sum(int((l.selected & l.selectable).sum()) for l in w.document.layers)
        dlg = RecolourDialog(w, selected)
        dlg.changed.connect(self._preview_timer.start)
        dlg.finished.connect(lambda result, d=dlg: self._recolour_done(d, result))
        self.recolour = dlg
        dlg.open()
        self._show_recolour_preview()
        return dlg

    def recolour_command(self, dlg: RecolourDialog) -> Recolour:
        tint, brightness, saturation = dlg.values()
        return Recolour(tint, brightness, saturation)

    def _show_recolour_preview(self) -> None:
        dlg = self.recolour
        if dlg is None:
            return
        doc = self.window.document
        patches = None
        if dlg.preview and not dlg.is_identity():
            patches = {lid: (idx, rows["sh"]) for lid, (idx, rows) in self.recolour_command(dlg).compute(doc).items()}
        # Untinted, so the colours being chosen are what is seen.
        self.window.viewport.show_cloud(display_cloud(doc, tint_selection=False, sh_patches=patches))

    def _recolour_done(self, dlg: RecolourDialog, result: int) -> None:
        if dlg is not self.recolour:
            return
        self._close_recolour(result == RecolourDialog.DialogCode.Accepted)

    def _close_recolour(self, apply: bool) -> None:
        dlg, self.recolour = self.recolour, None
        self._preview_timer.stop()
        if dlg is None:
            return
        w = self.window
        if apply and not dlg.is_identity():
            try:
                cmd = self.recolour_command(dlg)
            except DocumentError as e:
                self._status(f"Cannot recolour: {e}")
            else:
                if w.push(cmd):
                    self._status("Recoloured the selection")
        if dlg.isVisible():
            dlg.blockSignals(True)
            dlg.reject()
        w.viewport.show_cloud(display_cloud(w.document))

    # ================================================================ histogram bands
    def _range_started(self, key: str, mode: str) -> None:
        # The selection the band combines with (add / subtract) for all of its drags.
        self._range_base = {l.id: l.selected.copy() for l in self.window.document.layers}

    def _range_changed(self, key: str, lo: float, hi: float, mode: str, gesture, finished: bool) -> None:
        w = self.window
        doc = w.document
        if not doc.layers:
            return
        masks = {}
        for layer in doc.layers:
            base = self._range_base.get(layer.id)
            if base is None or base.shape != (len(layer),):
                base = np.zeros(len(layer), bool)
            if layer.visible and len(layer):
                m = range_mask(layer.cloud, key, lo, hi)
                masks[layer.id] = {"replace": m, "add": base | m, "subtract": base & ~m}[mode]
            else:
                masks[layer.id] = base
        self._own_push = True
        try:
            ok = w.push(SetSelection(masks, "replace", merge_id=("histogram range", id(self), gesture)))
        finally:
            self._own_push = False
        if not ok:
            return
        self._range_step = (gesture, w.history.revision)
        n = sum(int(l.selected.sum()) for l in doc.layers)
        lo_text = "min" if math.isinf(lo) else f"{lo:.3g}"
        hi_text = "max" if math.isinf(hi) else f"{hi:.3g}"
        self._status(f"{_RANGE_NAMES[key]} {lo_text} to {hi_text}: {n:,} splats selected", 0 if not finished else 6000)

    def _range_cancelled(self, gesture) -> None:
        """Esc during a band drag: take its step back."""
        w = self.window
        if self._range_step == (gesture, w.history.revision):
            w.undo()
        self._range_step = None
        self._status("Range selection cancelled")
