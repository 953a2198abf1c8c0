"""The wall tool: draw walls click to click on the floor, as a chain.

Click a start point on the drawing plane (the floor; see
`editor.geometry.drawing.drawing_plane`), move (the wall that the next
click places is previewed over the view with its length and heading), click
again to place it and go on from its end; double-click or Enter finishes
the chain, Esc drops the segment in progress (placed walls stay), Backspace
takes the last placed wall back. Clicking the chain's first point again
closes the loop (and finishes). Pressing, dragging and releasing places a
wall too, like two clicks.

Each placed wall is one undo step: the new wall plus the lengthening of the
previous one that joins them at the corner without a gap
(`editor.geometry.drawing.corner_extensions`). Height and thickness come
from the tool bar (scene-relative defaults, see `layout_common.DrawSettings`);
walls stand along the layout's up vector.
"""
from __future__ import annotations

import math
import weakref

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from app.ui.tools import layout_common as lc
from app.ui.tools.base import ViewportTool
from editor.commands.layout_edits import AddPrimitive, Extrude
from editor.geometry import drawing
from editor.model.layout import LayoutError, Wall

#: Clicking within this many logical pixels of the chain's first point closes the loop.
CLOSE_RADIUS_PX = 10.0
#: A release this far (logical pixels) from its press is a second click there (press-drag-release draws a wall).
DRAG_PX = 6.0


