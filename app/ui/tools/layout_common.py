"""What the layout tools (wall, push/pull, opening) share: per-window drawing
settings, a live edit that can still be cancelled, scene queries and the
overlay drawing helpers. The maths is in `editor.geometry.drawing`.

Snapping, Blender-style: grid snapping has a tool-bar switch (off by
default, shared by the three tools) and holding Ctrl inverts it for as long
as it is held; the step is the window's "Grid" box (shared with the Move
tool), set to a scene-relative default when a document is first drawn on.
Shift snaps wall headings to 15 degree steps (wall tool) and faces onto the
splat surface under the cursor (push/pull).
"""
from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QLabel

from app.ui.tools.base import ViewportTool
from editor.geometry import drawing
from editor.geometry.picking import Hit, pick_primitive
from editor.geometry.snapping import pixel_ray, snap_to_splats

if TYPE_CHECKING:
    from app.ui.tools.base import ToolHost
    from editor.history import History
    from editor.model.document import Document

#: Overlay colours: what the cursor is over, and what is being made.
HOVER = QColor(80, 200, 255)
ACTIVE = QColor(255, 170, 40)
MAX_SPLATS_FOR_SCENE = 200_000  # splat centres sampled for the drawing plane and the scene size


class DrawSettings:
    """Per window: the size of new walls, the grid step and whether grid
    snapping is on. ``refresh`` resets them to scene-relative defaults
    (`editor.geometry.drawing.wall_defaults`, `grid_step_for`) the first time
    a tool is used on a new document; after that they are the user's.
    ``grid_box``: the window's grid-step spin box, when it has one (the step
    is then read from and reset in it)."""

    def __init__(self) -> None:
        self.height = drawing.DEFAULT_WALL_HEIGHT
        self.thickness = drawing.DEFAULT_WALL_THICKNESS
        self._grid_step = 0.1
        self.grid_box: QDoubleSpinBox | None = None
        self.grid_snap = False
        self._document = lambda: None
        self._scene_key = None
        self._positions: np.ndarray | None = None
        self._extent: float | None = None
        self._plane: tuple | None = None  # (scene key, layout, plane)

    def _scene(self, document: "Document") -> None:
        """Cache the shown splat centres (subsampled) and the scene size."""
        key = tuple((id(l.cloud), l.visible) for l in document.layers)
        if key == self._scene_key:
            return
        parts = [l.cloud.positions[l.shown] for l in document.layers if l.visible and len(l)]
        pos = np.concatenate(parts) if parts else np.zeros((0, 3))
        if len(pos) > MAX_SPLATS_FOR_SCENE:
            pos = pos[:: len(pos) // MAX_SPLATS_FOR_SCENE + 1]
        self._positions = pos if len(pos) else None
        self._extent = drawing.scene_extent(self._positions, document.layout)
        self._scene_key = key

    def refresh(self, document: "Document") -> bool:
        """Scene-relative defaults for a document seen for the first time;
        True when they were reset."""
        if self._document() is document:
            return False
        self._document = weakref.ref(document)
        self._scene(document)
        self.height, self.thickness = drawing.wall_defaults(document.layout, self._extent)
        self.grid_step = drawing.grid_step_for(self._extent)
        return True

    @property
    def grid_step(self) -> float:
        """Snapping step, world units."""
        return float(self.grid_box.value()) if self.grid_box is not None else self._grid_step

    @grid_step.setter
    def grid_step(self, value: float) -> None:
        self._grid_step = float(value)
        if self.grid_box is not None:
            self.grid_box.setValue(self._grid_step)

    def plane(self, document: "Document") -> drawing.DrawingPlane:
        """The drawing plane of the document as it is now (cached until the
        splat layers or the layout change)."""
        self._scene(document)
        cached = self._plane
        if cached is None or cached[0] != self._scene_key or cached[1] is not document.layout:
            cached = self._plane = (self._scene_key, document.layout,
                                    drawing.drawing_plane(document.layout, self._positions))
        return cached[2]

    def snapping(self, modifiers) -> bool:
        """Grid snapping for an event: the switch, inverted while Ctrl is held."""
        return self.grid_snap != bool(modifiers & Qt.KeyboardModifier.ControlModifier)


_SETTINGS: "weakref.WeakKeyDictionary[object, DrawSettings]" = weakref.WeakKeyDictionary()


def draw_settings(host: "ToolHost") -> DrawSettings:
    """The drawing settings of ``host``'s window (made on first use)."""
    settings = _SETTINGS.get(host)
    if settings is None:
        settings = _SETTINGS[host] = DrawSettings()
    return settings


class DragEdit:
    """The commands of one drag as ONE undo step: each is pushed with the
    drag's ``merge_id`` (pass it to the command), so the history merges them
    as they come while the document and the view follow the mouse; `cancel`
    (Esc) rolls the history back to where the drag started, leaving nothing
    to redo."""

    _drags = itertools.count()

    def __init__(self, history: "History", kind: str):
        self.history = history
        self.merge_id = (kind, next(DragEdit._drags))
        self.start = history.index
        self.pushed = 0

    def push(self, command) -> None:
        """Apply ``command`` (made with ``merge_id=self.merge_id``); raises LayoutError if refused."""
        self.history.push(command)
        self.pushed += 1

    def cancel(self) -> None:
        if self.pushed:
            self.history.rollback(self.start)


# ---------------------------------------------------------------- scene queries
def camera_ray(tool: "ViewportTool", pos: QPointF):
    """(camera, ray origin (3,), unit direction (3,), device pixel (2,)) under ``pos``."""
    camera = tool.viewport.camera()
    pixel = tool.device(pos)
    origin, direction = pixel_ray(camera, pixel)
    return camera, origin, direction, pixel


def pick(tool: "ViewportTool", pos: QPointF) -> Hit | None:
    """The layout solid under ``pos`` (visible ones; locked ones too, so the
    tools can say why they refuse them)."""
    _, origin, direction, _ = camera_ray(tool, pos)
    return pick_primitive(tool.host.document.layout, origin, direction)


def splat_surface(tool: "ViewportTool", pos: QPointF) -> np.ndarray | None:
    """The nearest splat surface point (3,) under ``pos`` over the shown
    splats of every visible layer, or None."""
    camera, _, _, pixel = camera_ray(tool, pos)
    best, best_depth = None, np.inf
    for layer in tool.host.document.layers:
        if not layer.visible or not len(layer):
            continue
        p = snap_to_splats(layer.cloud, camera, pixel, mask=layer.shown)
        if p is not None:
            depth = float(camera.world_to_camera(p[None])[0, 2])
            if depth < best_depth:
                best, best_depth = p, depth
    return best


# ---------------------------------------------------------------- tool bar
def spin(name: str, value: float, suffix_tip: str, minimum: float = 1e-4, maximum: float = 1e6) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setDecimals(3)
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setKeyboardTracking(False)
    box.setToolTip(suffix_tip)
    return box


class SnapSwitch:
    """A tool's "Snap" check box (grid snapping, Ctrl inverts), bound to the
    shared `DrawSettings`: each tool has its own box, `sync` shows the shared
    state when the tool becomes active."""

    def __init__(self, settings: DrawSettings, tool_key: str):
        self.settings = settings
        self.check = QCheckBox("Snap")
        self.check.setObjectName(f"{tool_key}Snap")
        self.check.setToolTip("Snap to the grid step (hold Ctrl to invert)")
        self.check.toggled.connect(lambda on: setattr(settings, "grid_snap", bool(on)))

    def sync(self) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(self.settings.grid_snap)
        self.check.blockSignals(False)


class SnappingLayoutTool(ViewportTool):
    """A layout tool whose toolbar option is a "Snap" switch on the shared
    `DrawSettings` (push/pull, openings)."""

    def __init__(self, host):
        super().__init__(host)
        self.settings = draw_settings(host)
        self._snap: SnapSwitch | None = None

    def activate(self) -> None:
        self.settings.refresh(self.host.document)
        if self._snap is not None:
            self._snap.sync()
        super().activate()

    def option_widgets(self) -> list:
        self._snap = SnapSwitch(self.settings, self.key)
        return [self._snap.check]


def label(text: str) -> QLabel:
    return QLabel(f" {text} ")


# ---------------------------------------------------------------- painting
def draw_polylines(tool: "ViewportTool", painter, polylines, colour: QColor, width: float = 1.5,
                   dashed: bool = False) -> None:
    """World polylines [(K, 3), ...] as screen lines over the view."""
    segs = drawing.project_polylines(tool.viewport.camera(), polylines)
    if not len(segs):
        return
    pen = QPen(colour, width, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    dpr = tool.viewport.devicePixelRatioF()
    for (x0, y0), (x1, y1) in segs / dpr:
        painter.drawLine(QPointF(x0, y0), QPointF(x1, y1))


def draw_marker(tool: "ViewportTool", painter, point: np.ndarray, colour: QColor, radius: float = 5.0,
                ring: bool = False) -> None:
    """A small cross (or a ring) at a world point."""
    px = drawing.project_point(tool.viewport.camera(), point)
    if px is None:
        return
    c = tool.logical(px)
    painter.setPen(QPen(colour, 1.5))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if ring:
        painter.drawEllipse(c, radius, radius)
    else:
        painter.drawLine(QPointF(c.x() - radius, c.y()), QPointF(c.x() + radius, c.y()))
        painter.drawLine(QPointF(c.x(), c.y() - radius), QPointF(c.x(), c.y() + radius))


def draw_readout(painter, at: QPointF, text: str) -> None:
    """A measurement next to the cursor (dark box, light text)."""
    font = QFont(painter.font())
    font.setPointSizeF(max(font.pointSizeF(), 9.0))
    painter.setFont(font)
    metrics = painter.fontMetrics()
    w, h = metrics.horizontalAdvance(text) + 10, metrics.height() + 4
    x, y = at.x() + 14, at.y() + 14
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(20, 20, 24, 200))
    painter.drawRoundedRect(x, y, w, h, 3, 3)
    painter.setPen(QColor(235, 235, 235))
    painter.drawText(int(x + 5), int(y + 2 + metrics.ascent()), text)


def grid_patch(plane: drawing.DrawingPlane, centre: np.ndarray, step: float, cells: int = 4) -> list[np.ndarray]:
    """World lines of a small grid (2 ``cells`` + 1 lines each way) on the
    drawing plane around the grid node nearest ``centre``: where snapping
    will land, shown while it is on."""
    node = plane.snap(centre, step)
    x, z = plane.rotation[:, 0], plane.rotation[:, 2]
    r = cells * step
    lines = []
    for i in range(-cells, cells + 1):
        lines.append(np.array([node + i * step * x - r * z, node + i * step * x + r * z]))
        lines.append(np.array([node + i * step * z - r * x, node + i * step * z + r * x]))
    return lines


def fmt(value: float) -> str:
    """A length for read-outs: 3 significant digits, no exponent for usual sizes."""
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
