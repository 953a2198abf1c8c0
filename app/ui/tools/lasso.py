"""Lasso selection: a free-hand outline drawn while dragging, closed on release.

The outline is collected in logical pixels (for painting) and handed to
`editor.selection.in_screen_polygon` in device pixels on the viewport's
camera, per visible layer; the result is one ``SetSelection`` step pushed
through the host. Shift adds, Ctrl subtracts, no modifier replaces; Esc
while drawing drops the outline and leaves the selection alone.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen

from app.ui.tools.base import ViewportTool
from app.ui.tools.select import selection_mode
from editor import selection
from editor.commands.splat_edits import SetSelection

#: A new outline point is recorded once the cursor moved this far (logical
#: pixels): enough to follow a hand-drawn curve, few enough points that the
#: even-odd test stays cheap on millions of splats.
MIN_STEP_PX = 2.0


class LassoSelectTool(ViewportTool):
    key = "lasso"
    label = "Lasso Select"
    hint = ("Lasso select: drag around splats (Shift adds, Ctrl subtracts, Ctrl+Shift intersects, "
            "Alt+drag orbits, Esc cancels)")

    def __init__(self, host):
        super().__init__(host)
        self._points: list[QPointF] = []
        self._mode = "replace"

    @property
    def busy(self) -> bool:
        return bool(self._points)

    @property
    def outline(self) -> list[QPointF]:
        """The outline drawn so far (logical pixels); empty when idle."""
        return list(self._points)

    def cancel(self) -> bool:
        was = bool(self._points)
        self._points = []
        self.repaint_overlay()
        return was

    def press(self, event) -> bool:
        self._points = [event.position()]
        self._mode = selection_mode(event.modifiers())
        self.repaint_overlay()
        return True

    def move(self, event) -> bool:
        if not self._points:
            return False
        pos = event.position()
        last = self._points[-1]
        if abs(pos.x() - last.x()) + abs(pos.y() - last.y()) >= MIN_STEP_PX:
            self._points.append(pos)
            self.repaint_overlay()
        return True

    def release(self, event) -> bool:
        if not self._points:
            return False
        points, self._points = self._points + [event.position()], []
        self.repaint_overlay()
        polygon = np.array([self.device(p) for p in points])
        self.select_polygon(polygon, self._mode)
        return True

    def select_polygon(self, polygon: np.ndarray, mode: str) -> bool:
        """Select the splats of the visible layers whose centres project inside
        ``polygon`` (K, 2) device pixels (fewer than 3 distinct points: none,
        so a plain click clears the selection like the rectangle tool's).
        One undo step; False when nothing was pushed."""
        host = self.host
        doc = host.document
        if not doc.layers:
            return False
        distinct = np.unique(np.round(np.asarray(polygon, np.float64), 3), axis=0)
        cam = self.viewport.camera()
        masks = {}
        for layer in doc.layers:
            if layer.visible and len(layer):
                if len(distinct) >= 3:
                    masks[layer.id] = selection.in_screen_polygon(layer.cloud.positions, cam, polygon)
                else:
                    masks[layer.id] = np.zeros(len(layer), bool)
        if mode != "replace" and not any(m.any() for m in masks.values()):
            return False
        return host.push(SetSelection(masks, mode))

    def paint(self, painter) -> None:
        if not self._points:
            return
        path = QPainterPath(self._points[0])
        for p in self._points[1:]:
            path.lineTo(p)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 170, 40, 40))
        painter.drawPath(path)  # QPainter fills the implicitly closed outline
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(255, 170, 40), 1.5))
        painter.drawPath(path)
        if len(self._points) > 2:
            painter.setPen(QPen(QColor(255, 170, 40), 1.0, Qt.PenStyle.DashLine))
            painter.drawLine(self._points[-1], self._points[0])  # where the outline will close
