"""Screen-space splat selection tools: rectangle and brush.

Both emit the viewport's signals (`Viewport.select_rect`, `Viewport.brush_dab`)
in device pixels; the main window turns them into `SetSelection` commands
(a brush stroke merges into one undo step through its stroke id).
Shift adds, Ctrl subtracts, no modifier replaces the selection.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPen

from app.ui.tools.base import ViewportTool


def selection_mode(modifiers) -> str:
    """Shift adds to the selection, Ctrl subtracts, Ctrl+Shift intersects
    (keeps what is both selected and inside), nothing replaces it."""
    ctrl = modifiers & Qt.KeyboardModifier.ControlModifier
    if ctrl and modifiers & Qt.KeyboardModifier.ShiftModifier:
        return "intersect"
    if ctrl:
        return "subtract"
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        return "add"
    return "replace"


class RectSelectTool(ViewportTool):
    key = "rect"
    label = "Rectangle Select"
    hint = ("Rectangle select: drag over splats (Shift adds, Ctrl subtracts, Ctrl+Shift intersects, "
            "Alt+drag orbits, Esc cancels)")

    def __init__(self, host):
        super().__init__(host)
        self._start: QPointF | None = None
        self._end: QPointF | None = None
        self._mode = "replace"

    @property
    def busy(self) -> bool:
        return self._start is not None

    def cancel(self) -> bool:
        was = self._start is not None
        self._start = self._end = None
        self.repaint_overlay()
        return was

    def press(self, event) -> bool:
        self._start = self._end = event.position()
        self._mode = selection_mode(event.modifiers())
        self.repaint_overlay()
        return True

    def move(self, event) -> bool:
        if self._start is None:
            return False
        self._end = event.position()
        self.repaint_overlay()
        return True

    def release(self, event) -> bool:
        if self._start is None:
            return False
        start, self._start, self._end = self._start, None, None
        self.repaint_overlay()
        x0, y0 = self.device(start)
        x1, y1 = self.device(event.position())
        self.viewport.select_rect.emit((x0, y0, x1, y1), self._mode)
        return True

    def paint(self, painter) -> None:
        if self._start is None or self._end is None:
            return
        painter.setPen(QPen(QColor(255, 170, 40), 1.0, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(255, 170, 40, 40))
        painter.drawRect(QRectF(self._start, self._end).normalized())


class BrushSelectTool(ViewportTool):
    key = "brush"
    label = "Brush Select"
    hint = "Brush select: paint over splats (Shift adds, Ctrl subtracts, brush size in the toolbar)"

    def __init__(self, host):
        super().__init__(host)
        self.radius = 20.0  # logical pixels
        self._last: QPointF | None = None
        self._hover: QPointF | None = None
        self._mode = "replace"
        self._stroke = 0

    @property
    def busy(self) -> bool:
        return self._last is not None

    def cancel(self) -> bool:
        # A stroke applies as it goes (like painting); Esc ends it. Undo removes it.
        was = self._last is not None
        self._last = None
        return was

    def _emit(self, points: np.ndarray, mode: str) -> None:
        dpr = self.viewport.devicePixelRatioF()
        self.viewport.brush_dab.emit(points, self.radius * dpr, mode, ("brush", id(self), self._stroke))

    def press(self, event) -> bool:
        self._stroke += 1
        # A stroke is painted dab by dab, so it can add or subtract but not intersect.
        self._mode = {"intersect": "add"}.get(selection_mode(event.modifiers()), selection_mode(event.modifiers()))
        self._last = self._hover = event.position()
        self._emit(np.array([self.device(self._last)]), self._mode)
        self.repaint_overlay()
        return True

    def move(self, event) -> bool:
        if self._last is None:
            return False
        pos = event.position()
        mode = "subtract" if self._mode == "subtract" else "add"  # later dabs extend the stroke
        self._emit(np.array([self.device(self._last), self.device(pos)]), mode)
        self._last = self._hover = pos
        self.repaint_overlay()
        return True

    def release(self, event) -> bool:
        if self._last is None:
            return False
        self._last = None
        return True

    def hover(self, event) -> bool:
        self._hover = event.position()
        self.repaint_overlay()
        return False

    def paint(self, painter) -> None:
        if self._hover is None:
            return
        painter.setPen(QPen(QColor(255, 170, 40), 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(self._hover, self.radius, self.radius)
