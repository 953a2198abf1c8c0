"""Edit → Recolour Selection…: tint colour, brightness and saturation.

The dialog only collects the three values of `editor.commands.splat_edits.Recolour`
and says when they change (``changed``); the window previews the result in
the viewport without touching the document and pushes one ``Recolour`` step
on OK (`app.ui.splat_editing`).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class RecolourDialog(QDialog):
    """Non-blocking (window-modal, opened with ``open()``): read `values`
    after ``accepted``. ``preview`` says whether the viewport should show
    the result while the dialog is up."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, selected: int = 0):
        super().__init__(parent)
        self.setObjectName("recolourDialog")
        self.setWindowTitle("Recolour Selection")
        self._tint = QColor(255, 255, 255)
        self.tint_button = QPushButton()
        self.tint_button.setObjectName("recolourTint")
        self.tint_button.setToolTip("Multiply the colour by this tint (white: no tint)")
        self.tint_button.clicked.connect(self._pick_tint)
        reset = QPushButton("White")
        reset.setObjectName("recolourTintReset")
        reset.clicked.connect(lambda: self.set_tint(QColor(255, 255, 255)))
        tint_row = QHBoxLayout()
        tint_row.addWidget(self.tint_button, 1)
        tint_row.addWidget(reset)
        self.brightness = self._spin("recolourBrightness", 0.0, 4.0, "Multiply the colour (1: unchanged)")
        self.saturation = self._spin("recolourSaturation", 0.0, 4.0,
                                     "0: grey, 1: unchanged, above 1: more saturated")
        self.preview_box = QCheckBox("Preview in the viewport")
        self.preview_box.setObjectName("recolourPreview")
        self.preview_box.setChecked(True)
        self.preview_box.toggled.connect(lambda _on: self.changed.emit())
        form = QFormLayout()
        form.addRow("Tint", tint_row)
        form.addRow("Brightness", self.brightness)
        form.addRow("Saturation", self.saturation)
        form.addRow("", self.preview_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)
        if selected:
            self.setWindowTitle(f"Recolour {selected:,} Selected Splats")
        self._show_tint()

    def _spin(self, name: str, lo: float, hi: float, tip: str) -> QDoubleSpinBox:
        sb = QDoubleSpinBox()
        sb.setObjectName(name)
        sb.setRange(lo, hi)
        sb.setDecimals(2)
        sb.setSingleStep(0.05)
        sb.setValue(1.0)
        sb.setToolTip(tip)
        sb.valueChanged.connect(lambda _v: self.changed.emit())
        return sb

    def _pick_tint(self) -> None:
        colour = QColorDialog.getColor(self._tint, self, "Tint colour")
        if colour.isValid():
            self.set_tint(colour)

    def _show_tint(self) -> None:
        c = self._tint
        self.tint_button.setText(c.name())
        text = "#000" if c.lightness() > 128 else "#fff"
        self.tint_button.setStyleSheet(f"background: {c.name()}; color: {text};")

    def set_tint(self, colour: QColor) -> None:
        if colour != self._tint:
            self._tint = QColor(colour)
            self._show_tint()
            self.changed.emit()

    @property
    def preview(self) -> bool:
        return self.preview_box.isChecked()

    def values(self) -> tuple[np.ndarray, float, float]:
        """(tint RGB (3,) in 0..1, brightness, saturation), as `Recolour` takes them."""
        t = self._tint
        return (np.array([t.redF(), t.greenF(), t.blueF()]), float(self.brightness.value()),
                float(self.saturation.value()))

    def is_identity(self) -> bool:
        tint, brightness, saturation = self.values()
        return bool(np.all(tint == 1.0)) and brightness == 1.0 and saturation == 1.0
