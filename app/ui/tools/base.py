"""`ViewportTool`, the base of every left-button tool, and the `ToolHost` it talks to.

Event routing (see `app.ui.viewport.Viewport`): the active tool gets a left
press first (not with Alt held: Alt+left always orbits) and returns whether it
took it; a tool that took the press gets the moves and the release of that
drag. With the mouse up, moves go to `hover` (mouse tracking is on while a
tool is active). Middle-drag pans, the wheel zooms and the right button flies
whatever the tool. Keys: `key_press` is asked first; Esc calls `cancel`, which
aborts an interaction in progress (a drag, a half-drawn wall) without touching
the document, and the viewport claims Esc from the window's shortcuts while
`busy` is true (so Esc cancels the drag, not a background job).

Positions: Qt events are in logical pixels; `device` converts to the device
pixels `host.viewport.camera()` works in (they differ on HiDPI screens).
`paint` draws in logical pixels.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PySide6.QtCore import QPointF, Qt

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter
    from PySide6.QtWidgets import QWidget

    from app.ui.viewport import Viewport
    from editor.history import History
    from editor.model.document import Document


class ToolHost(Protocol):
    """What tools may use of the main window."""

    viewport: "Viewport"
    document: "Document"
    history: "History"
    layout_selection: list[str]

    def push(self, command) -> bool:
        """Apply ``command`` through the history (one undo step, or merged by merge id)."""

    def set_layout_selection(self, ids: list[str]) -> None:
        """Select layout primitives (view state, not an undo step)."""

    def show_status(self, message: str, ms: int = 0) -> None:
        """A transient status-bar message (0 ms: until replaced)."""


class ViewportTool:
    """Base class: declines everything, draws nothing. Subclasses override
    what they handle; every handler returns True when it consumed the event."""

    #: Stable id (the QAction is ``tool_<key>``), menu label, status-bar hint.
    key = "tool"
    label = "Tool"
    hint = ""
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, host: ToolHost):
        # A weak reference: the window owns its tools, and a window <-> tool
        # cycle would leave closed windows to Python's cyclic collector, which
        # may then delete Qt objects in the middle of an unrelated paint.
        self._host = weakref.ref(host)

    @property
    def host(self) -> ToolHost:
        host = self._host()
        if host is None:
            raise RuntimeError("the window of this tool is gone")
        return host

    # ------------------------------------------------------------ helpers
    @property
    def viewport(self) -> "Viewport":
        return self.host.viewport

    def device(self, pos: QPointF) -> np.ndarray:
        """Logical widget position -> device pixels (2,), as the camera uses them."""
        dpr = self.viewport.devicePixelRatioF()
        return np.array([pos.x() * dpr, pos.y() * dpr], dtype=np.float64)

    def logical(self, device_xy) -> QPointF:
        """Device pixels -> logical widget position (for painting)."""
        dpr = self.viewport.devicePixelRatioF()
        return QPointF(float(device_xy[0]) / dpr, float(device_xy[1]) / dpr)

    def repaint_overlay(self) -> None:
        self.viewport.overlay.update()

    # ------------------------------------------------------------ lifecycle
    def activate(self) -> None:
        """The tool became active: show its hint."""
        if self.hint:
            self.host.show_status(self.hint)

    def deactivate(self) -> None:
        """Another tool was chosen: abort anything in progress."""
        self.cancel()

    @property
    def busy(self) -> bool:
        """True while an interaction is in progress (Esc then belongs to the tool)."""
        return False

    def cancel(self) -> bool:
        """Abort the interaction in progress, leaving the document as it was
        before it started; True if there was one."""
        return False

    # ------------------------------------------------------------ events
    def press(self, event: "QMouseEvent") -> bool:
        return False

    def move(self, event: "QMouseEvent") -> bool:
        return False

    def release(self, event: "QMouseEvent") -> bool:
        return False

    def double_click(self, event: "QMouseEvent") -> bool:
        return False

    def hover(self, event: "QMouseEvent") -> bool:
        return False

    def key_press(self, event: "QKeyEvent") -> bool:
        return False

    def wants_key(self, event: "QKeyEvent") -> bool:
        """Keys the tool must get even when a window shortcut uses them
        (asked on ShortcutOverride); Esc while `busy` is always claimed."""
        return False

    def view_changed(self) -> None:
        """The camera moved or the document changed: screen-space feedback
        (gizmos) must be recomputed. The overlay is repainted anyway."""

    def paint(self, painter: "QPainter") -> None:
        """Draw feedback over the scene (logical pixels)."""

    def option_widgets(self) -> list["QWidget"]:
        """Widgets for the tool bar (sizes, snapping), made once when the
        window builds it and shown only while this tool is active."""
        return []
