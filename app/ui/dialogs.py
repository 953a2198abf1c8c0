"""Dialogs: error reports, the keyboard-shortcut list, capture settings.

Errors are shown with `show_error`, which opens a window-modal message box
without blocking (``open()`` rather than ``exec()``), so the event loop (and
tests) keep running while it is up.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.shortcuts import ACTION_SHORTCUTS, VIEWPORT_BINDINGS


def show_error(parent: QWidget | None, title: str, message: str, detail: str = "") -> QMessageBox:
    """A non-blocking error box. ``message`` is the one-line problem (for a
    file: "PATH: what is wrong"); ``detail`` optional extra text."""
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    if detail:
        box.setInformativeText(detail)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def _native(seq: str) -> str:
    return QKeySequence(seq).toString(QKeySequence.SequenceFormat.NativeText) or seq


class ShortcutsDialog(QDialog):
    """Help -> Keyboard Shortcuts: every action shortcut and viewport binding.
    ``labels`` maps action ids to menu texts (defaults to the description)."""

    def __init__(self, parent: QWidget | None = None, labels: dict[str, str] | None = None):
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        rows = [(" / ".join(_native(k) for k in keys), desc) for _, (keys, desc) in ACTION_SHORTCUTS.items()]
        rows += list(VIEWPORT_BINDINGS)
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for i, (keys, desc) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(keys))
            self.table.setItem(i, 1, QTableWidgetItem(desc))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 640)

    def listed_keys(self) -> set[str]:
        """Every key sequence shown (portable text), for tests."""
        out = set()
        for i in range(self.table.rowCount()):
            for part in self.table.item(i, 0).text().split(" / "):
                out.add(QKeySequence(part, QKeySequence.SequenceFormat.NativeText).toString())
        return out


class SizeDialog(QDialog):
    """Asks for an image size (screenshot at a chosen resolution)."""

    def __init__(self, parent: QWidget | None, width: int, height: int, title: str = "Screenshot size"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.w = _spin(16, 8192, width)
        self.h = _spin(16, 8192, height)
        form = QFormLayout(self)
        form.addRow("Width (px)", self.w)
        form.addRow("Height (px)", self.h)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen_size(self) -> tuple[int, int]:
        return self.w.value(), self.h.value()


@dataclass
class VideoOptions:
    """What the video dialog asks for."""

    mode: str = "turntable"  # "turntable" or "path"
    seconds: float = 6.0
    fps: int = 30
    width: int = 1280
    height: int = 720
    degrees: float = 360.0

    @property
    def frames(self) -> int:
        return max(2, int(round(self.seconds * self.fps)))


class VideoDialog(QDialog):
    """Video settings: length, frame rate, resolution and (turntable) angle."""

    def __init__(self, parent: QWidget | None, options: VideoOptions, keyframes: int = 0):
        super().__init__(parent)
        self.setWindowTitle("Turntable video" if options.mode == "turntable" else "Camera-path video")
        self.mode = QComboBox()
        self.mode.addItem("Turntable around the target", "turntable")
        self.mode.addItem(f"Camera path through {keyframes} keyframe(s)", "path")
        self.mode.setCurrentIndex(0 if options.mode == "turntable" else 1)
        if keyframes < 2:
            self.mode.model().item(1).setEnabled(False)
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, 600.0)
        self.seconds.setValue(options.seconds)
        self.seconds.setSuffix(" s")
        self.fps = _spin(1, 120, options.fps)
        self.w = _spin(16, 7680, options.width)
        self.h = _spin(16, 4320, options.height)
        self.degrees = QDoubleSpinBox()
        self.degrees.setRange(-3600.0, 3600.0)
        self.degrees.setValue(options.degrees)
        self.degrees.setSuffix(" deg")
        self.note = QLabel("MP4 (H.264). Width and height are rounded to even numbers.")
        form = QFormLayout(self)
        form.addRow("Camera", self.mode)
        form.addRow("Length", self.seconds)
        form.addRow("Frames per second", self.fps)
        form.addRow("Width (px)", self.w)
        form.addRow("Height (px)", self.h)
        form.addRow("Turntable angle", self.degrees)
        form.addRow(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> VideoOptions:
        return VideoOptions(
            mode=self.mode.currentData(),
            seconds=self.seconds.value(),
            fps=self.fps.value(),
            width=self.w.value() // 2 * 2,
            height=self.h.value() // 2 * 2,
            degrees=self.degrees.value(),
        )


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(int(min(max(value, lo), hi)))
    return s
