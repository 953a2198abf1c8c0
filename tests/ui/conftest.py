"""GUI test setup: a real X display (Xvfb in CI) and the xcb platform.

Qt's ``offscreen`` platform cannot make GL contexts, so these tests need X.
`make test` runs pytest under ``xvfb-run`` when DISPLAY is unset. Tests that
need Qt (they use ``qtbot``, ``qapp`` or ``main_window``) are skipped with the
reason when no X display can be opened; the pure-maths tests here still run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["QT_QPA_PLATFORM"] = "xcb"
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

_GUI_FIXTURES = {"qtbot", "qapp", "main_window", "window_factory"}
_display_problem: str | None = None
_display_checked = False


def _check_display() -> str | None:
    """None when a Qt xcb application can start here, else why not."""
    if not os.environ.get("DISPLAY"):
        return "no X display (DISPLAY unset): run under xvfb-run, as `make test` does"
    code = "from PySide6.QtGui import QGuiApplication; QGuiApplication(['probe'])"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "QT_QPA_PLATFORM": "xcb"})
    except subprocess.TimeoutExpired:
        return "starting a Qt xcb application timed out"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"Qt cannot open the X display {os.environ.get('DISPLAY')}: {last}"
    return None


def pytest_collection_modifyitems(config, items):
    global _display_problem, _display_checked
    gui = [it for it in items if _GUI_FIXTURES & set(getattr(it, "fixturenames", ()))
           and Path(str(it.fspath)).parent == Path(__file__).parent]
    if not gui:
        return
    if not _display_checked:
        _display_problem = _check_display()
        _display_checked = True
    for it in gui:
        it.add_marker(pytest.mark.gui)
        if _display_problem:
            it.add_marker(pytest.mark.skip(reason=_display_problem))


@pytest.fixture(autouse=True)
def never_block_on_unsaved_changes(monkeypatch):
    """A failing test may leave its window with unsaved changes: the fixture
    that closes it must not wait on a modal prompt (autouse, so set up before
    the window fixtures and undone after they closed their windows). Tests of
    the prompt itself patch `QMessageBox.warning` again."""
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))


@pytest.fixture
def settings_file(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def window_factory(qtbot, tmp_path):
    """Make MainWindows with their own settings file; closes them after."""
    from app.bootstrap import create_window
    from app.ui.settings import AppSettings

    made = []

    def make(settings_path=None, **kw):
        settings = AppSettings(settings_path or tmp_path / "settings.ini")
        w = create_window(settings, **kw)
        qtbot.addWidget(w)
        w.resize(900, 640)
        with qtbot.waitExposed(w):
            w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.wait_for_jobs()
        history = getattr(w, "history", None)
        if history is not None:
            history.set_clean()  # no "save changes?" prompt: it would wait for a click forever
        w.close()
    # Leave no GLX context current: later tests may make EGL contexts current
    # on this thread, which libglvnd refuses while a GLX one is.
    from PySide6.QtGui import QOpenGLContext

    ctx = QOpenGLContext.currentContext()
    if ctx is not None:
        ctx.doneCurrent()


@pytest.fixture
def main_window(window_factory):
    return window_factory()


@pytest.fixture
def scene_file(tmp_path):
    """A small ring scene (600 splats of `tests.ui.helpers.small_cloud`) as a PLY;
    modules that need another scene define their own ``scene_file``."""
    from editor.formats import write_splats
    from tests.ui.helpers import small_cloud

    path = tmp_path / "ring.ply"
    write_splats(small_cloud(600), path)
    return path
