"""The Render panel: SH degree used, splat scale, interaction budget,
background colour, debug views and field of view."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.ui.settings import Preferences

DEBUG_VIEWS = (("splats", "Gaussian splats"), ("ellipses", "Ellipse outlines"), ("points", "Centre points"))
BACKGROUNDS = (("Black", (0.0, 0.0, 0.0)), ("Grey", (0.5, 0.5, 0.5)), ("White", (1.0, 1.0, 1.0)))


class RenderPanel(QWidget):
    """Edits a `Preferences`; emits ``changed(Preferences)`` on every edit."""

    changed = Signal(object)

    def __init__(self, prefs: Preferences, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("renderPanel")
        self._prefs = prefs
        self._updating = False

        self.sh_degree = QSpinBox()
        self.sh_degree.setRange(0, 3)
        self.sh_degree.setToolTip("Highest spherical-harmonic degree used (view-dependent colour); "
                                  "the scene's own degree caps it")
        self.splat_scale = QDoubleSpinBox()
        self.splat_scale.setRange(0.05, 10.0)
        self.splat_scale.setSingleStep(0.1)
        self.splat_scale.setDecimals(2)
        self.splat_scale.setToolTip("Multiplier on every splat's size")
        self.budget = QSpinBox()
        self.budget.setRange(0, 100_000_000)
        self.budget.setSingleStep(25_000)
        self.budget.setSpecialValueText("automatic")
        self.budget.setToolTip("Splats drawn while the camera moves (the most important first); "
                               "a full-quality frame follows when it stops. 0 = adapt to the frame time")
        self.fov = QDoubleSpinBox()
        self.fov.setRange(5.0, 150.0)
        self.fov.setSuffix(" deg")
        self.fov.setDecimals(1)
        self.fov.setToolTip("Vertical field of view")
        self.photo_fov = QDoubleSpinBox()
        self.photo_fov.setObjectName("photoFov")
        self.photo_fov.setRange(10.0, 120.0)
        self.photo_fov.setSuffix(" deg")
        self.photo_fov.setDecimals(1)
        self.photo_fov.setToolTip("Vertical field of view assumed for a dropped photo (File > New from Photo); "
                                  "wider makes the predicted scene deeper and narrower")
        self.debug_view = QComboBox()
        for key, label in DEBUG_VIEWS:
            self.debug_view.addItem(label, key)
        self.background = QPushButton()
        self.background.setToolTip("Background colour")
        self.background.clicked.connect(self._pick_background)
        bg_row = QHBoxLayout()
        bg_row.addWidget(self.background, 1)
        for name, rgb in BACKGROUNDS:
            b = QPushButton(name)
            b.setObjectName(f"background{name}")
            b.clicked.connect(lambda _=False, rgb=rgb: self._set_background(rgb))
            bg_row.addWidget(b)

        form = QFormLayout(self)
        form.addRow("SH degree", self.sh_degree)
        form.addRow("Splat scale", self.splat_scale)
        form.addRow("Moving budget", self.budget)
        form.addRow("Field of view", self.fov)
        form.addRow("Render mode", self.debug_view)
        form.addRow("Background", bg_row)
        form.addRow("Photo field of view", self.photo_fov)

        self.set_preferences(prefs)
        self.sh_degree.valueChanged.connect(self._edited)
        self.splat_scale.valueChanged.connect(self._edited)
        self.budget.valueChanged.connect(self._edited)
        self.fov.valueChanged.connect(self._edited)
        self.photo_fov.valueChanged.connect(self._edited)
        self.debug_view.currentIndexChanged.connect(self._edited)

    def preferences(self) -> Preferences:
        return self._prefs

    def set_preferences(self, prefs: Preferences) -> None:
        """Show ``prefs`` without emitting ``changed``."""
        self._updating = True
        try:
            self._prefs = prefs
            self.sh_degree.setValue(prefs.sh_degree)
            self.splat_scale.setValue(prefs.splat_scale)
            self.budget.setValue(prefs.interaction_budget)
            self.fov.setValue(prefs.fov_y_deg)
            self.photo_fov.setValue(prefs.photo_fov_deg)
            i = self.debug_view.findData(prefs.debug_view)
            self.debug_view.setCurrentIndex(max(i, 0))
            self._show_background(prefs.background)
        finally:
            self._updating = False

    def set_available_views(self, keys: set[str]) -> None:
        """Disable render modes the renderer does not offer."""
        model = self.debug_view.model()
        for i in range(self.debug_view.count()):
            model.item(i).setEnabled(self.debug_view.itemData(i) in keys)

    def _edited(self, *_):
        if self._updating:
            return
        self._prefs = replace(
            self._prefs,
            sh_degree=self.sh_degree.value(),
            splat_scale=self.splat_scale.value(),
            interaction_budget=self.budget.value(),
            fov_y_deg=self.fov.value(),
            photo_fov_deg=self.photo_fov.value(),
            debug_view=self.debug_view.currentData(),
        )
        self.changed.emit(self._prefs)

    def _show_background(self, rgb) -> None:
        c = QColor.fromRgbF(*rgb)
        text = "#000000" if sum(rgb) > 1.5 else "#ffffff"
        self.background.setText(c.name())
        self.background.setStyleSheet(f"background-color: {c.name()}; color: {text};")

    def _set_background(self, rgb) -> None:
        self._prefs = replace(self._prefs, background=tuple(float(x) for x in rgb))
        self._show_background(self._prefs.background)
        self.changed.emit(self._prefs)

    def _pick_background(self) -> None:
        c = QColorDialog.getColor(QColor.fromRgbF(*self._prefs.background), self, "Background colour")
        if c.isValid():
            self._set_background((c.redF(), c.greenF(), c.blueF()))
