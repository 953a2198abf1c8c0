"""The viewport tools, in menu and toolbar order (the Navigate entry is
implicit: no tool, the left button orbits). Each class's ``key`` names its
QAction ``tool_<key>``, whose shortcut is in `app.ui.shortcuts`."""
from __future__ import annotations

from app.ui.tools.select import BrushSelectTool, RectSelectTool

TOOL_CLASSES: tuple[type, ...] = (
    RectSelectTool,
    BrushSelectTool,
)
