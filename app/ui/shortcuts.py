"""Every keyboard shortcut and mouse binding of the app, in one table.

The main window builds its QActions' shortcuts from `ACTION_SHORTCUTS`, and
Help -> Keyboard Shortcuts lists `ACTION_SHORTCUTS` plus `VIEWPORT_BINDINGS`
(mouse and fly-mode keys the viewport handles itself), so the dialog cannot
drift from what the keys really do (tests/ui checks it).
"""
from __future__ import annotations

# action id -> (key sequences, what it does). Portable key names (QKeySequence).
ACTION_SHORTCUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "new": (("Ctrl+N",), "New empty document"),
    "new_from_photo": (("Ctrl+Shift+N",), "New document from a photo (predict splats and a layout)"),
    "open": (("Ctrl+O",), "Open a splat file or a project (.sforge)"),
    "open_project": (("Ctrl+Shift+O",), "Open a project (.sforge)"),
    "save_project": (("Ctrl+S",), "Save the project (.sforge)"),
    "save_project_as": (("Ctrl+Alt+S",), "Save the project under a new name"),
    "export_collider": (("Ctrl+E",), "Export the layout as collider meshes (GLB/OBJ)"),
    "export": (("Ctrl+Shift+E",), "Export for an engine or viewer (preset, budget, size estimate)"),
    "reload": (("F5", "Ctrl+R"), "Reload the current file from disk"),
    "save_as": (("Ctrl+Shift+S",), "Save As / Export in any writable format"),
    "quit": (("Ctrl+Q",), "Quit"),
    "undo": (("Ctrl+Z",), "Undo"),
    "redo": (("Ctrl+Shift+Z", "Ctrl+Y"), "Redo"),
    "select_all": (("Ctrl+A",), "Select all splats"),
    "select_none": (("Ctrl+Shift+A",), "Select no splats"),
    "select_invert": (("Ctrl+I",), "Invert the splat selection"),
    "delete": (("Del",), "Delete the selected splats (or, with none, the selected layout primitives)"),
    "hide": (("H",), "Hide the selected splats"),
    "unhide_all": (("Alt+H",), "Show every hidden splat again"),
    "tool_navigate": (("N",), "Navigate tool (left drag orbits)"),
    "tool_rect": (("M",), "Rectangle select tool (drag; Shift adds, Ctrl subtracts)"),
    "tool_brush": (("B",), "Brush select tool (paint; Shift adds, Ctrl subtracts)"),
    "layout_propose": (("Ctrl+L",), "Propose a layout (floor, walls, boxes) from the splats"),
    "regenerate_appearance": (("Ctrl+G",), "Regenerate the appearance: fit the photo layer's splats on the layout "
                              "to its source photo (one undo step)"),
    "show_layout": (("L",), "Show or hide the layout"),
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
    "cancel_job": (("Esc",), "Cancel the running job (load, save, video, photo, regenerate appearance)"),
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
    ("Left drag (Rectangle tool)", "Select the splats inside the rectangle"),
    ("Left drag (Brush tool)", "Paint a selection"),
    ("Shift / Ctrl (selection tools)", "Add to / subtract from the selection"),
    ("Alt+Left drag (selection tools)", "Orbit"),
    ("Drop a file on the window", "Open it (a photo: predict splats from it and add them as a layer)"),
)
