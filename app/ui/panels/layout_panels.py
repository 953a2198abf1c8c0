"""The layout's Outliner (list of primitives, selection) and Properties
(numeric entry for the selected primitive).

Neither panel changes the document: the outliner reports which primitives
the user selected (`selection_changed`), the properties panel reports edits
(`edited(pid, field, value, merge_id)`) and the window turns them into
commands. ``merge_id`` stays the same while one field is changed repeatedly
(spin-box arrows, wheel, dragging), so such a run is one undo step; finishing
the edit (Enter, focus change) or showing another primitive starts a new one.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from editor.model.layout import MIN_SIZE, Layout, Primitive, Solid, quat_from_matrix, quat_to_matrix

#: Numeric fields shown for solids (besides position and rotation), in order.
_DIMENSIONS = ("size", "length", "height", "thickness", "radius")
_LIMIT = 1e7


def euler_from_quat(q) -> tuple[float, float, float]:
    """Degrees (a, b, c) with R = Rx(a) Ry(b) Rz(c) for the wxyz quaternion ``q``."""
    r = quat_to_matrix(q)
    b = math.asin(max(-1.0, min(1.0, float(r[0, 2]))))
    if abs(r[0, 2]) < 1.0 - 1e-9:
        a = math.atan2(-r[1, 2], r[2, 2])
        c = math.atan2(-r[0, 1], r[0, 0])
    else:  # gimbal lock: fold c into a
        a = math.atan2(r[2, 1], r[1, 1])
        c = 0.0
    return tuple(math.degrees(v) for v in (a, b, c))


def quat_from_euler(degrees) -> tuple[float, float, float, float]:
    """wxyz quaternion of R = Rx(a) Ry(b) Rz(c), angles in degrees."""
    a, b, c = (math.radians(float(v)) for v in degrees)
    ca, sa, cb, sb, cc, sc = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(c), math.sin(c)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return quat_from_matrix(rx @ ry @ rz)


class OutlinerPanel(QWidget):
    """The layout's primitives in display order; multi-selection."""

    selection_changed = Signal(list)  # ids

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("outlinerPanel")
        self.list = QListWidget()
        self.list.setObjectName("outliner")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemSelectionChanged.connect(self._selection)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.list)

    def ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def set_layout(self, layout: Layout, selected: list[str]) -> None:
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for p in layout:
                label = f"{p.name or p.id}  [{p.TYPE}]" + ("" if p.visible else "  (hidden)")
                item = QListWidgetItem(label)
                item.setData(Qt.ItemDataRole.UserRole, p.id)
                item.setToolTip(p.id)
                self.list.addItem(item)
                item.setSelected(p.id in selected)
        finally:
            self.list.blockSignals(False)

    def select(self, ids: list[str]) -> None:
        self.list.blockSignals(True)
        try:
            for i in range(self.list.count()):
                item = self.list.item(i)
                item.setSelected(item.data(Qt.ItemDataRole.UserRole) in ids)
        finally:
            self.list.blockSignals(False)

    def _selection(self) -> None:
        self.selection_changed.emit([i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()])


