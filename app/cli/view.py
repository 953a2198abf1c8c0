"""`splatforge view [FILE]`: open the desktop app (PySide6).

With ``--screenshot OUT.png`` the real window opens, the first full-quality
frame is saved and the app exits 0 (for scripts and smoke tests); with
``--camera CAM.json`` it uses that camera, so the result can be compared with
``splatforge render`` of the same camera. The Qt parts are imported only when
the command runs (this module must not import Qt: see tests/test_boundaries.py).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.cli.common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "view",
        help="open the desktop viewer (default command; with no FILE, the bundled demo scene)",
        description="Open the SplatForge window on FILE (default: the bundled demo scene).",
    )
    p.add_argument("file", nargs="?", help="a splat file to open (.ply, .compressed.ply, .splat, .spz, .ksplat, ...)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="save the first full-quality frame as PNG and exit (0 on success)")
    p.add_argument("--camera", metavar="CAM.json", help="start from this camera (JSON: eye, target, up, fov_y_deg, "
                   "width, height); its size is the screenshot size unless --width/--height are given")
    p.add_argument("--width", type=int, metavar="W", help="screenshot width in pixels (interactive: viewport width)")
    p.add_argument("--height", type=int, metavar="H", help="screenshot height in pixels (interactive: viewport height)")
    p.set_defaults(func=run)


def _check_display() -> None:
    """Fail with one line, not a Qt abort, when no window can be opened."""
    if not sys.platform.startswith("linux"):
        return
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise CliError(None, "no display to open a window on (DISPLAY is not set); run it in a desktop session "
                       "or under xvfb-run, or use `splatforge render` for images without a window")


def run(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else None
    if path is not None and not path.exists():
        raise CliError(path, "no such file")
    if path is not None and path.is_dir():
        raise CliError(path, "is a folder, not a splat file")
    camera = None
    if args.camera:
        from editor.model.camera import Camera, CameraError

        try:
            camera = Camera.load(args.camera)
        except CameraError as e:
            raise CliError(args.camera, str(e)) from None
    for name in ("width", "height"):
        v = getattr(args, name)
        if v is not None and not 16 <= v <= 16384:
            raise CliError(None, f"--{name} must be between 16 and 16384 pixels, got {v}")
    screenshot = Path(args.screenshot) if args.screenshot else None
    if screenshot is not None:
        if screenshot.suffix.lower() != ".png":
            raise CliError(screenshot, "the screenshot must be a .png file")
        folder = screenshot.parent if str(screenshot.parent) else Path(".")
        if not folder.is_dir():
            raise CliError(screenshot, f"folder {folder} does not exist")
    _check_display()
    from app.bootstrap import run_app

    return run_app(path=path, screenshot=screenshot, camera=camera, width=args.width, height=args.height)
