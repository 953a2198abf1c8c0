"""The layout's Outliner (tree of primitives, groups as parents; selection)
and Properties (numeric entry for the selected primitive, a wall's openings).

Neither panel changes the document: the outliner reports which primitives
the user selected (`selection_changed`), the properties panel reports edits
(`edited(pid, field, value, merge_id)`, `remove_opening(pid, index)`) and
the window turns them into commands. ``merge_id`` stays the same while one field is changed repeatedly
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
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from editor.model.layout import MIN_SIZE, Group, Layout, Primitive, Solid, Wall, quat_from_matrix, quat_to_matrix

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
    """The layout's primitives as a tree: top-level primitives in display
    order, each group's children under it (in the group's order);
    multi-selection."""

    selection_changed = Signal(list)  # ids

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("outlinerPanel")
        self.tree = QTreeWidget()
        self.tree.setObjectName("outliner")
        self.tree.setHeaderHidden(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.itemSelectionChanged.connect(self._selection)
        self._items: dict[str, QTreeWidgetItem] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tree)

    def ids(self) -> list[str]:
        """Every primitive's id, top to bottom (a group, then its children)."""
        return list(self._items)

    def item(self, pid: str) -> QTreeWidgetItem:
        """The tree row of primitive ``pid``."""
        return self._items[pid]

    def parent_id(self, pid: str) -> str | None:
        """The group ``pid`` is shown under (None at the top level)."""
        parent = self._items[pid].parent()
        return None if parent is None else parent.data(0, Qt.ItemDataRole.UserRole)

    def set_layout(self, layout: Layout, selected: list[str]) -> None:
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            self._items = {}
            children = {c for p in layout if isinstance(p, Group) for c in p.children}

            def add(p: Primitive, parent) -> None:
                label = f"{p.name or p.id}  [{p.TYPE}]" + ("" if p.visible else "  (hidden)")
                item = QTreeWidgetItem(parent, [label])
                item.setData(0, Qt.ItemDataRole.UserRole, p.id)
                item.setToolTip(0, p.id)
                self._items[p.id] = item
                if isinstance(p, Group):
                    for c in p.children:
                        add(layout.get(c), item)

            for p in layout:
                if p.id not in children:
                    add(p, self.tree)
            self.tree.expandAll()
            for pid, item in self._items.items():
                item.setSelected(pid in selected)
        finally:
            self.tree.blockSignals(False)

    def select(self, ids: list[str]) -> None:
        self.tree.blockSignals(True)
        try:
            for pid, item in self._items.items():
                item.setSelected(pid in ids)
        finally:
            self.tree.blockSignals(False)

    def _selection(self) -> None:
        self.selection_changed.emit([pid for pid, item in self._items.items() if item.isSelected()])


class PropertiesPanel(QWidget):
    """Name, visibility, position, rotation (XYZ Euler degrees) and the
    dimensions of one primitive; a wall's openings, with a button to remove
    the chosen one."""

    edited = Signal(str, str, object, object)  # pid, field, value, merge_id
    remove_opening = Signal(str, int)  # wall id, index of the opening in wall.openings

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
        self.openings: QListWidget | None = None

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
        self.name_edit = self.visible_box = self.openings = None
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
        if isinstance(prim, Wall):
            self.openings = QListWidget()
            self.openings.setObjectName("prop_openings")
            self.openings.setMaximumHeight(90)
            remove = QPushButton("Remove Opening")
            remove.setObjectName("prop_remove_opening")
            remove.clicked.connect(self._remove_opening)
            box = QVBoxLayout()
            box.addWidget(self.openings)
            box.addWidget(remove)
            self.form.addRow("Openings", box)

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
            if self.openings is not None and isinstance(prim, Wall):
                row = self.openings.currentRow()
                self.openings.clear()
                for o in prim.openings:
                    self.openings.addItem(f"{o.kind}  u {o.u0:.3g}–{o.u1:.3g}  v {o.v0:.3g}–{o.v1:.3g}")
                self.openings.setCurrentRow(min(row, self.openings.count() - 1) if row >= 0 else self.openings.count() - 1)
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

    def _remove_opening(self) -> None:
        if self.prim is not None and self.openings is not None and self.openings.currentRow() >= 0:
            self.remove_opening.emit(self.prim.id, self.openings.currentRow())

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
