"""Move / Rotate / Scale tools (W / E / R): a gizmo on the selection.

Target: the selected layout primitives when there are any (pivot: the centre
of their world bounds; axes: the primitive's own local axes when one solid is
selected, else the world axes; X toggles local / world), otherwise the
selected splats (pivot: their centroid; world axes). Splats and several
primitives scale uniformly only (`TransformSelection` has one factor, and a
primitive scales along its own axes), and one primitive always scales along
its local axes.

Dragging a handle applies the transform live as `TransformPrimitive` /
`TransformSelection` commands that share one merge id, so the drag is one
undo step; each mouse event pushes the increment since the last applied one
(mouse moves are coalesced, so a slow frame on a big splat selection does not
queue work). Ctrl snaps (grid steps, 15 degrees, 0.1 of the scale; see
`editor.geometry.gizmo.Snapping`). Esc during a drag undoes what the drag
applied. A click (no drag) on a primitive selects it (Shift adds or removes
it), on empty space clears the primitive selection; a drag that does not
start on a handle orbits (Shift+drag pans), as in the Navigate tool.

The maths (handle geometry, hit tests, drag -> transform) is in
`editor.geometry.gizmo`, picking in `editor.geometry.picking`; this module
only translates Qt events and paints.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPen, QPolygonF
from PySide6.QtWidgets import QDoubleSpinBox

from app.ui.tools.base import ViewportTool
from editor.commands.layout_edits import TransformPrimitive
from editor.commands.splat_edits import TransformSelection
from editor.geometry.gizmo import (
    MOVE,
    NEUTRAL,
    ROTATE,
    SCALE,
    GizmoDrag,
    GizmoView,
    Snapping,
    axis_angle_matrix,
    axis_angle_quaternion,
    handles,
    hit_test,
)
from editor.geometry.picking import pick_primitive
from editor.geometry.snapping import pixel_ray
from editor.model.layout import Solid

#: Gizmo arrow length on screen, logical pixels.
GIZMO_SIZE = 90.0
#: Hit tolerance around handles, logical pixels.
HANDLE_TOLERANCE = 8.0
#: A press that moves farther than this (logical pixels) is a drag, not a click.
CLICK_SLOP = 4.0

AXIS_COLOURS = (QColor(235, 64, 64), QColor(100, 205, 60), QColor(60, 130, 245))
NEUTRAL_COLOUR = QColor(235, 235, 235)
HIGHLIGHT = QColor(255, 220, 40)


@dataclass
class Target:
    """What the gizmo acts on, as of one document revision."""

    kind: str  # "layout" or "splats"
    ids: list[str]  # selected layout ids ("layout")
    pivot: np.ndarray  # (3,) world
    axes: np.ndarray  # (3, 3) columns: gizmo axes in world coordinates
    uniform_only: bool  # scale: only the uniform handle
    locked: str = ""  # name of a locked primitive among the targets ("" if none)
    count: int = 0  # solids or splats moved


class TransformTool(ViewportTool):
    """Base of the three gizmo tools; ``mode`` picks the gizmo."""

    mode = MOVE
    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, host):
        super().__init__(host)
        self.snapping = Snapping()
        self.local = True  # use a single primitive's own axes (X toggles)
        self._hover: str | None = None
        self._hover_pos: QPointF | None = None
        self._cache_key = None
        self._target: Target | None = None
        # Drag state.
        self._drag: GizmoDrag | None = None
        self._drag_target: Target | None = None
        self._drags = 0
        self._merge_id = None
        self._start_index = 0
        self._applied_t = np.zeros(3)
        self._applied_angle = 0.0
        self._applied_f = np.ones(3)
        self._readout = ""
        self._mouse: QPointF | None = None
        self._pending: tuple[np.ndarray, bool] | None = None
        self._flush = QTimer(self.viewport)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._apply_pending)
        # Click / navigation state (press not on a handle).
        self._click: QPointF | None = None
        self._click_mods = Qt.KeyboardModifier.NoModifier
        self._navigating = False
        self._last: QPointF | None = None

    # ------------------------------------------------------------ target
    def _size_px(self) -> float:
        return GIZMO_SIZE * self.viewport.devicePixelRatioF()

    def target(self) -> Target | None:
        """The selection the gizmo acts on (cached per document revision)."""
        host = self.host
        doc = host.document
        key = (id(doc), host.history.revision, tuple(host.layout_selection), self.local)
        if key != self._cache_key:
            self._cache_key = key
            self._target = self._layout_target() if host.layout_selection else None
            if self._target is None and doc.has_selection():
                self._target = self._splat_target()
        return self._target

    def _layout_target(self) -> Target | None:
        layout = self.host.document.layout
        found: dict[str, Solid] = {}  # groups count through their members, as TransformPrimitive does
        locked = ""
        for pid in self.host.layout_selection:
            if pid not in layout:
                continue
            for d in layout.descendants(pid):
                p = layout.get(d)
                if p.locked and not locked:
                    locked = p.name or p.id
                if isinstance(p, Solid):
                    found[p.id] = p
        solids = list(found.values())
        if not solids:
            return None
        lo = np.min([s.world_bounds()[0] for s in solids], axis=0)
        hi = np.max([s.world_bounds()[1] for s in solids], axis=0)
        one = len(solids) == 1
        # One primitive scales along its own axes only (its dimensions are local).
        local = one and (self.local or self.mode == SCALE)
        axes = solids[0].rotation_matrix() if local else np.eye(3)
        return Target("layout", list(self.host.layout_selection), 0.5 * (lo + hi), axes,
                      uniform_only=not one, locked=locked, count=len(solids))

    def _splat_target(self) -> Target | None:
        parts = [l.cloud.positions[np.flatnonzero(l.selected & l.selectable)] for l in self.host.document.layers]
        parts = [p for p in parts if len(p)]
        if not parts:
            return None
        pts = np.concatenate(parts).astype(np.float64)
        return Target("splats", [], pts.mean(axis=0), np.eye(3), uniform_only=True, count=len(pts))

    def gizmo_view(self) -> GizmoView | None:
        """The gizmo as the current camera sees it (during a drag: where the
        drag has taken it so far), or None when there is nothing to show."""
        if self._drag is not None and self._drag_target is not None:
            d = self._drag
            axes = axis_angle_matrix(d.rotation_axis, self._applied_angle) @ d.axes
            return GizmoView(d.pivot + self._applied_t, axes, self.viewport.camera(), self._size_px())
        t = self.target()
        if t is None:
            return None
        view = GizmoView(t.pivot, t.axes, self.viewport.camera(), self._size_px())
        return view if view.visible else None

    def handles(self, view: GizmoView | None = None):
        """The gizmo's handles in device pixels (`editor.geometry.gizmo.Handle`)."""
        view = view or self.gizmo_view()
        if view is None:
            return []
        t = self._drag_target or self.target()
        uniform = self.mode == SCALE and t is not None and t.uniform_only
        return handles(view, self.mode, axes=(not uniform,) * 3)

    def handle_at(self, pos: QPointF) -> str | None:
        """Name of the handle under the logical position ``pos``, or None."""
        dpr = self.viewport.devicePixelRatioF()
        return hit_test(self.handles(), self.device(pos), HANDLE_TOLERANCE * dpr)

    # ------------------------------------------------------------ lifecycle
    @property
    def busy(self) -> bool:
        return self._drag is not None

    def cancel(self) -> bool:
        """Esc during a drag: take back what the drag applied (its one merged
        step), leaving nothing to redo."""
        if self._drag is None:
            return False
        self._flush.stop()
        self._pending = None
        self.host.history.rollback(self._start_index)
        self._end_drag()
        self.host.show_status("Transform cancelled", 3000)
        return True

    def deactivate(self) -> None:
        super().deactivate()
        self._click = None
        self._navigating = False
        self._hover = self._hover_pos = None

    def _end_drag(self) -> None:
        self._drag = self._drag_target = None
        self._readout = ""
        self._cache_key = None
        self.repaint_overlay()

    def view_changed(self) -> None:
        if self._drag is None and self._hover_pos is not None:
            self._hover = self.handle_at(self._hover_pos)

    # ------------------------------------------------------------ events
    def press(self, event) -> bool:
        pos = event.position()
        name = self.handle_at(pos)
        if name is None:
            # Not on the gizmo: a click selects, a drag navigates.
            self._click = self._last = pos
            self._click_mods = event.modifiers()
            self._navigating = False
            return True
        target = self.target()
        if target is None:
            return False
        if target.locked:
            self.host.show_status(f"{target.locked} is locked: unlock it in the Properties panel to transform it",
                                  6000)
            return True
        view = self.gizmo_view()
        self._drags += 1
        self._merge_id = ("gizmo", id(self), self._drags)
        self._start_index = self.host.history.index
        self._drag = GizmoDrag(view, self.mode, name, self.device(pos))
        self._drag_target = target
        self._applied_t, self._applied_angle, self._applied_f = np.zeros(3), 0.0, np.ones(3)
        self._hover = name
        self._mouse = pos
        self._readout = ""
        self.repaint_overlay()
        return True

    def move(self, event) -> bool:
        pos = event.position()
        if self._drag is not None:
            self._mouse = pos
            ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self._pending = (self.device(pos), ctrl)
            if not self._flush.isActive():
                self._flush.start()
            return True
        if self._click is None:
            return False
        if not self._navigating and math.hypot(pos.x() - self._click.x(), pos.y() - self._click.y()) > CLICK_SLOP:
            self._navigating = True
        if self._navigating:
            self._navigate(pos, event.modifiers())
        return True

    def release(self, event) -> bool:
        if self._drag is not None:
            self._flush.stop()
            self._apply_pending()
            target = self._drag_target
            self._end_drag()
            if target is not None and self.host.history.index > self._start_index:
                what = "primitive" if target.kind == "layout" else "splat"
                plural = "s" if target.count != 1 else ""
                self.host.show_status(f"{self.label}: {target.count} {what}{plural} (Ctrl+Z undoes)", 4000)
            return True
        if self._click is None:
            return False
        if not self._navigating:
            self._select_at(event.position(), self._click_mods)
        self._click = None
        self._navigating = False
        return True

    def hover(self, event) -> bool:
        self._hover_pos = event.position()
        name = self.handle_at(self._hover_pos)
        if name != self._hover:
            self._hover = name
            self.repaint_overlay()
        return False

    def key_press(self, event) -> bool:
        if event.key() == Qt.Key.Key_X and self._drag is None and not event.modifiers():
            self.set_local(not self.local)
            return True
        return False

    def set_local(self, local: bool) -> None:
        """Use one selected primitive's own axes (True) or the world axes, for
        all three transform tools."""
        for tool in self.viewport.tools.values():
            if isinstance(tool, TransformTool):
                tool.local = bool(local)
                tool._cache_key = None
        self.host.show_status(f"Gizmo axes: {'local (the primitive’s own)' if local else 'world'}", 3000)
        self.repaint_overlay()

    # ------------------------------------------------------------ clicks and navigation
    def _navigate(self, pos: QPointF, modifiers) -> None:
        """Orbit (Shift: pan) like the viewport's own left drag."""
        vp = self.viewport
        d = pos - self._last
        self._last = pos
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            dpr = vp.devicePixelRatioF()
            vp.nav.pan(d.x() * dpr, d.y() * dpr, vp.pixel_size()[1])
        else:
            vp.nav.orbit(d.x(), d.y())
        vp.view_changed()

    def _select_at(self, pos: QPointF, modifiers) -> None:
        host = self.host
        origin, direction = pixel_ray(self.viewport.camera(), self.device(pos))
        hit = pick_primitive(host.document.layout, origin, direction)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        current = list(host.layout_selection)
        if hit is None:
            if not shift and current:
                host.set_layout_selection([])
            return
        pid = hit.primitive_id
        if shift:
            ids = [i for i in current if i != pid] if pid in current else current + [pid]
        else:
            ids = [pid]
        host.set_layout_selection(ids)
        self._cache_key = None
        self.repaint_overlay()

    # ------------------------------------------------------------ applying a drag
    def _apply_pending(self) -> None:
        if self._pending is None or self._drag is None or self._drag_target is None:
            return
        pixel, ctrl = self._pending
        self._pending = None
        result = self._drag.update(pixel, self.snapping if ctrl else None, self.viewport.camera())
        self._readout = result.text
        target = self._drag_target
        cmd = None
        if self.mode == MOVE:
            step = result.translation - self._applied_t
            if np.any(step != 0):
                cmd = self._command(target, translation=step)
                self._applied_t = result.translation
        elif self.mode == ROTATE:
            step = result.angle - self._applied_angle
            if step != 0:
                cmd = self._command(target, rotation=axis_angle_quaternion(result.axis, step))
                self._applied_angle = result.angle
        else:
            ratio = result.factors / self._applied_f
            if np.any(ratio != 1):
                cmd = self._command(target, scale=ratio)
                self._applied_f = result.factors
        if cmd is not None and not self.host.push(cmd):
            self._end_drag()  # refused (e.g. a primitive locked meanwhile): the status bar says why
            return
        self.repaint_overlay()

    def _command(self, target: Target, translation=(0.0, 0.0, 0.0), rotation=(1.0, 0.0, 0.0, 0.0),
                 scale=(1.0, 1.0, 1.0)):
        """One increment of the drag as a command. ``scale`` (3,) is along the
        gizmo axes, which for a primitive scaled per axis are its own local axes
        (`TransformPrimitive`'s convention); splats get uniform factors only."""
        pivot = self._drag.pivot + self._applied_t
        if target.kind == "layout":
            return TransformPrimitive(target.ids, translation=translation, rotation=rotation,
                                      scale=tuple(float(v) for v in scale), pivot=pivot, merge_id=self._merge_id)
        return TransformSelection(translation=translation, rotation=rotation, scale=float(scale[0]), pivot=pivot,
                                  merge_id=self._merge_id)

    # ------------------------------------------------------------ painting
    def paint(self, painter) -> None:
        view = self.gizmo_view()
        if view is None:
            return
        dpr = self.viewport.devicePixelRatioF()
        painter.save()
        painter.scale(1.0 / dpr, 1.0 / dpr)  # the gizmo is in device pixels
        active = self._drag.handle if self._drag is not None else self._hover
        for h in self.handles(view):
            hot = h.name == active
            colour = QColor(HIGHLIGHT if hot else (NEUTRAL_COLOUR if h.colour == NEUTRAL else AXIS_COLOURS[h.colour]))
            if self._drag is not None and not hot:
                colour.setAlpha(70)  # the other handles step back during a drag
            width = (3.5 if hot else 2.5) * dpr
            painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for line in h.lines:
                painter.drawPolyline(QPolygonF([QPointF(*p) for p in line]))
            fill = QColor(colour)
            if h.name in ("xy", "yz", "zx"):
                fill.setAlpha(110 if not hot else 170)
            painter.setBrush(QBrush(fill))
            for poly in h.polygons:
                painter.drawPolygon(QPolygonF([QPointF(*p) for p in poly]))
            glow = QColor(colour)
            glow.setAlpha(60 if hot else 25)
            painter.setBrush(QBrush(glow))
            for cx, cy, r in h.discs:
                painter.drawEllipse(QPointF(cx, cy), r, r)
        if self._drag is not None and self._mouse is not None and self.mode != MOVE:
            # A rubber line from the pivot to the mouse, as in Blender.
            c = view.centre_px
            pen = QPen(QColor(255, 255, 255, 160), 1.0 * dpr, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(*c), QPointF(self._mouse.x() * dpr, self._mouse.y() * dpr))
        painter.restore()
        if self._readout and self._mouse is not None:
            self._paint_readout(painter, self._mouse, self._readout)

    @staticmethod
    def _paint_readout(painter, pos: QPointF, text: str) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0))
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        box = metrics.boundingRect(text).adjusted(-5, -3, 5, 3)
        box.moveTopLeft(QPointF(pos.x() + 16, pos.y() + 14))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 24, 200))
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(QColor(240, 240, 240))
        painter.drawText(QRectF(box), Qt.AlignmentFlag.AlignCenter, text)


