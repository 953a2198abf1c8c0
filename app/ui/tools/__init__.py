"""Viewport tools: what the left mouse button (and a few keys) do in the 3D view.

A tool is a `ViewportTool`; the viewport hands it mouse and key events first
and falls back to navigation for whatever it declines, and the viewport's
overlay calls the tool's `paint` so it can draw feedback (rubber bands,
gizmos, wall previews) over the rendered scene. Tools change the document
only through ``host.push(command)``.
"""
from app.ui.tools.base import ToolHost, ViewportTool  # noqa: F401
