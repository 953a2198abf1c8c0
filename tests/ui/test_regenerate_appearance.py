"""Layout > Regenerate Appearance (Ctrl+Shift+R) in the real window (Xvfb): a
document made from a photo remembers the photo and its camera; regenerating
runs the appearance pass as a job and replaces the photo layer's splats as
one undo step (undo gives back the exact previous splats); without a photo
the user is asked for one and the result is a new layer."""
from __future__ import annotations

import numpy as np
import pytest

from app.ui.regenerate import PHOTO_SOURCES_KEY, photo_sources
from tests.ui.helpers import disc_photo, psnr

TIMEOUT = 60_000


@pytest.fixture
def photo(tmp_path):
    """The disc photo (`tests.ui.helpers.disc_photo`) and its RGB composited
    on black (what a render of it should show)."""
    path, rgba = disc_photo(tmp_path)
    return path, rgba[..., :3] * (rgba[..., 3:] > 0)


def _photo_document(qtbot, w, path):
    with qtbot.waitSignal(w.photo_added, timeout=TIMEOUT):
        w.open_file(path)  # as a drop does (tests/ui/test_photo_drop.py drops)
    qtbot.waitUntil(lambda: w.job is None, timeout=TIMEOUT)  # photo_added comes just before the job's done
    assert w.error_dialog is None, w.last_error


def _run(qtbot, w, **kw):
    act = w.action_map["regenerate_appearance"]
    assert act.isEnabled()
    job = w.regenerate_appearance(**kw)
    assert job is not None, w.last_error
    assert not act.isEnabled()  # one job at a time
    with qtbot.waitSignal(job.done, timeout=TIMEOUT):
        pass
    assert act.isEnabled()
    return job


def test_regenerate_replaces_the_photo_layer_as_one_undo_step(qtbot, main_window, photo):
    w = main_window
    path, rgb = photo
    _photo_document(qtbot, w, path)
    (src,) = photo_sources(w.document)
    layer = w.document.layers[0]
    assert src.layer_id == layer.id and src.path == path.resolve() and src.camera_name == "Photo disc"
    assert (src.camera.width, src.camera.height) == (96, 72)
    before_cloud = layer.cloud
    before = {k: getattr(before_cloud, k).copy() for k in ("positions", "log_scales", "rotations", "opacity_logits", "sh")}
    w.action_map["show_layout"].trigger()  # compare the splats alone with the photo
    assert not w.action_map["show_layout"].isChecked()
    img_before = w.viewport.render_image(camera=src.camera)
    assert psnr(img_before, rgb) > 20.0, psnr(img_before, rgb)  # the predicted splats show the photo

    job = _run(qtbot, w, steps=3)
    assert job.outcome == "succeeded", job.error
    assert w.error_dialog is None, w.last_error
    assert [l.id for l in w.document.layers] == [layer.id]  # replaced, not added
    after_cloud = w.document.layers[0].cloud
    assert after_cloud is not before_cloud
    assert len(after_cloud) != len(before_cloud) or not np.array_equal(after_cloud.positions, before["positions"])
    assert w.history.index == 2 and w.action_map["undo"].text() == "&Undo Regenerate appearance"
    assert "Regenerated" in w.statusBar().currentMessage()
    # The regenerated splats still look like the photo from its camera, and differ from before.
    img_after = w.viewport.render_image(camera=src.camera)
    assert psnr(img_after, rgb) > 20.0, psnr(img_after, rgb)
    assert not np.array_equal(img_after, img_before)

    w.undo()
    restored = w.document.layers[0].cloud
    assert restored is before_cloud
    for k, v in before.items():
        assert np.array_equal(getattr(restored, k), v), k
    assert np.array_equal(w.viewport.render_image(camera=src.camera), img_before)
    w.redo()
    assert w.document.layers[0].cloud is after_cloud


def test_without_a_photo_source_it_asks_and_adds_a_layer(qtbot, main_window, photo, monkeypatch):
    w = main_window
    path, _ = photo
    w.add_primitive("box")  # a layout and no splats: the box is what the camera sees
    asked = {}

    def fake_open(parent, caption, folder, filters):
        asked["filters"] = filters
        return str(path), ""

    monkeypatch.setattr("app.ui.regenerate.QFileDialog.getOpenFileName", fake_open)
    monkeypatch.setattr("app.ui.regenerate.QInputDialog.getInt", lambda *a, **k: (2, True))
    view = w.viewport.camera()
    with qtbot.waitSignal(w.job_finished, timeout=TIMEOUT):
        w.action_map["regenerate_appearance"].trigger()
    assert "*.png" in asked["filters"]
    assert w.error_dialog is None, w.last_error
    assert [l.name for l in w.document.layers] == ["disc (regenerated)"]
    assert len(w.document.layers[0].cloud) > 0
    # The view camera was used, at the photo's size, and is now the layer's source.
    (src,) = photo_sources(w.document)
    assert src.layer_id == w.document.layers[0].id and src.path == path.resolve()
    assert (src.camera.width, src.camera.height) == (96, 72)
    assert np.allclose(src.camera.eye, view.eye) and src.camera.fov_y_deg == pytest.approx(view.fov_y_deg)
    w.undo()
    assert w.document.layers == [] and PHOTO_SOURCES_KEY not in w.document.metadata and not w.document.cameras
    assert len(w.document.layout) == 1


def test_cancel_leaves_the_document_unchanged(qtbot, main_window, photo):
    w = main_window
    _photo_document(qtbot, w, photo[0])
    cloud, index = w.document.layers[0].cloud, w.history.index
    job = w.regenerate_appearance(steps=2000)
    with qtbot.waitSignal(job.progressed, timeout=TIMEOUT):
        pass
    with qtbot.waitSignal(job.done, timeout=TIMEOUT):
        w.action_map["cancel_job"].trigger()
    assert job.outcome == "cancelled"
    assert w.document.layers[0].cloud is cloud and w.history.index == index
    assert w.error_dialog is None


def test_nothing_to_regenerate_is_a_one_line_error(qtbot, main_window, monkeypatch):
    shown = []
    monkeypatch.setattr("app.ui.main_window.show_error", lambda parent, title, message: shown.append(message))
    assert main_window.regenerate_appearance(steps=2) is None
    assert len(shown) == 1 and "\n" not in shown[0] and "layout" in shown[0]
    assert main_window.job is None


def test_the_photo_source_survives_saving_the_project(qtbot, main_window, photo, tmp_path):
    from editor.project import load_project

    w = main_window
    _photo_document(qtbot, w, photo[0])
    out = tmp_path / "disc.sforge"
    assert w.save_project_to(out)
    (a,) = photo_sources(w.document)
    (b,) = photo_sources(load_project(out))
    assert (a.layer_id, a.path, a.camera_name, a.camera.to_dict()) == (b.layer_id, b.path, b.camera_name,
                                                                       b.camera.to_dict())


def test_shortcut_is_ctrl_g(main_window):
    assert main_window.action_map["regenerate_appearance"].shortcut().toString() == "Ctrl+Shift+R"
