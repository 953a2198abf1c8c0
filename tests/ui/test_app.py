"""The desktop app in a real window (Xvfb in CI): opening, dropping, orbiting,
screenshots against the headless renderer, errors, saving, video, settings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from editor.formats import read_splats, write_splats
from editor.model.camera import Camera
from tests.ui.helpers import open_scene as _open
from tests.ui.helpers import headless_render, psnr, small_cloud

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30_000



def _background_fraction(img: np.ndarray, bg=(0, 0, 0)) -> float:
    return float(np.all(np.abs(img.astype(int) - bg) <= 2, axis=2).mean())


def test_open_file_shows_scene_and_statistics(qtbot, main_window, scene_file):
    _open(qtbot, main_window, scene_file)
    w = main_window
    assert w.scene is not None and len(w.scene.cloud) == 600
    values = w.stats_panel.values()
    assert values["count"] == "600"
    assert values["sh_degree"] == "0"
    assert values["format"].startswith("ply")
    assert w.windowTitle().startswith("ring.ply")
    # The widget really drew the scene: grab Qt's framebuffer (what is on screen).
    shot = w.viewport.grabFramebuffer()
    assert not shot.isNull() and shot.width() > 100
    img = w.viewport.render_image()
    assert 0.05 < 1.0 - _background_fraction(img) < 0.95
    assert w.viewport.last_frame.full_quality
    assert "full quality" in w.frame_label.text() and "600 splats" in w.frame_label.text()
    # Recent files remember it.
    assert w.settings.recent_files()[0] == str(scene_file.resolve())
    # Histograms appear shortly after.
    qtbot.waitUntil(lambda: w.stats_panel.plots is not None, timeout=TIMEOUT)
    xs, ys = w.stats_panel.curves["opacity"].getData()
    assert ys is not None and ys.sum() == 600


def _drop(window, path: Path) -> QDropEvent:
    """Drag ``path`` over the viewport and drop it, as a file manager does."""
    from PySide6.QtGui import QDragEnterEvent

    pos = window.viewport.mapTo(window, QPoint(50, 50))  # QDragEnterEvent takes a QPoint before Qt 6.12
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    return drop


def test_drop_event_opens_file(qtbot, main_window, scene_file):
    from PySide6.QtGui import QDragEnterEvent

    text_only = QMimeData()
    text_only.setText("not a file")
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, text_only, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(main_window, enter)
    assert not enter.isAccepted()
    with qtbot.waitSignal(main_window.scene_loaded, timeout=TIMEOUT) as blocker:
        _drop(main_window, scene_file)
    assert Path(blocker.args[0].path) == scene_file


def test_every_shared_sample_opens_by_drop(qtbot, main_window, samples_dir):
    """Each real sample file (and the unbundled SOG folder) loads, renders
    something and fills in the statistics."""
    paths = sorted(p for p in samples_dir.iterdir() if p.is_file() and p.suffix != ".md")
    paths += [p for p in samples_dir.iterdir() if p.is_dir()]
    assert paths
    for path in paths:
        with qtbot.waitSignal(main_window.scene_loaded, timeout=TIMEOUT):
            _drop(main_window, path)
        with qtbot.waitSignal(main_window.viewport.full_frame_ready, timeout=TIMEOUT):
            main_window.viewport.update()
        n = len(main_window.scene.cloud)
        assert main_window.stats_panel.values()["count"] == f"{n:,}", path.name
        img = main_window.viewport.render_image(160, 120)
        assert (img.max(axis=2) > 8).any(), f"{path.name}: nothing visible"
        assert main_window.error_dialog is None, main_window.last_error


def _drag(qtbot, viewport, start, delta, button=Qt.MouseButton.LeftButton,
          modifiers=Qt.KeyboardModifier.NoModifier, steps=6):
    """Press, move in ``steps`` (letting the event loop paint in between, as
    a real drag does), release."""
    def send(kind, pos, buttons):
        ev = QMouseEvent(kind, QPointF(*pos), QPointF(viewport.mapToGlobal(QPoint(*map(int, pos)))),
                         button, buttons, modifiers)
        QApplication.sendEvent(viewport, ev)

    x, y = start
    send(QMouseEvent.Type.MouseButtonPress, (x, y), button)
    for i in range(1, steps + 1):
        send(QMouseEvent.Type.MouseMove, (x + delta[0] * i / steps, y + delta[1] * i / steps), button)
        qtbot.wait(15)
    send(QMouseEvent.Type.MouseButtonRelease, (x + delta[0], y + delta[1]), Qt.MouseButton.NoButton)


def test_orbiting_changes_the_image_and_ends_on_a_full_frame(qtbot, main_window, scene_file):
    _open(qtbot, main_window, scene_file)
    vp = main_window.viewport
    before = vp.render_image()
    eye0 = vp.nav.eye.copy()
    frames = []
    vp.frame_rendered.connect(frames.append)
    c = (vp.width() // 2, vp.height() // 2)
    with qtbot.waitSignal(vp.full_frame_ready, timeout=TIMEOUT):
        _drag(qtbot, vp, c, (120, 30))
    assert not np.allclose(vp.nav.eye, eye0)
    assert any(not f.full_quality for f in frames), "no interactive (budgeted) frame while dragging"
    assert frames[-1].full_quality
    after = vp.render_image()
    assert psnr(before, after) < 25.0
    # Pan (Shift+left) and zoom (wheel) move the camera too.
    eye1 = vp.nav.eye.copy()
    _drag(qtbot, vp, c, (40, 0), modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert not np.allclose(vp.nav.eye, eye1)
    d = vp.nav.distance
    qtbot.wait(10)
    from PySide6.QtGui import QWheelEvent

    wheel = QWheelEvent(QPointF(*c), QPointF(vp.mapToGlobal(QPoint(*c))), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, wheel)
    assert vp.nav.distance < d


def test_keyboard_views_and_fly_mode(qtbot, main_window, scene_file):
    _open(qtbot, main_window, scene_file)
    vp = main_window.viewport
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow, timeout=5000)  # shortcuts need the active window
    vp.setFocus()
    qtbot.keyClick(vp, Qt.Key.Key_7)  # top view
    up = vp.nav.world_up
    assert np.dot(-vp.nav.forward, up) == pytest.approx(1.0, abs=1e-6)
    qtbot.keyClick(vp, Qt.Key.Key_1)  # front view
    assert abs(np.dot(vp.nav.forward, up)) < 1e-6
    vp.nav.zoom(-3)
    d = vp.nav.distance
    qtbot.keyClick(vp, Qt.Key.Key_F)  # frame all
    assert vp.nav.distance < d
    # Fly: hold the right button and W.
    eye = vp.nav.eye.copy()
    fwd = vp.nav.forward
    c = QPointF(vp.width() / 2, vp.height() / 2)
    QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseButtonPress, c, c, Qt.MouseButton.RightButton,
                                           Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier))
    qtbot.keyPress(vp, Qt.Key.Key_W)
    qtbot.wait(150)
    qtbot.keyRelease(vp, Qt.Key.Key_W)
    QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseButtonRelease, c, c, Qt.MouseButton.RightButton,
                                           Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    moved = vp.nav.eye - eye
    assert np.dot(moved, fwd) > 0 and np.linalg.norm(np.cross(moved, fwd)) < 1e-6 * max(1, np.linalg.norm(moved))


def _write_camera(path: Path, cam: Camera) -> None:
    path.write_text(json.dumps(cam.to_dict()))


def test_cli_screenshot_matches_headless_render(tmp_path, scene_file, qapp):
    cam = Camera([2.2, -1.4, -2.5], [0.0, 0.1, 0.0], [0.0, -1.0, 0.0], 45.0, 320, 240)
    cam_path = tmp_path / "cam.json"
    _write_camera(cam_path, cam)
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "SPLATFORGE_SETTINGS": str(tmp_path / "s.ini")}
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "view", str(scene_file), "--screenshot", str(out),
                           "--camera", str(cam_path)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    app_img = np.asarray(Image.open(out).convert("RGB"))
    assert app_img.shape == (240, 320, 3)
    ref = headless_render(scene_file, cam, tmp_path)
    assert 0.02 < 1.0 - _background_fraction(ref) < 0.98  # the reference sees the scene
    assert psnr(app_img, ref) > 40.0, psnr(app_img, ref)


def test_in_app_render_matches_headless_render(qtbot, main_window, scene_file, tmp_path):
    _open(qtbot, main_window, scene_file)
    cam = Camera([-1.5, -2.0, 2.4], [0.1, 0.0, -0.1], [0.0, -1.0, 0.0], 60.0, 200, 150)
    img = main_window.viewport.render_image(camera=cam)
    ref = headless_render(scene_file, cam, tmp_path)
    assert psnr(img, ref) > 40.0, psnr(img, ref)


def test_corrupt_file_shows_error_dialog_naming_the_file(qtbot, main_window, tmp_path):
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1000\nproperty float x\nend_header\n" + b"\0" * 12)
    with qtbot.waitSignal(main_window.load_failed, timeout=TIMEOUT) as blocker:
        main_window.open_file(bad)
    message = blocker.args[0]
    assert "broken.ply" in message
    box = main_window.error_dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "broken.ply" in box.text() and "Traceback" not in box.text()
    assert main_window.scene is None  # nothing half-loaded
    box.accept()
    # Garbage with an unknown extension, and a missing file, fail the same way.
    junk = tmp_path / "noise.bin"
    junk.write_bytes(os.urandom(300))
    for path in (junk, tmp_path / "missing.spz"):
        with qtbot.waitSignal(main_window.load_failed, timeout=TIMEOUT) as blocker:
            main_window.open_file(path)
        assert path.name in blocker.args[0]
        main_window.error_dialog.accept()


def test_failed_load_keeps_the_current_scene(qtbot, main_window, scene_file, tmp_path):
    _open(qtbot, main_window, scene_file)
    bad = tmp_path / "bad.splat"
    bad.write_bytes(b"\x01" * 33)  # not a whole number of 32-byte records
    with qtbot.waitSignal(main_window.load_failed, timeout=TIMEOUT):
        main_window.open_file(bad)
    assert main_window.scene is not None and main_window.scene.path == scene_file
    main_window.error_dialog.accept()


def test_save_as_every_writable_format(qtbot, main_window, scene_file, tmp_path):
    from editor.formats.registry import codecs

    _open(qtbot, main_window, scene_file)
    for codec in codecs():
        if codec.write is None:
            continue
        out = tmp_path / f"out{codec.extensions[0]}"
        job = main_window.save_to(out)
        assert job is not None
        qtbot.waitUntil(lambda: job.outcome is not None and main_window.job is None, timeout=TIMEOUT)
        assert job.outcome == "succeeded", job.error
        assert len(read_splats(out).cloud) == 600, codec.name


def test_screenshot_at_chosen_size(qtbot, main_window, scene_file, tmp_path):
    _open(qtbot, main_window, scene_file)
    out = tmp_path / "shot.png"
    assert main_window.save_screenshot(out, (333, 211))
    from PIL import Image

    assert Image.open(out).size == (333, 211)


def _wait_done(qtbot, job, timeout=60_000):
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=timeout)


@pytest.mark.parametrize("background_thread", [True, False], ids=["worker", "ui-thread"])
def test_turntable_video(qtbot, main_window, scene_file, tmp_path, background_thread):
    from app.ui.dialogs import VideoOptions

    _open(qtbot, main_window, scene_file)
    out = tmp_path / "turn.mp4"
    rec = main_window.record_video(out, VideoOptions(mode="turntable", seconds=1.0, fps=6, width=96, height=64),
                                   background_thread=background_thread)
    _wait_done(qtbot, rec)
    assert rec.outcome == "succeeded", rec.error
    import imageio_ffmpeg

    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == 6
    # Frames differ (the camera turns): decode two and compare.
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    w, h = meta["size"]
    imgs = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]
    assert (w, h) == (96, 64)
    assert psnr(imgs[0], imgs[3]) < 30.0
    # The first frame is the current view: compare with the viewport's own render.
    first = main_window.viewport.render_image(96, 64)
    assert psnr(imgs[0], first) > 25.0  # H.264 at quality 8 loses a little
    assert not list(tmp_path.glob(".turn*"))  # no temp file left


@pytest.mark.parametrize("background_thread", [True, False], ids=["worker", "ui-thread"])
def test_video_cancel_leaves_no_file(qtbot, main_window, scene_file, tmp_path, background_thread):
    from app.ui.dialogs import VideoOptions

    _open(qtbot, main_window, scene_file)
    out = tmp_path / "cancelled.mp4"
    rec = main_window.record_video(out, VideoOptions(seconds=20.0, fps=30, width=64, height=48),
                                   background_thread=background_thread)
    qtbot.waitUntil(lambda: main_window.progress.value() > 0, timeout=TIMEOUT)
    qtbot.mouseClick(main_window.cancel_button, Qt.MouseButton.LeftButton)
    _wait_done(qtbot, rec)
    assert rec.outcome == "cancelled"
    qtbot.waitUntil(lambda: main_window.job is None, timeout=TIMEOUT)
    assert not out.exists() and not list(tmp_path.glob("*.mp4"))


def test_camera_path_video_needs_keyframes(qtbot, main_window, scene_file, tmp_path):
    from app.ui.dialogs import VideoOptions

    _open(qtbot, main_window, scene_file)
    main_window.add_keyframe()
    main_window.set_view("right")
    main_window.add_keyframe()
    out = tmp_path / "path.mp4"
    rec = main_window.record_video(out, VideoOptions(mode="path", seconds=0.5, fps=8, width=64, height=48))
    _wait_done(qtbot, rec)
    assert rec.outcome == "succeeded" and out.stat().st_size > 0


def test_load_job_cancel(qtbot):
    from app.ui.jobs import Job

    def work(progress):
        for i in range(10_000):
            progress(i / 10_000)
            import time

            time.sleep(0.001)
        return "finished"

    job = Job("slow", work)
    with qtbot.waitSignal(job.done, timeout=TIMEOUT):
        job.start()
        qtbot.wait(30)
        job.cancel()
    assert job.outcome == "cancelled"
    job.wait()


def test_shortcuts_dialog_lists_every_action_shortcut(qtbot, main_window):
    dlg = main_window.show_shortcuts()
    listed = dlg.listed_keys()
    missing = []
    for act in main_window.findChildren(type(main_window.action_map["open"])):
        for seq in act.shortcuts():
            text = seq.toString()
            if text and text not in listed:
                missing.append(f"{act.text()}: {text}")
    assert not missing, missing
    assert QKeySequence("Ctrl+O").toString() in listed
    dlg.close()


def test_settings_persist_preferences_and_layout(qtbot, window_factory, tmp_path, scene_file):
    from dataclasses import replace

    path = tmp_path / "persist.ini"
    w1 = window_factory(path)
    _open(qtbot, w1, scene_file)
    w1.set_preferences(replace(w1.prefs, background=(1.0, 1.0, 1.0), splat_scale=0.5, sh_degree=1))
    w1.close()
    w2 = window_factory(path)
    assert w2.prefs.background == (1.0, 1.0, 1.0) and w2.prefs.splat_scale == 0.5 and w2.prefs.sh_degree == 1
    assert w2.render_panel.splat_scale.value() == 0.5
    assert w2.settings.recent_files()[0] == str(scene_file.resolve())
    assert [a.data() for a in w2.recent_menu.actions() if a.data()][0] == str(scene_file.resolve())


def test_render_panel_background_changes_the_image(qtbot, main_window, scene_file):
    _open(qtbot, main_window, scene_file)
    vp = main_window.viewport
    black = vp.render_image(64, 48)
    qtbot.mouseClick(main_window.render_panel.findChild(type(main_window.cancel_button), "backgroundWhite"),
                     Qt.MouseButton.LeftButton)
    white = vp.render_image(64, 48)
    assert white.mean() > black.mean() + 100


def test_up_axis_presets_are_remembered_per_file(qtbot, window_factory, tmp_path, scene_file):
    path = tmp_path / "up.ini"
    w1 = window_factory(path)
    _open(qtbot, w1, scene_file)
    w1.set_up_axis("+z")
    assert np.allclose(w1.viewport.nav.world_up, [0, 0, 1])
    w1.close()
    w2 = window_factory(path)
    _open(qtbot, w2, scene_file)
    assert w2.viewport.nav.up_key == "+z"
    assert w2.up_group.checkedAction().objectName() == "action_up_+z"


def test_cancel_load_from_the_status_bar(qtbot, main_window, scene_file, monkeypatch):
    import time

    import app.ui.jobs as jobs

    def slow_load(path, progress):  # a load that only ends by being cancelled (no race with the click)
        for i in range(3000):
            progress(i / 3000)  # raises Cancelled once the job is cancelled
            time.sleep(0.01)
        raise AssertionError("the load was not cancelled")

    monkeypatch.setattr(jobs, "load_scene", slow_load)
    job = main_window.open_file(scene_file)
    assert main_window.progress.isVisible() and main_window.cancel_button.isVisible()
    with qtbot.waitSignal(job.cancelled, timeout=TIMEOUT):
        qtbot.mouseClick(main_window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: main_window.job is None, timeout=TIMEOUT)
    assert main_window.scene is None
    assert not main_window.progress.isVisible()
    assert main_window.error_dialog is None  # cancelling is not an error


def test_reload_keeps_the_camera_and_recent_files_reopen(qtbot, main_window, scene_file, tmp_path):
    _open(qtbot, main_window, scene_file)
    main_window.viewport.nav.orbit(50, 10)
    eye = main_window.viewport.nav.eye.copy()
    world_up = main_window.viewport.nav.world_up.copy()
    write_splats(small_cloud(300, seed=1), scene_file)
    with qtbot.waitSignal(main_window.scene_loaded, timeout=TIMEOUT):
        main_window.reload()
    assert len(main_window.scene.cloud) == 300
    assert np.allclose(main_window.viewport.nav.eye, eye)
    assert np.allclose(main_window.viewport.nav.world_up, world_up)  # still orbits about the same axis
    other = tmp_path / "other.ply"
    write_splats(small_cloud(50), other)
    _open(qtbot, main_window, other)
    recent = [a for a in main_window.recent_menu.actions() if a.data()]
    assert [a.data() for a in recent[:2]] == [str(other.resolve()), str(scene_file.resolve())]
    with qtbot.waitSignal(main_window.scene_loaded, timeout=TIMEOUT):
        recent[1].trigger()
    assert main_window.scene.path == scene_file


def test_video_falls_back_to_the_ui_thread_without_egl(qtbot, main_window, scene_file, tmp_path, monkeypatch):
    import app.render.offscreen as offscreen
    from app.render.gl_context import HeadlessContextError
    from app.ui.capture import VideoRecorder
    from app.ui.dialogs import VideoOptions

    def no_egl(*args, **kwargs):
        raise HeadlessContextError("no EGL here (test)")

    monkeypatch.setattr(offscreen, "OffscreenRenderer", no_egl)
    _open(qtbot, main_window, scene_file)
    out = tmp_path / "fallback.mp4"
    first = main_window.record_video(out, VideoOptions(seconds=0.5, fps=6, width=64, height=48))
    _wait_done(qtbot, first)
    assert first.outcome == "failed"
    qtbot.waitUntil(lambda: isinstance(main_window.video, VideoRecorder), timeout=TIMEOUT)
    _wait_done(qtbot, main_window.video)
    assert main_window.video.outcome == "succeeded" and out.stat().st_size > 0
    assert main_window.error_dialog is None


def test_scene_the_renderer_refuses_is_an_error_not_a_dead_viewport(qtbot, main_window, scene_file, monkeypatch):
    _open(qtbot, main_window, scene_file)
    renderer = main_window.viewport.bridge.renderer
    real = renderer.set_cloud

    def refuse(cloud):
        if cloud is not None and len(cloud) == 600:
            raise ValueError("600 splats exceed the renderer's limit of 599")
        return real(cloud)

    monkeypatch.setattr(renderer, "set_cloud", refuse)
    with qtbot.waitSignal(main_window.load_failed, timeout=TIMEOUT) as blocker:
        main_window.open_file(scene_file)
        main_window.viewport.update()
    assert "ring.ply" in blocker.args[0] and "limit" in blocker.args[0]
    assert main_window.error_dialog.isVisible()
    main_window.error_dialog.accept()
    assert main_window.viewport.gl_error is None
    monkeypatch.setattr(renderer, "set_cloud", real)
    _open(qtbot, main_window, scene_file)  # and the next scene displays
    assert main_window.scene is not None
