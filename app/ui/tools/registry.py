"""The viewport tools, in menu and toolbar order (the Navigate entry is
implicit: no tool, the left button orbits). Each class's ``key`` names its
QAction ``tool_<key>``, whose shortcut is in `app.ui.shortcuts`."""
from __future__ import annotations

from app.ui.tools.lasso import LassoSelectTool
from app.ui.tools.opening import OpeningTool
from app.ui.tools.pushpull import PushPullTool
from app.ui.tools.select import BrushSelectTool, RectSelectTool
from app.ui.tools.transform import MoveTool, RotateTool, ScaleTool
from app.ui.tools.wall import WallTool

TOOL_CLASSES: tuple[type, ...] = (
    RectSelectTool,
    LassoSelectTool,
    BrushSelectTool,
    MoveTool,
    RotateTool,
    ScaleTool,
    WallTool,
    PushPullTool,
    OpeningTool,
)
