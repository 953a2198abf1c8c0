"""`MainWindow`: menus, docks, status bar, file handling and capture.

The window edits one `editor.model.document.Document` through one
`editor.history.History`: every change (selection, delete, hide, layout
edits, numeric properties) is a command pushed with ``history.push``; the
window only observes the document (``document.changed``) to redraw and
refresh panels. Loading a splat file makes a one-layer document; opening or
dropping a photo predicts splats from it on a worker (`app.ui.jobs.photo_job`)
and adds them as a layer plus the proposed layout, as one undo step; projects
(``.sforge``) save and load whole documents; an autosave timer writes a
recovery file (`editor.project.Autosaver`) and `offer_recovery` brings it back
after a crash. Closing, New and opening another file ask to save first.

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

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolBar,
    QWidget,
)

from app.ui.capture import VideoRecorder, save_png
from app.ui.dialogs import ShortcutsDialog, SizeDialog, VideoDialog, VideoOptions, show_error
from app.ui.document_view import counts, display_cloud
from app.ui.jobs import (PHOTO_EXTENSIONS, Job, LoadedScene, PredictedPhoto, is_photo, load_job, photo_job,
                         save_job, scene_histograms, video_job)
from app.ui.navigation import UP_PRESETS, guess_up_axis, keyframe_path, robust_bounds, turntable_path
from app.ui.panels import OutlinerPanel, PropertiesPanel, RenderPanel, StatsPanel
from app.ui.panels.render_settings import DEBUG_VIEWS
from app.ui.regenerate import record_photo, start_regenerate
from app.ui.render_bridge import render_kwargs
from app.ui.settings import AppSettings, Preferences
from app.ui.shortcuts import ACTION_SHORTCUTS
from app.ui.splat_editing import SplatEditing
from app.ui.tools.registry import TOOL_CLASSES
from app.ui.tools.layout_common import draw_settings
from app.ui.tools.transform import grid_step_box
from app.ui.viewport import FrameInfo, Viewport
from editor import project as projects
from editor import selection
from editor.commands.document_edits import SetMetadata
from editor.commands.layers import AddLayer
from editor.commands.layout_edits import (AddPrimitive, GroupPrimitives, RemoveOpening, RemovePrimitive, SetLayout,
                                          SetPrimitiveProperty, Ungroup)
from editor.commands.splat_edits import DeleteSelection, HideSelection, SetSelection, UnhideAll
from editor.formats.base import FormatError, LoadedSplats
from editor.formats.registry import codecs, readable_extensions, writable_extensions
from editor.geometry.layout_fit import FitOptions, LayoutFitError, fit_layout
from editor.geometry.layout_proposal import record_proposal
from editor.geometry.mesh_export import export_rotation, write_glb, write_obj
from editor.geometry.meshing import layout_meshes
from editor.history import History
from editor.model.camera import Camera
from editor.model.document import Document, DocumentError, Layer
from editor.model.layout import Box, Cylinder, Group, LayoutError, Plane, Sphere, Wall, frame_from_axes

APP_NAME = "SplatForge"
#: File > Export Collider's file types: format and the target engine's up axis.
COLLIDER_FILTERS = ("glTF binary, y up (*.glb)", "glTF binary, z up (*.glb)",
                    "Wavefront OBJ, y up (*.obj)", "Wavefront OBJ, z up (*.obj)")
AUTOSAVE_MS = 30_000


class MainWindow(QMainWindow):
    """The application window. ``settings`` persists layout, recent files and
    preferences. ``headless_errors``: print errors to stderr instead of
    opening dialogs (used by ``--screenshot`` runs)."""

    scene_loaded = Signal(object)  # LoadedScene
    load_failed = Signal(str)  # one line: "PATH: problem"
    job_finished = Signal(str, str)  # label, outcome
    photo_added = Signal(object)  # PredictedPhoto, once its layer (and layout) are in the document

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
        self.document = Document()
        self.history = History(self.document)
        self.project_path: Path | None = None  # the .sforge file the document belongs to
        self.source_path: Path | None = None  # the splat file it was made from
        self.layout_selection: list[str] = []  # selected layout primitives (view state, not undone)
        self.autosaver: projects.Autosaver | None = None
        self._session = f"{os.getpid()}-{int(time.time())}"

        self.viewport = Viewport(self.prefs, self)
        self.setCentralWidget(self.viewport)
        self.viewport.frame_rendered.connect(self._on_frame)
        self.viewport.gl_failed.connect(lambda msg: self._error("Graphics problem", msg))
        self.viewport.gl_ready.connect(self._gl_ready)
        self.viewport.upload_failed.connect(self._upload_failed)
        self.viewport.select_rect.connect(self._select_rect)
        self.viewport.brush_dab.connect(self._brush_dab)
        for cls in TOOL_CLASSES:
            self.viewport.add_tool(cls(self))

        self.stats_panel = StatsPanel()
        self.render_panel = RenderPanel(self.prefs)
        self.render_panel.changed.connect(self.set_preferences)
        self.stats_dock = self._dock("Statistics", "statsDock", self.stats_panel, scroll=True)
        self.render_dock = self._dock("Render", "renderDock", self.render_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.stats_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.render_dock)
        self.tabifyDockWidget(self.stats_dock, self.render_dock)
        self.stats_dock.raise_()
        self.outliner = OutlinerPanel()
        self.outliner.selection_changed.connect(self.set_layout_selection)
        self.properties = PropertiesPanel()
        self.properties.edited.connect(self._property_edited)
        self.properties.remove_opening.connect(lambda pid, i: self.push(RemoveOpening(pid, i)))
        self.outliner_dock = self._dock("Outliner", "outlinerDock", self.outliner)
        self.properties_dock = self._dock("Properties", "propertiesDock", self.properties, scroll=True)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.outliner_dock)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.properties_dock)
        # Select/Edit menu splat edits, histogram range selection and the Layers panel.
        self.splat_editing = SplatEditing(self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.splat_editing.layers_dock)
        self.tabifyDockWidget(self.outliner_dock, self.splat_editing.layers_dock)
        self.outliner_dock.raise_()

        self._build_status_bar()
        self.action_map: dict[str, QAction] = {}
        self._build_menus()
        self._build_toolbar()
        self._histogram_live = -1  # live splats the histograms were last computed for
        self._histogram_timer = QTimer(self)
        self._histogram_timer.setSingleShot(True)
        self._histogram_timer.setInterval(400)  # after a drag or a burst of edits, not during it
        self._histogram_timer.timeout.connect(self._refresh_histograms)
        self._attach_document(self.document, self.history)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()
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
        m.addAction(self._action("new", "&New", self.new_document))
        m.addAction(self._action("new_from_photo", "New from &Photo...", self.new_from_photo_dialog))
        m.addAction(self._action("open", "&Open...", self.open_dialog))
        m.addAction(self._action("open_project", "Open &Project...", self.open_project_dialog))
        self.recent_menu = m.addMenu("Open &Recent")
        self._refresh_recent_menu()
        m.addAction(self._action("reload", "Re&load", self.reload))
        m.addSeparator()
        m.addAction(self._action("save_project", "&Save Project", self.save_project))
        m.addAction(self._action("save_project_as", "Save Project As...", self.save_project_as_dialog))
        m.addAction(self._action("save_as", "Save &As / Export Splats...", self.save_as_dialog))
        m.addAction(self._action("export", "&Export...", self.export_dialog))
        m.addAction(self._action("export_collider", "Export &Collider (GLB/OBJ)...", self.export_collider_dialog))
        m.addSeparator()
        m.addAction(self._action("quit", "&Quit", self.close))

        m = mb.addMenu("&Edit")
        m.addAction(self._action("undo", "&Undo", self.undo))
        m.addAction(self._action("redo", "&Redo", self.redo))
        m.addSeparator()
        m.addAction(self._action("delete", "&Delete", self.delete_selected))
        m.addAction(self._action("hide", "&Hide Selected", self.hide_selected))
        m.addAction(self._action("unhide_all", "Un&hide All", self.unhide_all))
        self.splat_editing.add_edit_actions(m)

        m = mb.addMenu("&Select")
        m.addAction(self._action("select_all", "&All", self.select_all))
        m.addAction(self._action("select_none", "&None", self.select_none))
        m.addAction(self._action("select_invert", "&Invert", self.select_invert))
        self.splat_editing.add_select_actions(m)

        m = mb.addMenu("&Tools")
        self.tool_group = QActionGroup(self)
        for key, label in self.tool_labels():
            act = self._action(f"tool_{key}", label, lambda k=key: self.set_tool(k), checkable=True)
            self.tool_group.addAction(act)
            m.addAction(act)
        self.action_map["tool_navigate"].setChecked(True)

        m = mb.addMenu("&Layout")
        m.addAction(self._action("layout_propose", "&Propose from Splats", self.propose_layout))
        m.addAction(self._action("regenerate_appearance", "&Regenerate Appearance...", self.regenerate_appearance))
        m.addSeparator()
        m.addAction(self._action("add_box", "Add &Box", lambda: self.add_primitive("box")))
        m.addAction(self._action("add_floor", "Add &Floor", lambda: self.add_primitive("floor")))
        m.addAction(self._action("add_wall", "Add &Wall", lambda: self.add_primitive("wall")))
        m.addAction(self._action("add_cylinder", "Add &Cylinder", lambda: self.add_primitive("cylinder")))
        m.addAction(self._action("add_sphere", "Add S&phere", lambda: self.add_primitive("sphere")))
        m.addAction(self._action("delete_primitive", "&Delete Primitive", self.delete_primitives))
        m.addAction(self._action("group", "&Group", self.group_selection))
        m.addAction(self._action("ungroup", "&Ungroup", self.ungroup_selection))
        m.addSeparator()
        show = self._action("show_layout", "&Show Layout", self.toggle_layout, checkable=True)
        show.setChecked(True)
        m.addAction(show)
        m.addAction(self.action_map["export_collider"])

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
        m.addAction(self.outliner_dock.toggleViewAction())
        m.addAction(self.splat_editing.layers_dock.toggleViewAction())
        m.addAction(self.properties_dock.toggleViewAction())
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

        m = mb.addMenu("Hel&p")  # not &Help: Alt+H is Unhide All
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
        filters = [f"Splat files and projects ({patterns} *{projects.EXTENSION})",
                   f"SplatForge project (*{projects.EXTENSION})"]
        filters += [f"{c.description} ({' '.join('*' + e for e in c.extensions)})" for c in codecs() if c.read]
        filters.append("All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, "Open splat file", self.settings.last_folder(), ";;".join(filters))
        if path:
            self.open_file(path)

    def open_file(self, path: os.PathLike | str, camera: Camera | None = None, keep_view: bool = False,
                  ask: bool = True) -> Job | None:
        """Load ``path`` on a worker thread (cancelling any load in progress):
        a splat file becomes a new one-layer document, a ``.sforge`` project
        is opened as it was saved. ``camera``: view to use once loaded
        (default: the home view of the file's up axis); ``keep_view``: keep
        the current view (reload). With unsaved changes the user is asked
        first (``ask``); None when they cancel."""
        path = Path(path)
        if path.is_dir() and (path / "meta.json").is_file():
            path = path / "meta.json"  # an unbundled SOG folder
        if is_photo(path):
            return self.open_photo(path)  # adds a layer (or starts a new document): nothing to discard
        if ask and not self.maybe_save():
            return None
        if path.name.lower().endswith(projects.EXTENSION) and not path.name.lower().endswith(projects.RECOVERY_SUFFIX):
            return self.open_project(path, camera=camera, keep_view=keep_view, ask=False)
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

    # ------------------------------------------------------------ photo -> splats
    def new_from_photo_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in PHOTO_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "New from photo", self.settings.last_folder(),
                                              f"Images ({patterns});;All files (*)")
        if path:
            self.open_photo(path, new_document=True)

    def open_photo(self, path: os.PathLike | str, new_document: bool = False) -> Job | None:
        """Predict splats from a photo on a worker thread (progress, Cancel),
        then add them as a layer plus the proposed layout, as one undo step
        (`_photo_ready`). ``new_document``: always start a new document
        (File > New from Photo); otherwise only when the current one is empty."""
        path = Path(path)
        if self.job is not None:
            self._error("Busy", f"wait for '{self.job.label}' to finish or cancel it")
            return None
        job = photo_job(path, self, fov_deg=self.prefs.photo_fov_deg)
        job.succeeded.connect(lambda result, n=new_document: self._photo_ready(result, n))
        job.failed.connect(self._load_failed)
        self._run(job)
        return job

    def _photo_ready(self, result: PredictedPhoto, new_document: bool = False) -> None:
        doc = self.document
        fresh = (not doc.layers and not len(doc.layout)) or new_document
        if fresh and not self.history.is_clean and (doc.layers or len(doc.layout)) and not self.maybe_save():
            self.statusBar().showMessage(f"Kept the current document; {result.path.name} was not added", 8000)
            return
        name = result.path.stem or "photo"
        if fresh:
            self.scene = result.scene
            self.project_path = None
            self.source_path = result.path
            doc = Document(metadata={"source": str(result.path)})
            self._attach_document(doc, History(doc))
        layout = result.layout if result.layout is not None and not len(self.document.layout) else None
        try:
            with self.history.macro(f"Add photo {name}"):
                add = AddLayer(result.cloud, name)
                self.history.push(add)
                if layout is not None:
                    self.history.push(SetLayout(layout))
                # The photo and its camera, for Layout > Regenerate Appearance (saved with the project).
                for cmd in record_photo(self.document, add.layer_id, result.path, result.camera, name):
                    self.history.push(cmd)
        except (DocumentError, LayoutError, ValueError) as e:
            self._error("Cannot add the photo", f"{result.path}: {e}")
            return
        # Frame the input camera (so the first view is the photo), orbiting
        # around the middle of the predicted depths.
        cam = result.camera
        eye = np.asarray(cam.eye, float)
        forward = np.asarray(cam.target, float) - eye
        forward /= max(float(np.linalg.norm(forward)), 1e-12)
        depth = float(np.median((result.cloud.positions - eye) @ forward)) if len(result.cloud) else 1.0
        depth = depth if np.isfinite(depth) and depth > 1e-3 else 1.0
        view = Camera(eye, eye + depth * forward, cam.up, cam.fov_y_deg, cam.width, cam.height)
        cloud = display_cloud(self.document)
        lo, hi = cloud.bounds()
        flo, fhi = robust_bounds(cloud.positions)
        self.viewport.set_scene(cloud, lo, hi, flo, fhi, camera=view)
        if abs(self.viewport.nav.fov_y_deg - self.prefs.fov_y_deg) > 1e-9:
            self.prefs = replace(self.prefs, fov_y_deg=self.viewport.nav.fov_y_deg)
            self.viewport.prefs = self.prefs
            self.render_panel.set_preferences(self.prefs)
        if fresh:
            self.keyframes.clear()
            self.stats_panel.show_scene(result.scene)
            QTimer.singleShot(100, self, lambda s=result.scene: self.scene is s and
                              self.stats_panel.show_histograms(s.histograms))
            self.settings.add_recent_file(result.path)
            self.settings.set_last_folder(result.path.parent)
            self._refresh_recent_menu()
        self._update_counts()
        self._update_title()
        self._sync_checks()
        if result.layout is None:
            note = f"; no layout found ({result.layout_note})" if result.layout_note else "; no layout found"
        elif layout is None:
            note = "; kept the existing layout"
        else:
            note = f", layout with {len(layout)} primitives"
        self.statusBar().showMessage(f"Predicted {len(result.cloud):,} splats from {result.path.name}{note} "
                                     f"in {result.scene.seconds * 1000:.0f} ms", 8000)
        if fresh:
            self.scene_loaded.emit(result.scene)
        self.photo_added.emit(result)

    def reload(self) -> None:
        if self.scene is not None and is_photo(self.scene.path):
            self.statusBar().showMessage("Nothing to reload: this document was predicted from a photo", 5000)
            return
        if self.scene is not None:
            self.open_file(self.scene.path, keep_view=True)

    def _scene_ready(self, scene: LoadedScene) -> None:
        doc = Document([Layer("L1", scene.path.name.split(".")[0] or "splats", scene.cloud)],
                       metadata={"source": str(scene.path)})
        self._show_loaded(scene, doc, project_path=None)

    def _show_loaded(self, scene: LoadedScene, doc: Document, project_path: Path | None) -> None:
        """A loaded document becomes the window's (new history, clean)."""
        self.scene = scene
        self.project_path = project_path
        self.source_path = None if project_path is not None else scene.path
        self._attach_document(doc, History(doc))
        cloud = display_cloud(doc)
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
        self._update_counts()
        if not scene.path.name.endswith(projects.RECOVERY_SUFFIX):
            self.settings.add_recent_file(scene.path)
            self.settings.set_last_folder(scene.path.parent)
        self._refresh_recent_menu()
        self._update_title()
        self._sync_checks()
        self.statusBar().showMessage(
            f"Loaded {scene.path.name}: {len(scene.cloud):,} splats, SH degree {scene.cloud.sh_degree}, "
            f"{scene.loaded.format} in {scene.seconds * 1000:.0f} ms", 8000)
        # Histograms after the first frame is up (building plots costs time).
        QTimer.singleShot(100, self, lambda s=scene: self.scene is s and self.stats_panel.show_histograms(s.histograms))
        self.scene_loaded.emit(scene)

    def _upload_failed(self, message: str) -> None:
        path = self.scene.path if self.scene else None
        self.scene = None
        self.project_path = self.source_path = None
        empty = Document()
        self._attach_document(empty, History(empty))
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
        # Everything that is not deleted (hidden splats too: hiding is a view state).
        job = save_job(self.document.merged_cloud(include_hidden=True), Path(path), self)
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

    def document_name(self) -> str | None:
        if self.project_path is not None:
            return self.project_path.name
        if self.source_path is not None:
            return self.source_path.name
        if self.document.layers or len(self.document.layout):
            return "Untitled"
        return None

    def _update_title(self) -> None:
        name = self.document_name()
        dirty = "*" if not self.history.is_clean else ""
        self.setWindowTitle(f"{name}{dirty} - {APP_NAME}" if name else APP_NAME)

    # ================================================================ document
    def _attach_document(self, doc: Document, history: History) -> None:
        """Make ``doc`` (edited through ``history``) the window's document."""
        old = self.document
        if old is not doc:
            try:
                old.changed.remove(self._document_changed)
            except ValueError:
                pass
        try:
            self.history.changed.remove(self._history_changed)
        except ValueError:
            pass
        if self.autosaver is not None and self.autosaver.history is not history:
            self.autosaver.discard()
        self.document, self.history = doc, history
        if self._document_changed not in doc.changed:
            doc.changed.append(self._document_changed)
        history.changed.append(self._history_changed)
        self.autosaver = projects.Autosaver(history, self.settings.recovery_dir(), self.project_path,
                                            session=self._session, on_error=self._autosave_failed)
        self.layout_selection = []
        self._histogram_live = counts(doc)["live"]  # what the loaded scene's histograms count
        self._layout_changed()
        self.splat_editing.document_attached()
        self._history_changed(history)

    def _document_changed(self, change) -> None:
        if change.kind in ("flags", "splats", "layers"):
            self.viewport.show_cloud(display_cloud(self.document))
            self._update_counts()
            self.splat_editing.document_changed(change)
            if change.kind != "flags" or counts(self.document)["live"] != self._histogram_live:
                self._histogram_timer.start()  # splats edited, deleted or restored: not a mere selection
        elif change.kind == "layout":
            self._layout_changed()

    def _refresh_histograms(self) -> None:
        """Statistics histograms of the document's live splats (visible
        layers, hidden splats included), after edits settle."""
        if self.stats_panel.plots is None or not self.document.layers:
            return
        self._histogram_live = counts(self.document)["live"]
        self.stats_panel.show_histograms(scene_histograms(self.document.merged_cloud(include_hidden=True)))

    def _history_changed(self, history: History) -> None:
        undo, redo = self.action_map["undo"], self.action_map["redo"]
        undo.setEnabled(history.can_undo)
        redo.setEnabled(history.can_redo)
        undo.setText(f"&Undo {history.undo_text}" if history.can_undo else "&Undo")
        redo.setText(f"&Redo {history.redo_text}" if history.can_redo else "&Redo")
        self._update_title()

    def _update_counts(self) -> None:
        c = counts(self.document)
        self.stats_panel.show_counts(c["live"], c["selected"], c["hidden"])

    def push(self, command) -> bool:
        """Run ``command`` through the history; a refused edit (locked
        primitive, bad value) is shown in the status bar, not raised."""
        try:
            self.history.push(command)
        except (LayoutError, ValueError) as e:
            self.statusBar().showMessage(f"Cannot {command.text.lower() or 'edit'}: {e}", 8000)
            return False
        return True

    def undo(self) -> None:
        self.history.undo()

    def redo(self) -> None:
        self.history.redo()

    # ------------------------------------------------------------ unsaved changes
    def maybe_save(self) -> bool:
        """With unsaved changes ask Save / Discard / Cancel; True when the
        caller may go on (saved, discarded or nothing to save)."""
        if self.history.is_clean:
            return True
        if self.headless_errors:
            return True
        name = self.document_name() or "Untitled"
        answer = QMessageBox.warning(
            self, "Unsaved changes", f"Save the changes to {name} before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        if answer == QMessageBox.StandardButton.Discard:
            if self.autosaver is not None:
                self.autosaver.discard()
            return True
        return False

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        if self.job is not None and isinstance(self.job, Job) and self.job.label.startswith("loading"):
            self.job.cancel()
        self.scene = None
        self.project_path = self.source_path = None
        doc = Document()
        self._attach_document(doc, History(doc))
        self.viewport.clear_scene()
        self.stats_panel.clear()
        self._update_title()
        return True

    # ------------------------------------------------------------ projects
    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self.settings.last_folder(),
                                              f"SplatForge project (*{projects.EXTENSION});;All files (*)")
        if path:
            self.open_project(path)

    def open_project(self, path: os.PathLike | str, camera: Camera | None = None, keep_view: bool = False,
                     ask: bool = True, recovered: projects.RecoveryFile | None = None) -> Job | None:
        """Load a ``.sforge`` project on a worker thread (``recovered``: it is
        that recovery file; the document then belongs to its project and
        counts as changed)."""
        if ask and not self.maybe_save():
            return None
        path = Path(path)
        if isinstance(self.job, Job) and self.job.label.startswith("loading"):
            self.job.cancel()
        elif self.job is not None:
            self.cancel_job()
        self.keep_view = keep_view
        self.pending_camera = camera

        def work(progress):
            start = time.perf_counter()
            doc = projects.load_project(path, progress=lambda f: progress(0.9 * f))
            merged = doc.merged_cloud(include_hidden=True)
            stats = merged.statistics() if len(merged) else None
            lo, hi = robust_bounds(merged.positions)
            progress(1.0)
            scene = LoadedScene(path, LoadedSplats(merged, "sforge", str(projects.VERSION)), stats,
                                scene_histograms(merged), lo, hi, time.perf_counter() - start)
            return doc, scene

        job = Job(f"loading {path.name}", work, self)
        job.succeeded.connect(lambda res: self._project_ready(res[0], res[1], recovered))
        job.failed.connect(self._load_failed)
        self._run(job)
        return job

    def _project_ready(self, doc: Document, scene: LoadedScene, recovered: projects.RecoveryFile | None) -> None:
        project = scene.path if recovered is None else recovered.project_path
        if not len(scene.cloud):
            self.scene = None
            self.project_path, self.source_path = project, None
            self._attach_document(doc, History(doc))
            self.viewport.clear_scene()
            self.stats_panel.clear()
        else:
            self._show_loaded(scene, doc, project)
        if recovered is not None:
            source = doc.metadata.get("source") if project is None else None
            self.source_path = Path(source) if isinstance(source, str) else None
            # Recorded as one undoable step, so the recovered work counts as unsaved.
            self.push(SetMetadata("recovered_from", str(recovered.path)))
            projects.discard_recovery(recovered.path)
        if self.scene is None:
            self._update_title()

    def save_project(self) -> bool:
        """Save to the project file (asks for one the first time). True when saved."""
        if self.project_path is None:
            return self.save_project_as_dialog()
        return self.save_project_to(self.project_path)

    def save_project_as_dialog(self) -> bool:
        stem = (self.project_path or self.source_path or Path("untitled")).name.split(".")[0]
        start = str(Path(self.settings.last_folder()) / f"{stem}{projects.EXTENSION}")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start,
                                              f"SplatForge project (*{projects.EXTENSION})")
        if not path:
            return False
        if not path.lower().endswith(projects.EXTENSION):
            path += projects.EXTENSION
        return self.save_project_to(path)

    def save_project_to(self, path: os.PathLike | str) -> bool:
        """Write the document to ``path`` (atomically, on the UI thread: the
        arrays are stored uncompressed, so this is disk speed). True when saved."""
        path = Path(path)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            projects.save_project(self.document, path)
        except FormatError as e:
            self._error("Cannot save project", str(e))
            return False
        finally:
            QApplication.restoreOverrideCursor()
        old_recovery = self.autosaver.path if self.autosaver is not None else None
        self.project_path = path
        self.history.set_clean()
        if self.autosaver is not None:
            self.autosaver.saved(path)
            if old_recovery is not None:
                projects.discard_recovery(old_recovery)
        self.settings.add_recent_file(path)
        self.settings.set_last_folder(path.parent)
        self._refresh_recent_menu()
        self._update_title()
        self.statusBar().showMessage(f"Saved project {path}", 8000)
        return True

    def autosave_now(self) -> Path | None:
        """One autosave tick (the timer calls this); the file written or None."""
        return None if self.autosaver is None else self.autosaver.tick()

    def _autosave_failed(self, error: FormatError) -> None:
        self.statusBar().showMessage(f"Autosave failed: {error}", 10_000)

    def offer_recovery(self) -> bool:
        """At startup: offer the newest recovery file, if any. True when the
        user chose to recover (the project is loading)."""
        found = [r for r in projects.find_recovery(self.settings.recovery_dir()) if r.newer_than_project]
        if not found:
            return False
        rec = found[0]
        name = rec.project_path.name if rec.project_path else "an untitled document"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.saved_at))
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"SplatForge was closed with unsaved changes to {name} (autosaved {when}).\n\nRecover them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        if answer != QMessageBox.StandardButton.Yes:
            projects.discard_recovery(rec.path)
            return False
        return self.open_project(rec.path, ask=False, recovered=rec) is not None

    # ------------------------------------------------------------ splat selection
    def tool_labels(self) -> list[tuple[str, str]]:
        """(key, label) of every tool, Navigate first, in menu order."""
        return [("navigate", "Navigate")] + [(t.key, t.label) for t in self.viewport.tools.values()]

    def show_status(self, message: str, ms: int = 0) -> None:
        """A transient status-bar message (`app.ui.tools.base.ToolHost`)."""
        self.statusBar().showMessage(message, ms)

    def set_tool(self, tool: str) -> None:
        self.viewport.set_tool(tool)
        act = self.action_map.get(f"tool_{tool}")
        if act is not None:
            act.setChecked(True)
        self.brush_spin.setEnabled(tool == "brush")
        for key, actions in self.tool_options.items():
            for act in actions:
                act.setVisible(key == tool)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Tools", self)
        bar.setObjectName("toolsToolbar")
        for key, _ in self.tool_labels():
            bar.addAction(self.action_map[f"tool_{key}"])
        bar.addWidget(QLabel(" Brush "))
        self.brush_spin = QDoubleSpinBox()
        self.brush_spin.setObjectName("brushRadius")
        self.brush_spin.setRange(2.0, 400.0)
        self.brush_spin.setDecimals(0)
        self.brush_spin.setSuffix(" px")
        brush = self.viewport.tools["brush"]
        self.brush_spin.setValue(brush.radius)
        self.brush_spin.setEnabled(False)
        self.brush_spin.valueChanged.connect(lambda v: setattr(brush, "radius", float(v)))
        bar.addWidget(self.brush_spin)
        bar.addWidget(QLabel(" Grid "))
        self.grid_spin = grid_step_box(self.viewport.tools.values())
        bar.addWidget(self.grid_spin)
        draw_settings(self).grid_box = self.grid_spin  # one grid step for the Move tool and the layout tools
        # Each tool's own options (wall size, snapping), shown while it is active.
        self.tool_options: dict[str, list[QAction]] = {}
        for tool in self.viewport.tools.values():
            widgets = tool.option_widgets()
            if widgets:
                self.tool_options[tool.key] = [bar.addSeparator()] + [bar.addWidget(w) for w in widgets]
                for act in self.tool_options[tool.key]:
                    act.setVisible(False)
        bar.addSeparator()
        for key in ("undo", "redo"):
            bar.addAction(self.action_map[key])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.tool_bar = bar

    def _masks(self, pick) -> dict[str, np.ndarray]:
        cam = self.viewport.camera()
        return {l.id: pick(l.cloud.positions, cam) for l in self.document.layers if l.visible and len(l)}

    def _select_rect(self, rect, mode: str) -> None:
        if not self.document.layers:
            return
        self.push(SetSelection(self._masks(lambda p, cam: selection.in_screen_rect(p, cam, rect)), mode))

    def _brush_dab(self, points, radius: float, mode: str, stroke) -> None:
        if not self.document.layers:
            return
        masks = self._masks(lambda p, cam: selection.brush_stroke(p, cam, points, radius))
        self.push(SetSelection(masks, mode, merge_id=stroke))

    def select_all(self) -> None:
        if self.document.layers:
            self.push(SetSelection.all(self.document))

    def select_none(self) -> None:
        if self.document.has_selection():
            self.push(SetSelection.none())

    def select_invert(self) -> None:
        if self.document.layers:
            self.push(SetSelection.inverted(self.document))

    def delete_selected(self) -> None:
        """Delete the selected splats; with none selected, the selected layout primitives."""
        if self.document.has_selection():
            self.push(DeleteSelection())
        elif self.layout_selection:
            self.delete_primitives()

    def hide_selected(self) -> None:
        if self.document.has_selection():
            self.push(HideSelection())

    def unhide_all(self) -> None:
        if any(((l.flags & 2) != 0).any() for l in self.document.layers):
            self.push(UnhideAll())

    # ------------------------------------------------------------ layout
    def _layout_changed(self) -> None:
        layout = self.document.layout
        self.layout_selection = [i for i in self.layout_selection if i in layout]
        self.outliner.set_layout(layout, self.layout_selection)
        self._refresh_layout_view()

    def _refresh_layout_view(self) -> None:
        layout = self.document.layout
        self.viewport.set_layout(layout if len(layout) else None, self.layout_selection)
        one = self.layout_selection[0] if len(self.layout_selection) == 1 else None
        self.properties.show_primitive(layout.get(one) if one is not None else None)

    def set_layout_selection(self, ids: list[str]) -> None:
        """Select layout primitives (view state: not an undo step)."""
        self.layout_selection = [i for i in ids if i in self.document.layout]
        self.outliner.select(self.layout_selection)
        self._refresh_layout_view()

    def _property_edited(self, pid: str, field: str, value, merge_id) -> None:
        self.push(SetPrimitiveProperty(pid, field, value, merge_id=merge_id))

    def toggle_layout(self) -> None:
        self.viewport.set_show_layout(self.action_map["show_layout"].isChecked())

    def propose_layout(self) -> Job | None:
        """Fit floor, walls, ceiling and boxes to the visible splats on a
        worker thread; the result lands as one "Set layout" step."""
        if not self.document.layers:
            self._error("Nothing to fit", "open a scene first")
            return None
        if self.job is not None:
            self._error("Busy", f"wait for '{self.job.label}' to finish or cancel it")
            return None
        cloud = self.document.merged_cloud()
        options = FitOptions(up_hint=tuple(float(v) for v in self.viewport.nav.world_up))

        def work(progress):
            progress(0.05)
            try:
                layout = record_proposal(fit_layout(cloud, options))
            except LayoutFitError as e:
                raise ValueError(str(e)) from None
            progress(1.0)
            return layout

        job = Job("proposing layout", work, self)
        history = self.history
        # Lands only on the document it was fitted to (not on one opened meanwhile).
        job.succeeded.connect(lambda layout: self.history is history and self._layout_proposed(layout))
        job.failed.connect(lambda msg: self._error("Cannot propose a layout", msg))
        self._run(job)
        return job

    def _layout_proposed(self, layout) -> None:
        if self.push(SetLayout(layout)):
            self.statusBar().showMessage(f"Proposed layout: {len(layout)} primitives", 8000)

    def regenerate_appearance(self, steps: int | None = None, photo=None) -> Job | None:
        """Layout > Regenerate Appearance: fit the photo layer's splats on the
        layout to its source photo in a background job, landing as one undo
        step (`app.ui.regenerate`). ``steps`` / ``photo`` skip the dialogs."""
        return start_regenerate(self, steps, photo)

    def add_primitive(self, kind: str) -> str | None:
        """Add a box, floor, wall, cylinder or sphere at the view's centre
        (sizes relative to the viewing distance, upright along the layout's
        up). Returns its id."""
        nav = self.viewport.nav
        d = max(float(nav.distance), 1e-3)
        up = np.asarray(self.document.layout.up, float)
        x = np.cross(up, nav.forward)
        if np.linalg.norm(x) < 1e-6:
            x = np.cross(up, [1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.cross(up, [0.0, 0.0, 1.0])
        rot = frame_from_axes(x, up)
        centre = tuple(float(v) for v in nav.target)
        if kind == "box":
            prim = Box("", "Box", position=centre, rotation=rot, size=(0.2 * d, 0.2 * d, 0.2 * d))
        elif kind == "floor":
            prim = Plane("", "Floor", position=centre, rotation=rot, size=(d, d), thickness=0.02 * d, role="floor")
        elif kind == "wall":
            prim = Wall("", "Wall", position=centre, rotation=rot, length=0.6 * d, height=0.3 * d,
                        thickness=0.02 * d)
        elif kind == "cylinder":
            prim = Cylinder("", "Cylinder", position=centre, rotation=rot, radius=0.1 * d, height=0.3 * d)
        elif kind == "sphere":
            prim = Sphere("", "Sphere", position=centre, rotation=rot, radius=0.1 * d)
        else:
            raise ValueError(f"unknown primitive kind {kind!r}")
        cmd = AddPrimitive(prim)
        if not self.push(cmd):
            return None
        self.set_layout_selection([cmd.primitive_id])
        return cmd.primitive_id

    def delete_primitives(self) -> None:
        if self.layout_selection:
            self.push(RemovePrimitive(list(self.layout_selection)))

    def group_selection(self) -> str | None:
        """Layout > Group (Ctrl+G): the selected primitives into a new group,
        which becomes the selection. Returns its id."""
        if not self.layout_selection:
            self.statusBar().showMessage("Group: select primitives in the Outliner first", 5000)
            return None
        cmd = GroupPrimitives(self.layout_selection)
        if not self.push(cmd):
            return None
        self.set_layout_selection([cmd.group_id])
        return cmd.group_id

    def ungroup_selection(self) -> list[str]:
        """Layout > Ungroup (Ctrl+Shift+G): dissolve the selected groups (one
        undo step); their children become the selection. Returns those ids."""
        layout = self.document.layout
        groups = [i for i in self.layout_selection if isinstance(layout.primitives.get(i), Group)]
        if not groups:
            self.statusBar().showMessage("Ungroup: select a group in the Outliner first", 5000)
            return []
        children = [c for g in groups for c in layout.get(g).children]
        try:
            with self.history.macro("Ungroup"):
                for g in groups:
                    self.history.push(Ungroup(g))
        except LayoutError as e:
            self.statusBar().showMessage(f"Cannot ungroup: {e}", 8000)
            return []
        self.set_layout_selection(children)
        return children

    def export_dialog(self):
        """File -> Export...: preset, budget and size estimate (`app.ui.export_dialog`)."""
        from app.ui.export_dialog import open_export_dialog

        return open_export_dialog(self)

    def export_collider_dialog(self) -> None:
        if not self.document.layout.solids(visible_only=True):
            self._error("Nothing to export", "the layout has no visible primitives (Layout > Propose from Splats)")
            return
        stem = (self.project_path or self.source_path or Path("layout")).name.split(".")[0]
        # The filter picks the format and the engine's up axis (y: Unity, Godot, glTF; z: Unreal, Blender).
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export collider", str(Path(self.settings.last_folder()) / f"{stem}-collider.glb"),
            ";;".join(COLLIDER_FILTERS))
        if path:
            if not path.lower().endswith((".glb", ".obj")):
                path += ".obj" if "OBJ" in chosen else ".glb"
            self.export_collider(path, up="z" if "z up" in chosen else "y")

    def export_collider(self, path: os.PathLike | str, up: str = "y") -> bool:
        """One closed mesh per visible primitive, GLB or OBJ by extension,
        converted to a y-up (or z-up) engine frame like `splatforge collider`."""
        path = Path(path)
        meshes = layout_meshes(self.document.layout)
        rotation = export_rotation(up, self.document.layout.up)
        try:
            if path.suffix.lower() == ".obj":
                write_obj(meshes, path, rotation)
            else:
                write_glb(meshes, path, rotation)
        except (OSError, FormatError) as e:
            self._error("Cannot export collider", f"{path}: {e}")
            return False
        self.statusBar().showMessage(f"Exported {len(meshes)} collider meshes to {path} ({up} up)", 8000)
        return True

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
        self.action_map["regenerate_appearance"].setEnabled(False)  # one job at a time
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
        self.action_map["regenerate_appearance"].setEnabled(self.job is None)
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
            job = video_job(self.document.merged_cloud(), cams, Path(path), options.fps,
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
            self.resizeDocks([self.stats_dock, self.outliner_dock], [440, 220], Qt.Orientation.Horizontal)

    # ================================================================ closing
    def closeEvent(self, event) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.autosave_timer.stop()
        if self.autosaver is not None:
            self.autosaver.discard()
        self.wait_for_jobs()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.save_preferences(self.prefs)
        self.settings.sync()
        self.viewport.release_gl()
        super().closeEvent(event)