class WallTool(ViewportTool):
    key = "wall"
    label = "Draw Walls"
    hint = ("Walls: click on the floor to start, click again for each corner; double-click or Enter finishes, "
            "Esc drops the segment, Backspace removes the last wall (Shift: 15° steps, Ctrl: grid)")

    def __init__(self, host):
        super().__init__(host)
        self.settings = lc.draw_settings(host)
        self._points: list[np.ndarray] = []  # clicked chain points P0 .. Pn
        self._walls: list[str] = []  # the wall placed from P(i) to P(i+1)
        self._revisions: list[int] = []  # history revision right after each placement
        self._document = lambda: None
        self._cursor: np.ndarray | None = None  # snapped point under the mouse, on the plane
        self._cursor_pos: QPointF | None = None
        self._closing = False
        self._press_pos: QPointF | None = None
        self._modifiers = Qt.KeyboardModifier.NoModifier  # of the last mouse event
        self._widgets = None

    # ------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        self._sync()
        return bool(self._points)

    def _sync(self) -> None:
        """Follow the document: a new document ends the chain; walls of the
        chain undone meanwhile (Ctrl+Z) leave it, last first."""
        doc = self.host.document
        if self._document() is not doc:
            self._end_chain()
            self._document = weakref.ref(doc)
            if self.settings.refresh(doc):  # a new scene: scene-relative wall size and grid
                self._sync_widgets()
        while self._walls and self._walls[-1] not in doc.layout:
            self._walls.pop()
            self._revisions.pop()
            self._points.pop()

    def _end_chain(self) -> None:
        self._points, self._walls, self._revisions = [], [], []
        self._closing = False

    def cancel(self) -> bool:
        self._sync()
        was = bool(self._points)
        self._end_chain()
        self.repaint_overlay()
        if was:
            self.host.show_status(self.hint)
        return was

    def activate(self) -> None:
        self.settings.refresh(self.host.document)
        self._sync_widgets()
        super().activate()

    # ------------------------------------------------------------ tool bar
    def option_widgets(self) -> list:
        s = self.settings
        height = lc.spin("wallHeight", s.height, "Height of new walls (world units)")
        height.valueChanged.connect(lambda v: setattr(s, "height", float(v)))
        thickness = lc.spin("wallThickness", s.thickness, "Thickness of new walls (world units)")
        thickness.valueChanged.connect(lambda v: setattr(s, "thickness", float(v)))
        snap = lc.SnapSwitch(s, self.key)
        self._widgets = (height, thickness, snap)
        return [lc.label("Height"), height, lc.label("Thickness"), thickness, snap.check]

    def _sync_widgets(self) -> None:
        if self._widgets is None:
            return
        height, thickness, snap = self._widgets
        for box, value in ((height, self.settings.height), (thickness, self.settings.thickness)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        snap.sync()

    # ------------------------------------------------------------ geometry
    def _locate(self, pos: QPointF, mods) -> np.ndarray | None:
        """The snapped floor point under the mouse at ``pos`` with keyboard
        modifiers ``mods``; sets ``_closing`` when it is the chain's first point."""
        self._sync()
        self._cursor_pos, self._modifiers = pos, mods
        _, origin, direction, _ = lc.camera_ray(self, pos)
        plane = self.settings.plane(self.host.document)
        point = plane.intersect(origin, direction)
        self._closing = False
        if point is None:
            return None
        if len(self._points) >= 3:
            first = drawing.project_point(self.viewport.camera(), self._points[0])
            if first is not None:
                d = self.logical(first) - pos
                if math.hypot(d.x(), d.y()) <= CLOSE_RADIUS_PX:
                    self._closing = True
                    return self._points[0]
        step = self.settings.grid_step if self.settings.snapping(mods) else None
        if self._points:
            angle = drawing.ANGLE_STEP_DEG if mods & Qt.KeyboardModifier.ShiftModifier else None
            return drawing.segment_end(plane, self._points[-1], point, step, angle)
        return plane.snap(point, step) if step else point

    def _up(self) -> np.ndarray:
        return np.asarray(self.host.document.layout.up, np.float64)

    def _joins(self, end: np.ndarray, closing: bool):
        """For a wall from the chain's last point to ``end``: (extension of
        the previous wall's end, of the new wall's start, of the new wall's
        end, of the first wall's start); zeros where nothing is joined."""
        up, t = self._up(), self.settings.thickness
        layout = self.host.document.layout
        start = self._points[-1]
        d_new = drawing.heading(start, end, up)
        e_prev = e_start = e_end = e_first = 0.0
        prev = layout.primitives.get(self._walls[-1]) if self._walls else None
        if isinstance(prev, Wall) and d_new is not None and not prev.locked:
            d_prev = drawing.heading(self._points[-2], start, up)
            e_prev, e_start = drawing.corner_extensions(d_prev, d_new, prev.thickness, t)
        first = layout.primitives.get(self._walls[0]) if closing and self._walls else None
        if isinstance(first, Wall) and d_new is not None and not first.locked:
            d_first = drawing.heading(self._points[0], self._points[1], up)
            e_end, e_first = drawing.corner_extensions(d_new, d_first, t, first.thickness)
        return e_prev, e_start, e_end, e_first

    def _candidate(self, end: np.ndarray, closing: bool) -> Wall | None:
        """The wall the next click would place (for the preview)."""
        _, e_start, e_end, _ = self._joins(end, closing)
        try:
            return drawing.wall_between(self._points[-1], end, self._up(), self.settings.height,
                                        self.settings.thickness, extend_start=e_start, extend_end=e_end)
        except LayoutError:
            return None

    def _place(self, end: np.ndarray, closing: bool) -> bool:
        """Place the wall from the chain's last point to ``end`` (one undo step)."""
        start = self._points[-1]
        if drawing.heading(start, end, self._up()) is None:
            return False  # the same point again (e.g. the first click of a double-click)
        e_prev, e_start, e_end, e_first = self._joins(end, closing)
        count = sum(isinstance(p, Wall) for p in self.host.document.layout)
        wall = drawing.wall_between(start, end, self._up(), self.settings.height, self.settings.thickness,
                                    name=f"Wall {count + 1}", extend_start=e_start, extend_end=e_end)
        history = self.host.history
        add = AddPrimitive(wall)
        try:
            with history.macro("Add wall"):
                if e_prev > 0:
                    history.push(Extrude(self._walls[-1], "+x", e_prev))
                if e_first > 0:
                    history.push(Extrude(self._walls[0], "-x", e_first))
                history.push(add)
        except LayoutError as e:
            self.host.show_status(f"Cannot add the wall: {e}", 8000)
            return False
        self._walls.append(add.primitive_id)
        self._revisions.append(history.revision)
        self._points.append(np.asarray(end, np.float64))
        self.host.set_layout_selection([add.primitive_id])
        n = len(self._walls)
        self.host.show_status(f"Walls: {n} placed, length {lc.fmt(float(np.linalg.norm(end - start)))}; "
                              "click the next corner, double-click or Enter to finish")
        return True

    def _click(self, event) -> None:
        point = self._locate(event.position(), event.modifiers())
        if point is None:
            self.host.show_status("Walls: point at the floor (the drawing plane is behind the view here)", 5000)
            return
        if not self._points:
            self._points = [point]
            self.host.show_status("Walls: click the next corner (Shift: 15° steps, Ctrl: grid, Esc cancels)")
        elif self._place(point, self._closing) and self._closing:
            self._end_chain()
            self.host.show_status("Walls: loop closed", 5000)
        self._cursor = point
        self.repaint_overlay()

    def finish(self) -> bool:
        """End the chain (placed walls stay); True if one was being drawn."""
        return self.cancel()

    def remove_last(self) -> bool:
        """Backspace: take the chain's last wall back (and the lengthening
        that joined the one before it) by undoing its step, so Redo brings it
        back; the chain then goes on from that wall's start. Refused, with a
        message, once something else was edited after that wall."""
        self._sync()
        if not self._walls:
            return self.cancel()
        history = self.host.history
        if history.revision != self._revisions[-1] or not history.undo():
            self.host.show_status("Walls: the last wall is no longer the last edit; use Edit > Undo", 5000)
            return True
        self._sync()
        self.repaint_overlay()
        return True

    # ------------------------------------------------------------ events
    def press(self, event) -> bool:
        self._press_pos = event.position()
        self._click(event)
        return True

    def move(self, event) -> bool:
        return self.hover(event)

    def release(self, event) -> bool:
        start, self._press_pos = self._press_pos, None
        if start is not None and self._points:
            d = event.position() - start
            if math.hypot(d.x(), d.y()) > DRAG_PX:
                self._click(event)  # press, drag, release: a wall from the press to here
        return True

    def double_click(self, event) -> bool:
        self.finish()
        return True

    def hover(self, event) -> bool:
        self._cursor = self._locate(event.position(), event.modifiers())
        self.repaint_overlay()
        return True

    def key_press(self, event) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return self.finish()
        if key == Qt.Key.Key_Backspace:
            return self.remove_last()
        return False

    def view_changed(self) -> None:
        # The floor point under a still mouse moved with the view (zoom, pan while drawing).
        if self._cursor_pos is not None:
            self._cursor = self._locate(self._cursor_pos, self._modifiers)

    # ------------------------------------------------------------ painting
    def paint(self, painter) -> None:
        self._sync()
        cursor = self._cursor
        if cursor is None:
            return
        s = self.settings
        if s.snapping(self._modifiers) and not self._closing:
            plane = s.plane(self.host.document)
            lc.draw_polylines(self, painter, lc.grid_patch(plane, cursor, s.grid_step), QColor(255, 255, 255, 70), 1.0)
        lc.draw_marker(self, painter, cursor, lc.ACTIVE)
        if not self._points:
            return
        if self._closing:
            lc.draw_marker(self, painter, self._points[0], lc.HOVER, radius=CLOSE_RADIUS_PX, ring=True)
        wall = self._candidate(cursor, self._closing)
        if wall is None:
            return
        lc.draw_polylines(self, painter, drawing.solid_edges(wall), lc.ACTIVE, 1.5, dashed=True)
        start = self._points[-1]
        lc.draw_polylines(self, painter, [np.array([start, cursor])], lc.ACTIVE, 2.0)
        plane = s.plane(self.host.document)
        d = cursor - start
        x, z = plane.rotation[:, 0], plane.rotation[:, 2]
        angle = math.degrees(math.atan2(float(d @ z), float(d @ x)))
        text = f"{lc.fmt(float(np.linalg.norm(d)))}  {angle:.0f}°"
        if self._cursor_pos is not None:
            lc.draw_readout(painter, self._cursor_pos, text)
