"""Composition root of the desktop app: builds the QApplication and the
MainWindow and runs them. `run_app` is what ``splatforge view`` calls.

Environment:
``SPLATFORGE_SETTINGS=/path/file.ini`` keeps settings in that INI file instead
of the user's (tests, benchmarks); ``SPLATFORGE_TIMING=1`` prints
``first_full_frame_unix=<time.time()>`` when the first full-quality frame of
the scene is on screen (bench/startup.py reads it).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QSurfaceFormat
from PySide6.QtWidgets import QApplication

from app.ui.capture import save_png
from app.ui.main_window import MainWindow
from app.ui.settings import APPLICATION, ORGANIZATION, AppSettings
from app.ui.viewport import surface_format
from editor.model.camera import Camera

ROOT = Path(__file__).resolve().parents[1]
DEMO_SCENE = ROOT / "assets" / "demo" / "donut.ply"
SCREENSHOT_TIMEOUT_S = 600


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (made once per process), with the GL surface format
    every viewport uses set as the default before any window exists."""
    app = QApplication.instance()
    if app is not None:
        return app
    QSurfaceFormat.setDefaultFormat(surface_format())
    app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "splatforge"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    return app


def create_window(settings: AppSettings | None = None, headless_errors: bool = False) -> MainWindow:
    if settings is None:
        settings = AppSettings(os.environ.get("SPLATFORGE_SETTINGS") or None)
    return MainWindow(settings, headless_errors=headless_errors)


class ScreenshotRun:
    """Drives ``--screenshot``: load, wait for the first full-quality frame,
    save it, quit. ``code`` is the exit status (0 saved, 2 bad input file,
    1 anything else)."""

    def __init__(self, app: QApplication, window: MainWindow, path: Path, out: Path,
                 camera: Camera | None, width: int | None, height: int | None):
        self.app, self.window, self.path, self.out = app, window, Path(path), Path(out)
        self.camera, self.width, self.height = camera, width, height
        self.code = 1
        self.loaded = False
        self.finished = False
        window.scene_loaded.connect(self._loaded)
        window.load_failed.connect(lambda msg: self._quit(2))
        window.viewport.gl_failed.connect(lambda msg: self._quit(1))
        window.viewport.full_frame_ready.connect(self._frame)
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._timeout)
        self.timer.start(SCREENSHOT_TIMEOUT_S * 1000)

    def start(self) -> None:
        self.window.open_file(self.path, camera=self.camera)

    def _loaded(self, scene) -> None:
        self.loaded = True

    def _frame(self) -> None:
        if not self.loaded or self.finished:
            return
        w = self.width or (self.camera.width if self.camera else None)
        h = self.height or (self.camera.height if self.camera else None)
        try:
            if self.camera is not None:
                # Exactly the given camera (not the viewport-sized view of it).
                image = self.window.viewport.render_image(w, h, camera=self.camera)
            else:
                image = self.window.viewport.render_image(w, h)
            save_png(image, self.out)
        except Exception as e:  # noqa: BLE001
            print(f"splatforge: error: {self.out}: cannot save screenshot: {e}", file=sys.stderr)
            self._quit(1)
            return
        self._quit(0)

    def _timeout(self) -> None:
        print(f"splatforge: error: no full-quality frame within {SCREENSHOT_TIMEOUT_S} s", file=sys.stderr)
        self._quit(1)

    def _quit(self, code: int) -> None:
        if self.finished:
            return
        self.finished = True
        self.code = code
        self.timer.stop()
        self.app.exit(code)


def _print_first_frame(window: MainWindow) -> None:
    done = []

    def on_frame():
        if not done and window.scene is not None:
            done.append(True)
            print(f"first_full_frame_unix={time.time():.6f}", flush=True)

    window.viewport.full_frame_ready.connect(on_frame)


def run_app(path: os.PathLike | str | None = None, screenshot: os.PathLike | str | None = None,
            camera: Camera | None = None, width: int | None = None, height: int | None = None) -> int:
    """Open the main window on ``path`` (default: the demo scene) and run the
    event loop; returns the exit status. See `ScreenshotRun` for ``screenshot``."""
    app = create_application()
    window = create_window(headless_errors=screenshot is not None)
    if os.environ.get("SPLATFORGE_TIMING") == "1":
        _print_first_frame(window)
    target = Path(path) if path else DEMO_SCENE
    window.show()
    if width and height and screenshot is None:
        vp = window.viewport
        window.resize(window.width() + width - vp.width(), window.height() + height - vp.height())
    run = None
    if screenshot is not None:
        run = ScreenshotRun(app, window, target, Path(screenshot), camera, width, height)
        QTimer.singleShot(0, run.start)
    else:
        def start() -> None:
            # After a crash, offer the autosaved work first (instead of the file).
            if not window.offer_recovery():
                window.open_file(target, camera=camera)

        QTimer.singleShot(0, start)
    code = app.exec()
    window.close()
    if run is not None:
        return run.code
    return int(code)
