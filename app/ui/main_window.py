"""`MainWindow`: menus, docks, status bar, file handling and capture.

Everything slow runs as a job: loading, saving and video rendering on worker
threads (`app.ui.jobs`; videos fall back to `app.ui.capture.VideoRecorder` on
the UI thread where no headless GL context exists). The status bar shows the
job's progress with a Cancel button. A file that cannot be read opens an
error dialog naming the file and the problem; no exception reaches Qt's
event loop.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QWidget,
)

from app.ui.capture import VideoRecorder, save_png
from app.ui.dialogs import ShortcutsDialog, SizeDialog, VideoDialog, VideoOptions, show_error
from app.ui.jobs import Job, LoadedScene, load_job, save_job, video_job
from app.ui.navigation import UP_PRESETS, guess_up_axis, keyframe_path, turntable_path
from app.ui.panels import RenderPanel, StatsPanel
from app.ui.panels.render_settings import DEBUG_VIEWS
from app.ui.render_bridge import render_kwargs
from app.ui.settings import AppSettings, Preferences
from app.ui.shortcuts import ACTION_SHORTCUTS
from app.ui.viewport import FrameInfo, Viewport
from editor.formats.registry import codecs, readable_extensions, writable_extensions
from editor.model.camera import Camera

APP_NAME = "SplatForge"


class MainWindow(QMainWindow):
    """The application window. ``settings`` persists layout, recent files and
    preferences. ``headless_errors``: print errors to stderr instead of
    opening dialogs (used by ``--screenshot`` runs)."""

    scene_loaded = Signal(object)  # LoadedScene
    load_failed = Signal(str)  # one line: "PATH: problem"
    job_finished = Signal(str, str)  # label, outcome

    def __init__(self, settings: AppSettings, headless_errors: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.settings = settings
        self.headless_errors = headless_errors
        self.prefs: Preferences = settings.preferences()
        self.scene: LoadedScene | None = None
        self.job: Job | VideoRecorder | None = None
        self._jobs: set = set()  # every job still running (kept alive until done)
        self.keyframes: list[Camera] = []
        self.pending_camera: Camera | None = None  # applied to the next loaded scene
        self.keep_view = False  # the next loaded scene keeps the current view (reload)
        self.video = None  # the last video job (Job or VideoRecorder)
        self.last_error: str | None = None
        self.error_dialog: QMessageBox | None = None
        self._fps_times: list[float] = []
        self._label_time = 0.0

        self.viewport = Viewport(self.prefs, self)
        self.setCentralWidget(self.viewport)
        self.viewport.frame_rendered.connect(self._on_frame)
        self.viewport.gl_failed.connect(lambda msg: self._error("Graphics problem", msg))
        self.viewport.gl_ready.connect(self._gl_ready)
        self.viewport.upload_failed.connect(self._upload_failed)

        self.stats_panel = StatsPanel()
        self.render_panel = RenderPanel(self.prefs)
        self.render_panel.changed.connect(self.set_preferences)
        self.stats_dock = self._dock("Statistics", "statsDock", self.stats_panel, scroll=True)
        self.render_dock = self._dock("Render", "renderDock", self.render_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.stats_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.render_dock)
        self.tabifyDockWidget(self.stats_dock, self.render_dock)
        self.stats_dock.raise_()

        self._build_status_bar()
        self.action_map: dict[str, QAction] = {}
        self._build_menus()
        self.setAcceptDrops(True)
        self._update_title()
        self.resize(1440, 900)
        geometry, state = settings.window_geometry(), settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._layout_restored = state is not None and self.restoreState(state)

    # ================================================================ building
    def _dock(self, title: str, name: str, widget: QWidget, scroll: bool = False) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scroll:
            area = QScrollArea()
            area.setWidgetResizable(True)
            area.setWidget(widget)
            widget = area
        dock.setWidget(widget)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setObjectName("jobProgress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelJob")
        self.cancel_button.clicked.connect(self.cancel_job)
        self.cancel_button.hide()
        self.frame_label = QLabel("")
        self.frame_label.setObjectName("frameLabel")
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.frame_label)

    def _action(self, key: str, text: str, slot, checkable: bool = False) -> QAction:
        act = QAction(text, self)
        act.setObjectName(f"action_{key}")
        if key in ACTION_SHORTCUTS:
            act.setShortcuts([QKeySequence(k) for k in ACTION_SHORTCUTS[key][0]])
            act.setToolTip(f"{ACTION_SHORTCUTS[key][1]} ({ACTION_SHORTCUTS[key][0][0]})")
        act.setCheckable(checkable)
        act.triggered.connect(lambda checked=False: slot())
        self.addAction(act)  # shortcuts work even with the menu bar hidden (full screen)
        self.action_map[key] = act
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self._action("open", "&Open...", self.open_dialog))
        self.recent_menu = m.addMenu("Open &Recent")
        self._refresh_recent_menu()
        m.addAction(self._action("reload", "Re&load", self.reload))
        m.addAction(self._action("save_as", "Save &As / Export...", self.save_as_dialog))
        m.addSeparator()
        m.addAction(self._action("quit", "&Quit", self.close))

        m = mb.addMenu("&View")
        m.addAction(self._action("frame_all", "&Frame All", self.frame_all))
        views = m.addMenu("Preset &Views")
        for name in ("front", "back", "right", "left", "top", "bottom"):
            views.addAction(self._action(f"view_{name}", name.capitalize(), lambda n=name: self.set_view(n)))
        m.addAction(self._action("view_reset", "&Reset View", self.reset_view))
        m.addSeparator()
        m.addAction(self._action("fov_wider", "Wider Field of View", lambda: self.change_fov(+5.0)))
        m.addAction(self._action("fov_narrower", "Narrower Field of View", lambda: self.change_fov(-5.0)))
        up_menu = m.addMenu("&Up Axis")
        self.up_group = QActionGroup(self)
        for key, preset in UP_PRESETS.items():
            act = QAction(preset.label, self, checkable=True)
            act.setObjectName(f"action_up_{key}")
            act.triggered.connect(lambda checked=False, k=key: self.set_up_axis(k))
            self.up_group.addAction(act)
            up_menu.addAction(act)
        up_menu.addSeparator()
        up_menu.addAction(self._action("cycle_up", "Next Up Axis", self.cycle_up_axis))
        m.addSeparator()
        m.addAction(self.stats_dock.toggleViewAction())
        m.addAction(self.render_dock.toggleViewAction())
        m.addAction(self._action("full_screen", "Full &Screen", self.toggle_full_screen, checkable=True))

        m = mb.addMenu("&Render")
        self.view_group = QActionGroup(self)
        for key, label in DEBUG_VIEWS:
            act = QAction(label, self, checkable=True)
            act.setObjectName(f"action_debug_{key}")
            act.triggered.connect(lambda checked=False, k=key: self._set_debug_view(k))
            self.view_group.addAction(act)
            m.addAction(act)
        m.addAction(self._action("cycle_debug_view", "Next Render Mode", self.cycle_debug_view))

        m = mb.addMenu("&Capture")
        m.addAction(self._action("screenshot", "&Screenshot...", self.screenshot_dialog))
        m.addAction(self._action("screenshot_size", "Screenshot at &Resolution...",
                                 lambda: self.screenshot_dialog(ask_size=True)))
        m.addSeparator()
        m.addAction(self._action("add_keyframe", "Add Camera &Keyframe", self.add_keyframe))
        m.addAction(self._action("clear_keyframes", "&Clear Keyframes", self.clear_keyframes))
        m.addSeparator()
        m.addAction(self._action("video_turntable", "&Turntable Video...", lambda: self.video_dialog("turntable")))
        m.addAction(self._action("video_path", "Camera-&Path Video...", lambda: self.video_dialog("path")))
        self._action("cancel_job", "Cancel Job", self.cancel_job)

        m = mb.addMenu("&Help")
        m.addAction(self._action("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts))
        about = QAction("&About SplatForge", self)
        about.triggered.connect(self.show_about)
        m.addAction(about)
        self._sync_checks()

    def _gl_ready(self) -> None:
        views = self.viewport.available_views()
        self.render_panel.set_available_views(views)
        for act in self.view_group.actions():
            act.setEnabled(act.objectName().removeprefix("action_debug_") in views)
        if self.prefs.debug_view not in views:
            self._set_debug_view("splats")

    def _sync_checks(self) -> None:
        for act in self.up_group.actions():
            act.setChecked(act.objectName() == f"action_up_{self.viewport.nav.up_key}")
        for act in self.view_group.actions():
            act.setChecked(act.objectName() == f"action_debug_{self.prefs.debug_view}")

    # ================================================================ errors
    def _error(self, title: str, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(message, 10_000)
        if self.headless_errors:
            print(f"splatforge: error: {message}", file=sys.stderr)
            return
        self.error_dialog = show_error(self, title, message)

    # ================================================================ files
    def open_dialog(self) -> None:
        exts = readable_extensions()
        patterns = " ".join(f"*{e}" for e in exts)
        filters = [f"Splat files ({patterns})"]
        filters += [f"{c.description} ({' '.join('*' + e for e in c.extensions)})" for c in codecs() if c.read]
        filters.append("All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, "Open splat file", self.settings.last_folder(), ";;".join(filters))
        if path:
            self.open_file(path)

    def open_file(self, path: os.PathLike | str, camera: Camera | None = None, keep_view: bool = False) -> Job:
        """Load ``path`` on a worker thread (cancelling any load in progress).
        ``camera``: view to use once loaded (default: the home view of the
        file's up axis); ``keep_view``: keep the current view (reload)."""
        path = Path(path)
        if path.is_dir() and (path / "meta.json").is_file():
            path = path / "meta.json"  # an unbundled SOG folder
        self.keep_view = keep_view
        if isinstance(self.job, Job) and self.job.label.startswith("loading"):
            self.job.cancel()
        elif self.job is not None:
            self.cancel_job()
        self.pending_camera = camera
        job = load_job(path, self)
        job.succeeded.connect(self._scene_ready)
        job.failed.connect(self._load_failed)
        self._run(job)
        return job

    def reload(self) -> None:
        if self.scene is not None:
            self.open_file(self.scene.path, keep_view=True)

    def _scene_ready(self, scene: LoadedScene) -> None:
        self.scene = scene
        cloud = scene.cloud
        up = self.settings.up_axis_for(scene.path)
        if up not in UP_PRESETS:
            up = guess_up_axis(cloud.positions, scene.frame_lo, scene.frame_hi)
        lo, hi = cloud.bounds()
        self.viewport.set_scene(cloud, lo, hi, scene.frame_lo, scene.frame_hi, up=up, camera=self.pending_camera,
                                keep_view=self.keep_view)
        self.pending_camera = None
        self.keep_view = False
        if abs(self.viewport.nav.fov_y_deg - self.prefs.fov_y_deg) > 1e-9:
            # A given camera brought its own field of view: show it (not saved as the default).
            self.prefs = replace(self.prefs, fov_y_deg=self.viewport.nav.fov_y_deg)
            self.viewport.prefs = self.prefs
            self.render_panel.set_preferences(self.prefs)
        self.keyframes.clear()
        self.stats_panel.show_scene(scene)
        self.settings.add_recent_file(scene.path)
        self.settings.set_last_folder(scene.path.parent)
        self._refresh_recent_menu()
        self._update_title()
        self._sync_checks()
        self.statusBar().showMessage(
            f"Loaded {scene.path.name}: {len(cloud):,} splats, SH degree {cloud.sh_degree}, "
            f"{scene.loaded.format} in {scene.seconds * 1000:.0f} ms", 8000)
        # Histograms after the first frame is up (building plots costs time).
        QTimer.singleShot(100, self, lambda s=scene: self.scene is s and self.stats_panel.show_histograms(s.histograms))
        self.scene_loaded.emit(scene)

    def _upload_failed(self, message: str) -> None:
        path = self.scene.path if self.scene else None
        self.scene = None
        self.stats_panel.clear()
        self._update_title()
        self.load_failed.emit(f"{path}: {message}" if path else message)
        self._error("Cannot display file", f"{path}: {message}" if path else message)

    def _load_failed(self, message: str) -> None:
        self.load_failed.emit(message)
        self._error("Cannot open file", message)

    def save_as_dialog(self) -> None:
        if self.scene is None:
            self._error("Nothing to save", "open a scene first")
            return
        filters, by_filter = [], {}
        for c in codecs():
            if c.write:
                f = f"{c.description} ({' '.join('*' + e for e in c.extensions)})"
                filters.append(f)
                by_filter[f] = c
        start = str(Path(self.settings.last_folder()) / self.scene.path.name)
        path, chosen = QFileDialog.getSaveFileName(self, "Save As / Export", start, ";;".join(filters))
        if not path:
            return
        path = Path(path)
        if not any(path.name.lower().endswith(e) for e in writable_extensions()) and chosen in by_filter:
            path = path.with_name(path.name + by_filter[chosen].extensions[0])
        codec = next((c for c in codecs() if c.write and any(path.name.lower().endswith(e) for e in c.extensions)), None)
        if codec is not None and codec.lossy:
            answer = QMessageBox.question(self, "Lossy format", f"{codec.description}: {codec.lossy}\n\nSave anyway?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.save_to(path)

    def save_to(self, path: os.PathLike | str) -> Job | None:
        """Write the scene to ``path`` (format from its extension) on a worker."""
        if self.scene is None:
            return None
        if self.job is not None:
            self._error("Busy", f"wait for '{self.job.label}' to finish or cancel it")
            return None
        job = save_job(self.scene.cloud, Path(path), self)
        job.succeeded.connect(lambda res: self.statusBar().showMessage(f"Saved {res[0]} ({res[1]})", 8000))
        job.failed.connect(lambda msg: self._error("Cannot save file", msg))
        self._run(job)
        return job

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for i, f in enumerate(files):
            act = self.recent_menu.addAction(f"&{(i + 1) % 10} {Path(f).name}")
            act.setToolTip(f)
            act.setData(f)
            act.triggered.connect(lambda checked=False, f=f: self._open_recent(f))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files", self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _open_recent(self, f: str) -> None:
        if not Path(f).exists():
            self.settings.remove_recent_file(f)
            self._refresh_recent_menu()
            self._error("Cannot open file", f"{f}: no such file (removed from the recent files)")
            return
        self.open_file(f)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._refresh_recent_menu()

    def _update_title(self) -> None:
        name = self.scene.path.name if self.scene else None
        self.setWindowTitle(f"{name} - {APP_NAME}" if name else APP_NAME)

    # ================================================================ drag and drop
    @staticmethod
    def _dropped_file(mime) -> str | None:
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_file(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_file(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self._dropped_file(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.open_file(path)

    # ================================================================ jobs
    def _run(self, job) -> None:
        self.job = job
        self._jobs.add(job)
        self.progress.setValue(0)
        self.progress.setFormat(f"{job.label} %p%")
        self.progress.show()
        self.cancel_button.show()
        job.progressed.connect(lambda f, j=job: self.job is j and self.progress.setValue(int(f * 1000)))
        job.cancelled.connect(lambda j=job: self.statusBar().showMessage(f"Cancelled {j.label}", 5000))
        job.done.connect(lambda j=job: self._job_done(j))
        if isinstance(job, Job):
            job.finished.connect(job.deleteLater)  # QThread.finished: run() has returned
        job.start()

    def _job_done(self, job) -> None:
        self._jobs.discard(job)
        if self.job is job:
            self.job = None
            self.progress.hide()
            self.cancel_button.hide()
        self.job_finished.emit(job.label, job.outcome or "")
        fallback = getattr(job, "fallback", None)
        if fallback is not None:
            fallback()

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def wait_for_jobs(self, ms: int = 30_000) -> None:
        for job in list(self._jobs):
            job.cancel()
            if isinstance(job, Job):
                job.wait(ms)

    # ================================================================ view
    def frame_all(self) -> None:
        self.viewport.nav.frame(self.viewport._aspect())
        self.viewport.view_changed(full=True)

    def set_view(self, name: str) -> None:
        self.viewport.nav.view(name, self.viewport._aspect())
        self.viewport.view_changed(full=True)

    def reset_view(self) -> None:
        self.viewport.nav.reset(self.viewport._aspect())
        self.prefs = replace(self.prefs, fov_y_deg=self.viewport.nav.fov_y_deg)
        self.render_panel.set_preferences(self.prefs)
        self.viewport.prefs = self.prefs
        self.viewport.view_changed(full=True)

    def change_fov(self, delta: float) -> None:
        fov = min(max(self.prefs.fov_y_deg + delta, 5.0), 150.0)
        self.set_preferences(replace(self.prefs, fov_y_deg=fov))
        self.render_panel.set_preferences(self.prefs)

    def set_up_axis(self, key: str) -> None:
        self.viewport.nav.set_up_preset(key)
        self.viewport.nav.frame(self.viewport._aspect())
        if self.scene is not None:
            self.settings.set_up_axis_for(self.scene.path, key)
        self._sync_checks()
        self.viewport.view_changed(full=True)

    def cycle_up_axis(self) -> None:
        keys = list(UP_PRESETS)
        cur = self.viewport.nav.up_key
        self.set_up_axis(keys[(keys.index(cur) + 1) % len(keys)] if cur in keys else keys[0])

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.action_map["full_screen"].setChecked(self.isFullScreen())

    # ================================================================ render settings
    def set_preferences(self, prefs: Preferences) -> None:
        self.prefs = prefs
        self.viewport.set_preferences(prefs)
        self.settings.save_preferences(prefs)
        self._sync_checks()

    def _set_debug_view(self, key: str) -> None:
        if key not in self.viewport.available_views():
            self.statusBar().showMessage(f"The renderer has no '{key}' mode", 5000)
            self._sync_checks()
            return
        self.set_preferences(replace(self.prefs, debug_view=key))
        self.render_panel.set_preferences(self.prefs)

    def cycle_debug_view(self) -> None:
        keys = [k for k, _ in DEBUG_VIEWS if k in self.viewport.available_views()] or ["splats"]
        cur = self.prefs.debug_view
        self._set_debug_view(keys[(keys.index(cur) + 1) % len(keys)] if cur in keys else keys[0])

    def _on_frame(self, info: FrameInfo) -> None:
        now = time.monotonic()
        if info.full_quality:
            self._fps_times.clear()
        else:
            self._fps_times.append(now)
            while self._fps_times and now - self._fps_times[0] > 1.0:
                self._fps_times.pop(0)
        if not self.prefs.show_fps:
            return
        # While moving, refresh the label 4 times a second at most: every
        # widget update makes Qt compose the whole window (with the GL view)
        # again, which costs as much as a small frame on a software GPU.
        if not info.full_quality and now - self._label_time < 0.25:
            return
        self._label_time = now
        if info.full_quality:
            text = f"full quality  {info.ms:.0f} ms  |  {info.total:,} splats  |  {info.width}x{info.height}"
        else:
            # Frames actually shown per second while moving (render + Qt compositing),
            # or the render time's rate until a second of frames has been seen.
            times = self._fps_times
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 and times[-1] > times[0] \
                else (1000.0 / info.ms if info.ms > 0 else 0.0)
            res = f"  |  {info.resolution_scale:.0%} resolution" if info.resolution_scale < 0.999 else ""
            text = (f"moving  {fps:.0f} fps  {info.ms:.0f} ms  |  {info.drawn:,} of {info.total:,} splats{res}"
                    f"  |  {info.width}x{info.height}")
        self.frame_label.setText(text)

    # ================================================================ capture
    def _default_capture_path(self, suffix: str) -> str:
        stem = self.scene.path.name.split(".")[0] if self.scene else "splatforge"
        return str(Path(self.settings.last_folder()) / f"{stem}{suffix}")

    def screenshot_dialog(self, ask_size: bool = False) -> None:
        if self.scene is None:
            self._error("Nothing to capture", "open a scene first")
            return
        size = None
        if ask_size:
            w, h = self.viewport.pixel_size()
            dlg = SizeDialog(self, w, h)
            if dlg.exec() != SizeDialog.DialogCode.Accepted:
                return
            size = dlg.chosen_size()
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", self._default_capture_path(".png"),
                                              "PNG image (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self.save_screenshot(path, size)

    def save_screenshot(self, path: os.PathLike | str, size: tuple[int, int] | None = None) -> bool:
        """Render the current view at full quality (viewport size, or
        ``size`` = (width, height)) and write it as PNG. False on failure."""
        try:
            w, h = size if size else (None, None)
            image = self.viewport.render_image(w, h)
            save_png(image, path)
        except Exception as e:  # noqa: BLE001
            self._error("Cannot save screenshot", f"{path}: {' '.join(str(e).split()) or type(e).__name__}")
            return False
        self.statusBar().showMessage(f"Saved screenshot {path} ({image.shape[1]}x{image.shape[0]})", 8000)
        return True

    def add_keyframe(self) -> None:
        self.keyframes.append(self.viewport.camera())
        self.statusBar().showMessage(f"Camera keyframe {len(self.keyframes)} added", 4000)

    def clear_keyframes(self) -> None:
        self.keyframes.clear()
        self.statusBar().showMessage("Camera keyframes cleared", 4000)

    def video_dialog(self, mode: str = "turntable") -> None:
        if self.scene is None:
            self._error("Nothing to record", "open a scene first")
            return
        if mode == "path" and len(self.keyframes) < 2:
            self._error("Camera path", "add at least two keyframes first (Capture > Add Camera Keyframe, K)")
            return
        w, h = self.viewport.pixel_size()
        dlg = VideoDialog(self, VideoOptions(mode=mode, width=w // 2 * 2, height=h // 2 * 2), len(self.keyframes))
        if dlg.exec() != VideoDialog.DialogCode.Accepted:
            return
        options = dlg.options()
        path, _ = QFileDialog.getSaveFileName(self, "Save video", self._default_capture_path(f"-{options.mode}.mp4"),
                                              "MP4 video (*.mp4)")
        if path:
            if not path.lower().endswith(".mp4"):
                path += ".mp4"
            self.record_video(path, options)

    def video_cameras(self, options: VideoOptions) -> list[Camera]:
        if options.mode == "path":
            return keyframe_path(self.keyframes, options.frames, options.width, options.height)
        start = self.viewport.nav.camera(options.width, options.height)
        return turntable_path(start, options.frames, self.viewport.nav.world_up, options.degrees)

    def record_video(self, path: os.PathLike | str, options: VideoOptions, background_thread: bool = True):
        """Render and encode a video: on a worker thread with a headless
        renderer, or (where that is impossible, or ``background_thread`` is
        False) frame by frame on the UI thread. Returns the job."""
        if self.scene is None:
            return None
        if self.job is not None:
            self._error("Busy", f"wait for '{self.job.label}' to finish or cancel it")
            return None
        try:
            cams = self.video_cameras(options)
        except ValueError as e:
            self._error("Cannot record video", str(e))
            return None
        if background_thread:
            job = video_job(self.scene.cloud, cams, Path(path), options.fps,
                            render_kwargs(self.prefs), self)
            job.failed.connect(lambda msg, j=job, p=path, o=options: self._video_failed(j, msg, p, o))
        else:
            job = VideoRecorder(cams, lambda cam: self.viewport.render_image(camera=cam), path, options.fps, self)
            job.failed.connect(lambda msg: self._error("Cannot record video", msg))
        job.succeeded.connect(lambda p: self.statusBar().showMessage(f"Saved video {p}", 8000))
        self.video = job
        self._run(job)
        return job

    def _video_failed(self, job: Job, message: str, path, options: VideoOptions) -> None:
        from app.render.gl_context import HeadlessContextError

        if isinstance(job.exception, HeadlessContextError):
            # No EGL here: render through the viewport's context instead,
            # once this job is cleared away (see _job_done).
            job.fallback = lambda: self.record_video(path, options, background_thread=False)
            return
        self._error("Cannot record video", message)

    # ================================================================ help
    def show_shortcuts(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        self.shortcuts_dialog = dlg
        return dlg

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b><br>View, convert and render 3D Gaussian splat scenes.<br>"
                          f"Readable: {', '.join(readable_extensions())}<br>"
                          f"Writable: {', '.join(writable_extensions())}")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._layout_restored:
            # First run: give the (tabbed) panels room for the histograms.
            self._layout_restored = True
            self.resizeDocks([self.stats_dock], [440], Qt.Orientation.Horizontal)

    # ================================================================ closing
    def closeEvent(self, event) -> None:
        self.wait_for_jobs()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.save_preferences(self.prefs)
        self.settings.sync()
        self.viewport.release_gl()
        super().closeEvent(event)