class MoveTool(TransformTool):
    key = "move"
    label = "Move"
    mode = MOVE
    hint = ("Move: drag an arrow (one axis), a square (a plane) or the centre (view plane); Ctrl snaps to the grid; "
            "X toggles local/world axes; click selects a primitive (Shift adds); Esc cancels")


class RotateTool(TransformTool):
    key = "rotate"
    label = "Rotate"
    mode = ROTATE
    hint = ("Rotate: drag a ring (about that axis) or the outer ring (about the view); Ctrl snaps to 15°; "
            "X toggles local/world axes; click selects a primitive (Shift adds); Esc cancels")


class ScaleTool(TransformTool):
    key = "scale"
    label = "Scale"
    mode = SCALE
    hint = ("Scale: drag an axis handle (one primitive, along its own axes) or the centre (uniform, right/up grows); "
            "Ctrl snaps to 0.1 steps; click selects a primitive (Shift adds); Esc cancels")


def grid_step_box(tools) -> QDoubleSpinBox:
    """A toolbar spin box for the translation snap step (world units) of every
    `TransformTool` in ``tools`` (Ctrl+drag moves in steps of it)."""
    movers = [t for t in tools if isinstance(t, TransformTool)]
    box = QDoubleSpinBox()
    box.setObjectName("gridStep")
    box.setToolTip("Grid step for Ctrl+drag with the Move tool (scene units)")
    box.setRange(0.001, 1000.0)
    box.setDecimals(3)
    box.setSingleStep(0.05)
    box.setValue(movers[0].snapping.translate if movers else Snapping().translate)

    def changed(value: float) -> None:
        for t in movers:
            t.snapping = dataclasses.replace(t.snapping, translate=float(value))

    box.valueChanged.connect(changed)
    return box