class PropertiesPanel(QWidget):
    """Name, visibility, position, rotation (XYZ Euler degrees) and the
    dimensions of one primitive."""

    edited = Signal(str, str, object, object)  # pid, field, value, merge_id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("propertiesPanel")
        self.prim: Primitive | None = None
        self._epoch = 0
        self._key = None  # (id, type, fields) the form was built for
        self.spins: dict[str, list[QDoubleSpinBox]] = {}
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel("Select one primitive in the Outliner")
        self.title.setObjectName("propertiesTitle")
        self.title.setWordWrap(True)
        self.outer.addWidget(self.title)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.outer.addWidget(self.form_host)
        self.outer.addStretch(1)
        self.name_edit: QLineEdit | None = None
        self.visible_box: QCheckBox | None = None

    # ------------------------------------------------------------ building
    def show_primitive(self, prim: Primitive | None) -> None:
        """Show ``prim`` (None: nothing). Rebuilds the form only when the
        primitive or its type changed; otherwise updates the numbers."""
        if prim is None or self.prim is None or prim.id != self.prim.id:
            self._epoch += 1
        self.prim = prim
        key = None if prim is None else (prim.id, prim.TYPE, tuple(_fields(prim)))
        if key != self._key:
            self._build(prim)
            self._key = key
        self._fill(prim)

    def _build(self, prim: Primitive | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.spins = {}
        self.name_edit = self.visible_box = None
        if prim is None:
            self.title.setText("Select one primitive in the Outliner")
            return
        self.title.setText(f"{prim.TYPE} {prim.id}")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("prop_name")
        self.name_edit.editingFinished.connect(self._name_done)
        self.form.addRow("Name", self.name_edit)
        self.visible_box = QCheckBox()
        self.visible_box.setObjectName("prop_visible")
        self.visible_box.toggled.connect(lambda on: self._emit("visible", bool(on), None))
        self.form.addRow("Visible", self.visible_box)
        if isinstance(prim, Solid):
            for field, n in _fields(prim):
                row = QHBoxLayout()
                boxes = []
                for i in range(n):
                    sb = QDoubleSpinBox()
                    sb.setObjectName(f"prop_{field}_{i}")
                    sb.setDecimals(4)
                    sb.setKeyboardTracking(False)
                    if field == "rotation":
                        sb.setRange(-180.0, 180.0)
                        sb.setSingleStep(5.0)
                        sb.setWrapping(True)
                    elif field == "position":
                        sb.setRange(-_LIMIT, _LIMIT)
                        sb.setSingleStep(0.05)
                    else:
                        sb.setRange(MIN_SIZE, _LIMIT)
                        sb.setSingleStep(0.05)
                    sb.valueChanged.connect(lambda _v, f=field: self._spin_changed(f))
                    sb.editingFinished.connect(self._finish_run)
                    row.addWidget(sb)
                    boxes.append(sb)
                self.spins[field] = boxes
                label = {"rotation": "Rotation (deg)"}.get(field, field.capitalize())
                self.form.addRow(label, row)

    def _fill(self, prim: Primitive | None) -> None:
        if prim is None:
            return
        widgets = [w for boxes in self.spins.values() for w in boxes] + [self.name_edit, self.visible_box]
        for w in widgets:
            w.blockSignals(True)
        try:
            self.name_edit.setText(prim.name)
            self.visible_box.setChecked(prim.visible)
            for field, boxes in self.spins.items():
                values = euler_from_quat(prim.rotation) if field == "rotation" else _values(prim, field)
                for sb, v in zip(boxes, values):
                    sb.setValue(float(v))
                    sb.setEnabled(not prim.locked)
        finally:
            for w in widgets:
                w.blockSignals(False)

    # ------------------------------------------------------------ edits
    def _merge_id(self, field: str):
        return ("properties", self.prim.id if self.prim else "", field, self._epoch)

    def _finish_run(self) -> None:
        self._epoch += 1

    def _emit(self, field: str, value, merge_id) -> None:
        if self.prim is not None:
            self.edited.emit(self.prim.id, field, value, merge_id)

    def _name_done(self) -> None:
        if self.prim is not None and self.name_edit is not None and self.name_edit.text() != self.prim.name:
            self._emit("name", self.name_edit.text(), None)

    def _spin_changed(self, field: str) -> None:
        if self.prim is None:
            return
        values = [sb.value() for sb in self.spins[field]]
        if field == "rotation":
            value = quat_from_euler(values)
        elif len(values) == 1:
            value = values[0]
        else:
            value = tuple(values)
        self._emit(field, value, self._merge_id(field))


def _fields(prim: Primitive) -> list[tuple[str, int]]:
    if not isinstance(prim, Solid):
        return []
    out = [("position", 3), ("rotation", 3)]
    for f in _DIMENSIONS:
        if f in prim.FIELDS:
            v = getattr(prim, f)
            out.append((f, len(v) if isinstance(v, tuple) else 1))
    return out


def _values(prim: Primitive, field: str) -> list[float]:
    v = getattr(prim, field)
    return list(v) if isinstance(v, tuple) else [v]
