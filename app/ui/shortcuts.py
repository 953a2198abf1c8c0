"""Every keyboard shortcut and mouse binding of the app, in one table.

The main window builds its QActions' shortcuts from `ACTION_SHORTCUTS`, and
Help -> Keyboard Shortcuts lists `ACTION_SHORTCUTS` plus `VIEWPORT_BINDINGS`
(mouse and fly-mode keys the viewport handles itself), so the dialog cannot
drift from what the keys really do (tests/ui checks it).
"""
from __future__ import annotations

# action id -> (key sequences, what it does). Portable key names (QKeySequence).
ACTION_SHORTCUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "open": (("Ctrl+O",), "Open a splat file"),
    "reload": (("F5", "Ctrl+R"), "Reload the current file from disk"),
    "save_as": (("Ctrl+Shift+S",), "Save As / Export in any writable format"),
    "quit": (("Ctrl+Q",), "Quit"),
    "frame_all": (("F", "Home"), "Frame the whole scene"),
    "view_front": (("1",), "Front view"),
    "view_back": (("Ctrl+1",), "Back view"),
    "view_right": (("3",), "Right view"),
    "view_left": (("Ctrl+3",), "Left view"),
    "view_top": (("7",), "Top view"),
    "view_bottom": (("Ctrl+7",), "Bottom view"),
    "view_reset": (("R",), "Reset the view (home view, default field of view)"),
    "fov_wider": (("]",), "Wider field of view (+5 degrees)"),
    "fov_narrower": (("[",), "Narrower field of view (-5 degrees)"),
    "cycle_up": (("U",), "Next up-axis preset (-Y, Y, Z)"),
    "cycle_debug_view": (("V",), "Next render mode (splats, ellipses, points)"),
    "full_screen": (("F11",), "Full screen"),
    "screenshot": (("F12", "Ctrl+P"), "Save a screenshot of the viewport (PNG)"),
    "screenshot_size": (("Ctrl+Shift+P",), "Save a screenshot at a chosen resolution"),
    "add_keyframe": (("K",), "Add the current view as a camera-path keyframe"),
    "clear_keyframes": (("Ctrl+K",), "Clear the camera-path keyframes"),
    "video_turntable": (("Ctrl+T",), "Record a turntable video (MP4)"),
    "video_path": (("Ctrl+Shift+T",), "Record a video along the camera-path keyframes (MP4)"),
    "cancel_job": (("Esc",), "Cancel the running load, save or video"),
    "shortcuts": (("F1", "Ctrl+/"), "Show this list of shortcuts"),
}

# Bindings the viewport handles directly (not QActions): (input, what it does).
VIEWPORT_BINDINGS: tuple[tuple[str, str], ...] = (
    ("Left drag", "Orbit around the target"),
    ("Middle drag / Shift+Left drag", "Pan"),
    ("Wheel", "Zoom towards the point under the cursor"),
    ("Hold Right button + drag", "Fly mode: look around"),
    ("Hold Right button + W / S", "Fly forward / backward"),
    ("Hold Right button + A / D", "Fly left / right"),
    ("Hold Right button + Q / E", "Fly down / up"),
    ("Shift (while flying)", "Fly four times faster"),
    ("Drop a file on the window", "Open it"),
)
