"""Photo -> splats in the real window (Xvfb): dropping an image runs the
predictor on a worker thread, and its splats plus the proposed layout land as
one undo step, seen through the photo's own camera."""
from __future__ import annotations

import numpy as np
import pytest

from tests.ui.helpers import disc_photo
from tests.ui.test_app import _drop

TIMEOUT = 30_000


@pytest.fixture
def photo(tmp_path):
    """The disc photo (`tests.ui.helpers.disc_photo`) and its count of opaque pixels."""
    path, rgba = disc_photo(tmp_path)
    return path, int((rgba[..., 3] > 0).sum())


def test_dropped_photo_becomes_one_undoable_layer(qtbot, main_window, photo):
    w = main_window
    path, opaque = photo
    with qtbot.waitSignal(w.photo_added, timeout=TIMEOUT) as blocker:
        _drop(w, path)
    result = blocker.args[0]
    assert w.error_dialog is None, w.last_error
    assert [l.name for l in w.document.layers] == ["disc"]
    n = len(w.document.layers[0].cloud)
    assert n == opaque > 0  # one splat per opaque pixel
    assert w.history.index == 1 and w.history.can_undo
    assert w.action_map["undo"].text() == "&Undo Add photo disc"
    had_layout = len(w.document.layout) > 0
    assert had_layout == (result.layout is not None)
    assert w.scene is not None and w.windowTitle().startswith("disc.png")
    # The view is the photo's camera: at the origin, looking along +z, up -y.
    cam = w.viewport.camera()
    assert np.allclose(cam.eye, 0.0, atol=1e-6)
    fwd = (cam.target - cam.eye) / np.linalg.norm(cam.target - cam.eye)
    assert np.allclose(fwd, (0, 0, 1), atol=1e-6)
    assert np.dot(cam.up, (0, -1, 0)) > 0.99
    with qtbot.waitSignal(w.viewport.full_frame_ready, timeout=TIMEOUT):
        w.viewport.update()
    img = w.viewport.render_image(160, 120)
    lit = img.max(axis=2) > 8
    assert 0.02 < lit.mean() < 0.9, lit.mean()
    # Centre of the image shows the disc (orange or blue, not background).
    assert lit[50:70, 70:90].mean() > 0.5

    w.action_map["undo"].trigger()
    assert w.document.layers == [] and len(w.document.layout) == 0
    assert not w.history.can_undo
    w.action_map["redo"].trigger()
    assert [len(l.cloud) for l in w.document.layers] == [n]
    assert (len(w.document.layout) > 0) == had_layout


def test_second_photo_adds_a_layer_to_the_open_document(qtbot, main_window, photo):
    w = main_window
    path, _ = photo
    for _ in range(2):
        with qtbot.waitSignal(w.photo_added, timeout=TIMEOUT):
            w.open_file(path)
        qtbot.waitUntil(lambda: w.job is None, timeout=TIMEOUT)
    assert len(w.document.layers) == 2 and w.history.index == 2
    w.undo()
    assert len(w.document.layers) == 1


def test_photo_field_of_view_comes_from_the_render_panel(qtbot, main_window, photo):
    """The predicted splats sit on the rays of a camera with the field of view set in the Render panel:
    wider, and the same pixels lie on more oblique rays."""
    w = main_window
    path, _ = photo
    extents = {}
    for fov in (40.0, 70.0):
        w.render_panel.photo_fov.setValue(fov)
        assert w.prefs.photo_fov_deg == fov
        with qtbot.waitSignal(w.photo_added, timeout=TIMEOUT) as blocker:
            w.open_photo(path, new_document=True)
        result = blocker.args[0]
        qtbot.waitUntil(lambda: w.job is None, timeout=TIMEOUT)  # photo_added comes before the job is done
        assert result.camera.fov_y_deg == pytest.approx(fov)
        p = result.cloud.positions
        extents[fov] = float(np.percentile(np.abs(p[:, 1] / p[:, 2]), 99))  # tan of the ray's vertical angle
        w.history.set_clean()
    # The same pixels (the disc; the transparent background is dropped) on rays whose slopes scale with tan(fov/2).
    expected = np.tan(np.radians(35.0)) / np.tan(np.radians(20.0))
    assert extents[70.0] / extents[40.0] == pytest.approx(expected, rel=0.05)


def test_corrupt_photo_is_an_error_dialog(qtbot, main_window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("app.ui.main_window.show_error", lambda parent, title, message: shown.append(message))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x01" * 30)
    with qtbot.waitSignal(main_window.load_failed, timeout=TIMEOUT):
        _drop(main_window, bad)
    assert len(shown) == 1 and "broken.png" in shown[0] and "\n" not in shown[0]
    assert "Traceback" not in shown[0]
    assert main_window.document.layers == [] and not main_window.history.can_undo


def test_photo_job_can_be_cancelled(qtbot, main_window, photo, monkeypatch):
    import threading

    import inference.image_io as image_io

    w = main_window
    started, real = threading.Event(), image_io.load_photo

    def slow_load(*a, **k):
        started.set()
        threading.Event().wait(0.3)
        return real(*a, **k)

    monkeypatch.setattr(image_io, "load_photo", slow_load)
    job = w.open_photo(photo[0])
    assert job is not None and w.cancel_button.isVisible()
    assert started.wait(10)
    with qtbot.waitSignal(job.done, timeout=TIMEOUT):
        w.cancel_button.click()
    assert job.outcome == "cancelled"
    assert w.document.layers == [] and not w.history.can_undo
    assert w.error_dialog is None  # cancelling is not an error


def test_new_from_photo_has_a_free_shortcut_and_an_image_filter(qtbot, main_window, photo, monkeypatch):
    w = main_window
    act = w.action_map["new_from_photo"]
    assert act.shortcut().toString() == "Ctrl+Shift+N"
    seen = {}

    def fake_open(parent, caption, folder, filters):
        seen["filters"] = filters
        return str(photo[0]), ""

    monkeypatch.setattr("app.ui.main_window.QFileDialog.getOpenFileName", fake_open)
    with qtbot.waitSignal(w.photo_added, timeout=TIMEOUT):
        act.trigger()
    assert "*.png" in seen["filters"] and "*.jpg" in seen["filters"]
    assert len(w.document.layers) == 1
