"""Regenerate the README screenshots from the real app.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python docs/screenshots/take_screenshots.py

Writes ``app-donut.png`` (the window on the bundled demo, statistics panel
open), ``app-guitar.png`` (the guitar sample after an orbit, shortcuts dialog
closed), ``viewport-donut.png`` (what ``splatforge view --screenshot``
saves) and ``app-editing.png`` (a photo from ../shared/photos turned into
splats and a proposed layout, one wall selected under the Move gizmo). Uses a throwaway settings file, so your own settings are untouched.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ["SPLATFORGE_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "settings.ini")

from PySide6.QtTest import QTest  # noqa: E402

from app.bootstrap import DEMO_SCENE, create_application, create_window  # noqa: E402
from app.ui.capture import save_png  # noqa: E402

GUITAR = ROOT.parent / "shared" / "samples" / "guitar.compressed.ply"
ROOM_PHOTO = ROOT.parent / "shared" / "photos" / "depthanythingv2_room.jpg"


def _settle(app, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def _window_shot(app, path: Path, out: Path, orbit: tuple[float, float] = (0.0, 0.0)) -> None:
    w = create_window()
    w.resize(1280, 780)
    w.show()
    QTest.qWaitForWindowExposed(w)
    w.open_file(path)
    while w.scene is None:
        app.processEvents()
        if w.last_error:
            raise SystemExit(w.last_error)
        time.sleep(0.01)
    if any(orbit):
        w.viewport.nav.orbit(*orbit)
        w.viewport.view_changed(full=True)
    _settle(app, 1.5)
    w.grab().save(str(out))
    print(out, f"{out.stat().st_size // 1024} KiB")
    if out.name == "app-donut.png":
        view = HERE / "viewport-donut.png"
        save_png(w.viewport.render_image(800, 500), view)
        print(view, f"{view.stat().st_size // 1024} KiB")
    w.close()


def _editing_shot(app, photo: Path, out: Path) -> None:
    w = create_window()
    w.resize(1280, 780)
    w.show()
    QTest.qWaitForWindowExposed(w)
    w.open_photo(photo, new_document=True)
    while not w.document.layers:
        app.processEvents()
        if w.last_error:
            raise SystemExit(w.last_error)
        time.sleep(0.01)
    w.viewport.nav.orbit(30.0, 12.0)
    w.viewport.nav.zoom(-3.0)
    w.viewport.view_changed(full=True)
    walls = [p.id for p in w.document.layout.solids() if p.TYPE == "wall"]
    if walls:
        w.set_layout_selection(walls[:1])
    w.set_tool("move")
    _settle(app, 2.0)
    w.grab().save(str(out))
    print(out, f"{out.stat().st_size // 1024} KiB")
    w.history.set_clean()
    w.close()


def main() -> None:
    app = create_application()
    _window_shot(app, DEMO_SCENE, HERE / "app-donut.png")
    if GUITAR.exists():
        _window_shot(app, GUITAR, HERE / "app-guitar.png", orbit=(60.0, -10.0))
    if ROOM_PHOTO.exists():
        _editing_shot(app, ROOM_PHOTO, HERE / "app-editing.png")


if __name__ == "__main__":
    main()
