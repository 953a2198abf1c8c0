"""File -> Export...: write the scene for a game engine or viewer.

`ExportDialog` asks for a preset (`editor.export_presets`), a splat budget
(slider on a log scale plus a spin box, 1 .. the scene's count), how the
budget is met, the SH degree, whether a layout collider goes along, and the
output file; a summary line shows the resulting splat count and the file
size before anything is written. The size comes from `editor.exporting.
estimate_export` (exact for PLY and .splat; for compressed formats a real
encode of a sample, marked with "≈"), run on a worker thread after the
settings have been still for `ESTIMATE_DELAY_MS`, so the dialog never stalls.

`open_export_dialog(window)` shows the dialog for a `MainWindow` (without
blocking); OK runs `start_export`: the export is a `app.ui.jobs.Job` with
progress and Cancel in the window's status bar, errors in the one-line error
dialog and the result (path, count, size) in the status bar. Writes are
atomic: a cancelled or failed export leaves no file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.ui.jobs import Job
from editor import exporting
from editor.export_presets import PRESETS
from editor.formats.base import FormatError
from editor.model.splat_cloud import SplatCloud

ESTIMATE_DELAY_MS = 250
SLIDER_STEPS = 1000
REDUCE_LABELS = (
    ("auto", "Auto (keep the most important at >= 70%, else merge)"),
    ("merge", "Merge neighbours"),
    ("importance", "Keep the most important (opacity x area)"),
)


@dataclass(frozen=True)
class ExportSettings:
    """What the dialog asks for."""

    preset: str
    path: Path
    max_splats: int
    reduce: str
    sh_degree: int
    collider: bool


class ExportDialog(QDialog):
    """See the module docstring. ``cloud``: the splats to export (the
    document's visible, live splats); ``layout``: the document's layout or
    None (then the collider option is hidden); ``stem`` and ``folder`` make
    the default output path."""

    estimate_ready = Signal(object)  # ExportEstimate (or None when it failed)

    def __init__(self, parent: QWidget | None, cloud: SplatCloud, layout=None, stem: str = "scene",
                 folder: Path | str | None = None, preset: str = "web"):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        self.cloud = cloud
        self.layout_ = layout
        self.stem = stem or "scene"
        self.folder = Path(folder) if folder else Path.home()
        self.count = len(cloud)
        self.estimate: exporting.ExportEstimate | None = None
        self.estimate_error: str | None = None
        self._estimate_job: Job | None = None
        self._estimate_key = None  # the settings the running estimate is for
        self._closing = False
        self._shown_extension = ""

        self.preset = QComboBox()
        self.preset.setObjectName("exportPreset")
        for name, p in PRESETS.items():
            self.preset.addItem(f"{name} - {p.target}", name)
            self.preset.setItemData(self.preset.count() - 1, f"{p.reader}\nAxes {p.frame}, {p.up}. {p.notes}",
                                    Qt.ItemDataRole.ToolTipRole)
        self.target = QLabel()
        self.target.setWordWrap(True)

        top = max(1, self.count)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("exportBudgetSlider")
        self.slider.setRange(0, SLIDER_STEPS)
        self.budget = QSpinBox()
        self.budget.setObjectName("exportBudget")
        self.budget.setRange(1, top)
        self.budget.setGroupSeparatorShown(True)
        self.budget.setSuffix(f" of {self.count:,}")
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.slider, 1)
        budget_row.addWidget(self.budget)

        self.reduce = QComboBox()
        self.reduce.setObjectName("exportReduce")
        for key, label in REDUCE_LABELS:
            self.reduce.addItem(label, key)
        self.sh = QSpinBox()
        self.sh.setObjectName("exportShDegree")
        self.sh.setRange(0, cloud.sh_degree)
        self.collider = QCheckBox("Write the layout's collider next to it (<name>_collider.glb)")
        self.collider.setObjectName("exportCollider")
        has_layout = self.has_layout = layout is not None and bool(_solids(layout))
        self.collider.setChecked(has_layout)
        self.collider.setVisible(has_layout)

        self.path = QLineEdit()
        self.path.setObjectName("exportPath")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)

        self.summary = QLabel()
        self.summary.setObjectName("exportSummary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout(self)
        form.addRow("Preset", self.preset)
        form.addRow("", self.target)
        form.addRow("Max splats", budget_row)
        form.addRow("Reduce by", self.reduce)
        form.addRow("SH degree", self.sh)
        if has_layout:
            form.addRow("", self.collider)
        form.addRow("File", path_row)
        form.addRow("Result", self.summary)
        form.addRow(self.buttons)
        self.resize(640, self.sizeHint().height())

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ESTIMATE_DELAY_MS)
        self._timer.timeout.connect(self._start_estimate)

        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.slider.valueChanged.connect(self._slider_moved)
        self.budget.valueChanged.connect(self._budget_changed)
        self.reduce.currentIndexChanged.connect(lambda _=0: self._settings_changed())
        self.sh.valueChanged.connect(lambda _=0: self._settings_changed())
        self.path.textChanged.connect(self._path_edited)
        i = self.preset.findData(preset)
        self.preset.setCurrentIndex(max(0, i))
        self._preset_changed()

    # ---------------------------------------------------------------- settings
    def preset_name(self) -> str:
        return self.preset.currentData()

    def codec(self):
        return exporting.pick_codec(PRESETS[self.preset_name()])

    def extension(self) -> str:
        try:
            return self.codec().extensions[0]
        except FormatError:
            return ""

    def set_budget(self, n: int) -> None:
        self.budget.setValue(int(n))

    def settings(self) -> ExportSettings:
        return ExportSettings(self.preset_name(), self.output_path(), self.budget.value(),
                              self.reduce.currentData(), self.sh.value(),
                              self.has_layout and self.collider.isChecked())

    def output_path(self) -> Path:
        """The chosen path, with the preset's extension added when missing."""
        text = self.path.text().strip()
        path = Path(text).expanduser() if text else self.folder / f"{self.stem}{self.extension()}"
        ext = self.extension()
        if ext and self._own_extension(path) is None:
            path = path.with_name(path.name + ext)
        return path

    def _own_extension(self, path: Path) -> str | None:
        """Which of the codec's file extensions ``path`` ends in (glTF: .glb or .gltf)."""
        try:
            exts = [e for e in self.codec().extensions if e.startswith(".")]
        except FormatError:
            return None
        return next((e for e in sorted(exts, key=len, reverse=True) if path.name.lower().endswith(e)), None)

    def _path_edited(self, _text: str = "") -> None:
        if self._output_extension() != self._shown_extension:  # e.g. .glb -> .gltf: another size
            self._settings_changed()

    def _output_extension(self) -> str:
        return self._own_extension(self.output_path()) or self.extension()

    def _preset_changed(self, _=None) -> None:
        p = PRESETS[self.preset_name()]
        self.target.setText(f"{' or '.join(p.formats)}; axes {p.frame}, {p.up}. {p.notes}".strip())
        self.budget.setValue(exporting.default_budget(self.count, p))
        self.sh.setValue(min(self.cloud.sh_degree, p.sh_degree))
        self._swap_extension()
        self._settings_changed()

    def _swap_extension(self) -> None:
        ext = self.extension()
        text = self.path.text().strip()
        if not text:
            self.path.setText(str(self.folder / f"{self.stem}{ext}"))
            return
        path = Path(text)
        if self._own_extension(path) is not None:
            return
        name = path.name
        for e in sorted({e for c in _codecs() for e in c.extensions}, key=len, reverse=True):
            if name.lower().endswith(e):
                name = name[: -len(e)]
                break
        self.path.setText(str(path.with_name(name + ext)))

    def _slider_moved(self, position: int) -> None:
        value = exporting.log_value(position, self.count, SLIDER_STEPS)
        if exporting.log_position(self.budget.value(), self.count, SLIDER_STEPS) != position:
            self.budget.blockSignals(True)
            self.budget.setValue(value)
            self.budget.blockSignals(False)
            self._settings_changed()

    def _budget_changed(self, value: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(exporting.log_position(value, self.count, SLIDER_STEPS))
        self.slider.blockSignals(False)
        self._settings_changed()

    def _browse(self) -> None:
        ext = self.extension()
        path, _ = QFileDialog.getSaveFileName(self, "Export to", str(self.output_path()),
                                              f"{self.preset_name()} export (*{ext})")
        if path:
            self.path.setText(path)
            self._swap_extension()

    # ---------------------------------------------------------------- estimate
    def _key(self):
        return (self.preset_name(), self.budget.value(), self.reduce.currentData(), self.sh.value(),
                self._output_extension())

    def _settings_changed(self) -> None:
        self._shown_extension = self._output_extension()
        self.estimate = None
        self.summary.setText(self._summary_text(None))
        self._timer.start()

    def _start_estimate(self) -> None:
        if self._closing:
            return
        if self._estimate_job is not None:  # one at a time: restart when it stops
            self._estimate_job.cancel()
            return
        key = self._key()
        preset, budget, reduce, degree, extension = key
        cloud = self.cloud

        def work(progress):
            return exporting.estimate_export(cloud, preset, budget, degree, reduce, progress=progress,
                                             extension=extension)

        job = Job("estimating the export", work, self)
        job.succeeded.connect(lambda est, k=key: self._estimated(k, est))
        job.failed.connect(lambda msg, k=key: self._estimate_failed(k, msg))
        job.done.connect(lambda j=job: self._estimate_done(j))
        self._estimate_job, self._estimate_key = job, key
        # the window's wait_for_jobs (on quit) then stops it too: a QThread must
        # never be destroyed (with this dialog, the window's child) while it runs
        owner_jobs = getattr(self.parent(), "_jobs", None)
        if isinstance(owner_jobs, set):
            owner_jobs.add(job)
            job.done.connect(lambda j=job, s=owner_jobs: s.discard(j))
        job.start()

    def _estimated(self, key, estimate) -> None:
        if not self._closing and key == self._key():
            self.estimate, self.estimate_error = estimate, None
            self.summary.setText(self._summary_text(estimate))
            self.estimate_ready.emit(estimate)

    def _estimate_failed(self, key, message: str) -> None:
        if not self._closing and key == self._key():
            self.estimate, self.estimate_error = None, message
            self.summary.setText(f"cannot estimate: {message}")
            self.estimate_ready.emit(None)

    def _estimate_done(self, job: Job) -> None:
        if self._closing:  # done() has waited for it already
            return
        job.wait()
        job.deleteLater()
        if self._estimate_job is job:
            self._estimate_job = None
        if self._estimate_key != self._key() and not self._timer.isActive():
            self._start_estimate()  # the settings changed while it ran

    def _summary_text(self, estimate) -> str:
        if estimate is None:
            budget = min(self.budget.value(), self.count)
            return f"{budget:,} of {self.count:,} splats, SH {self.sh.value()} - estimating the size..."
        approx = "" if estimate.exact else "≈ "
        count = f"{estimate.count:,}" if estimate.count_exact else f"≈ {estimate.count:,}"
        return (f"{count} of {self.count:,} splats, SH {self.sh.value()}, "
                f"{approx}{exporting.format_size(estimate.size)} ({estimate.codec})")

    def wait_for_estimate(self, ms: int = 30_000) -> None:
        """Stop any estimate in flight (used when the dialog goes away)."""
        job = self._estimate_job
        if job is not None:
            job.cancel()
            job.wait(ms)

    def done(self, result: int) -> None:  # accept / reject / close all end here
        self._closing = True
        self._timer.stop()
        self.wait_for_estimate()
        super().done(result)


def _codecs():
    from editor.formats.registry import codecs

    return codecs()


def _solids(layout):
    try:
        return layout.solids(visible_only=True)
    except AttributeError:
        return list(layout) if layout is not None else []


# ---------------------------------------------------------------- window glue
def window_scene(window):
    """(cloud, layout or None, stem, folder) of what a `MainWindow` shows: its
    document's visible, live splats (or, in a window without a document, the
    loaded scene) and the document's layout."""
    doc = getattr(window, "document", None)
    if doc is not None and hasattr(doc, "merged_cloud"):
        cloud, layout = doc.merged_cloud(), getattr(doc, "layout", None)
    else:
        scene = getattr(window, "scene", None)
        cloud, layout = (scene.cloud if scene is not None else SplatCloud.empty()), None
    source = getattr(window, "project_path", None) or getattr(window, "source_path", None) or \
        getattr(getattr(window, "scene", None), "path", None)
    stem = Path(source).name.split(".")[0] if source else "scene"
    try:
        folder = Path(window.settings.last_folder())
    except Exception:  # noqa: BLE001 - settings without a last folder
        folder = Path(source).parent if source else Path.home()
    return cloud, layout, stem, folder


def open_export_dialog(window) -> ExportDialog | None:
    """Show the export dialog for ``window`` (non-blocking); OK starts the
    export job. None (and an error message) when there is nothing to export."""
    cloud, layout, stem, folder = window_scene(window)
    if len(cloud) == 0:
        window._error("Nothing to export", "open a scene with visible splats first")
        return None
    dialog = ExportDialog(window, cloud, layout, stem, folder)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(lambda d=dialog: start_export(window, d.settings(), cloud, layout))
    window.export_dialog_widget = dialog
    dialog.open()
    return dialog


def export_job(cloud: SplatCloud, settings: ExportSettings, layout=None, parent=None) -> Job:
    """A job writing ``cloud`` (and, with ``settings.collider``, the layout's
    collider) as ``settings`` say; succeeds with an `ExportResult`."""

    def work(progress):
        return exporting.export_scene(cloud, settings.path, settings.preset, settings.max_splats,
                                      settings.sh_degree, settings.reduce, progress,
                                      collider=settings.collider, layout=layout if settings.collider else None)

    return Job(f"exporting {settings.path.name}", work, parent)


def start_export(window, settings: ExportSettings, cloud: SplatCloud | None = None, layout=None) -> Job | None:
    """Run an export of ``window``'s scene as a job (progress and Cancel in
    the status bar). None when another job is running or nothing to export."""
    if getattr(window, "job", None) is not None:
        window._error("Busy", f"wait for '{window.job.label}' to finish or cancel it")
        return None
    if cloud is None:
        cloud, layout, _, _ = window_scene(window)
    if len(cloud) == 0:
        window._error("Nothing to export", "open a scene with visible splats first")
        return None
    job = export_job(cloud, settings, layout, window)

    def succeeded(result: exporting.ExportResult) -> None:
        kept = f"{result.count:,} splats" + (f" (of {result.full_count:,})" if result.count != result.full_count else "")
        extra = f" + collider {result.collider.name}" if result.collider is not None else ""
        window.statusBar().showMessage(
            f"Exported {result.path}: {kept}, SH {result.sh_degree}, {exporting.format_size(result.size)}{extra}",
            15_000)
        try:
            window.settings.set_last_folder(str(result.path.parent))
        except Exception:  # noqa: BLE001 - settings without a last folder
            pass

    job.succeeded.connect(succeeded)
    job.failed.connect(lambda msg: window._error("Cannot export", msg))
    window._run(job)
    return job
