"""The Layers panel: one row per splat layer, with a visibility checkbox, an
editable name, its splat count (not deleted) and selected count.

Like the Outliner, the panel never changes the document: it reports what
the user asked for (``rename_requested``, ``visibility_requested``,
``remove_requested``, ``move_requested``, ``select_requested``) and the
window pushes the matching commands (one undo step each). `show_document`
brings it up to date after every document change; rows are updated in
place when the layers are the same, so an edit in progress is not lost.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from editor.model.document import DELETED, LOCKED, SELECTED, Document

COL_NAME, COL_SPLATS, COL_SELECTED = 0, 1, 2


def layer_counts(layer) -> tuple[int, int, int]:
    """(live, selected, locked) splats of ``layer``; deleted splats are not counted."""
    alive = (layer.flags & DELETED) == 0
    return (int(alive.sum()), int(((layer.flags & SELECTED) != 0)[alive].sum()),
            int(((layer.flags & LOCKED) != 0)[alive].sum()))


class LayersPanel(QWidget):
    """Splat layers, top of the list first (document order)."""

    rename_requested = Signal(str, str)  # layer id, new name
    visibility_requested = Signal(str, bool)  # layer id, visible
    remove_requested = Signal(str)  # layer id
    move_requested = Signal(str, int)  # layer id, new index
    select_requested = Signal(str)  # layer id: select all its splats

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layersPanel")
        self.tree = QTreeWidget()
        self.tree.setObjectName("layers")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Layer", "Splats", "Selected"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_SPLATS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_SELECTED, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)

        self.up_button = self._button("Up", "layerUp", "Move the layer up", lambda: self._move(-1))
        self.down_button = self._button("Down", "layerDown", "Move the layer down", lambda: self._move(+1))
        self.delete_button = self._button("Delete", "layerDelete", "Delete the layer (undoable)", self._remove)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.up_button, self.down_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tree)
        lay.addLayout(buttons)
        self._ids: list[str] = []
        self._names: dict[str, str] = {}  # what the document says, to tell edits from updates
        self._visible: dict[str, bool] = {}
        self._update_buttons()

    def _button(self, text: str, name: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.clicked.connect(lambda checked=False: slot())
        return b

    # ------------------------------------------------------------ queries
    def ids(self) -> list[str]:
        """Layer ids in row order."""
        return list(self._ids)

    def row(self, layer_id: str) -> QTreeWidgetItem:
        return self.tree.topLevelItem(self._ids.index(layer_id))

    def current_id(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(COL_NAME, Qt.ItemDataRole.UserRole)

    def set_current(self, layer_id: str) -> None:
        self.tree.setCurrentItem(self.row(layer_id))

    # ------------------------------------------------------------ showing
    def show_document(self, doc: Document) -> None:
        """Rows for ``doc``'s layers: rebuilt when the layers changed, else updated in place."""
        ids = [l.id for l in doc.layers]
        current = self.current_id()
        self.tree.blockSignals(True)
        try:
            if ids != self._ids:
                self.tree.clear()
                for layer in doc.layers:
                    item = QTreeWidgetItem()
                    item.setData(COL_NAME, Qt.ItemDataRole.UserRole, layer.id)
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                                  | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setTextAlignment(COL_SPLATS, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    item.setTextAlignment(COL_SELECTED, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.tree.addTopLevelItem(item)
                self._ids = ids
            for item, layer in zip(self._items(), doc.layers):
                live, selected, locked = layer_counts(layer)
                editing = (self.tree.state() == QAbstractItemView.State.EditingState
                           and self.tree.currentItem() is item)
                if item.text(COL_NAME) != layer.name and not editing:  # keep a rename being typed
                    item.setText(COL_NAME, layer.name)
                item.setCheckState(COL_NAME, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
                item.setText(COL_SPLATS, f"{live:,}")
                item.setText(COL_SELECTED, f"{selected:,}")
                tip = f"{layer.name} ({layer.id}): {live:,} splats, {selected:,} selected"
                item.setToolTip(COL_NAME, tip + (f", {locked:,} locked" if locked else "")
                                + ("" if layer.visible else " (hidden)"))
                self._names[layer.id] = layer.name
                self._visible[layer.id] = layer.visible
            if current in ids:
                self.tree.setCurrentItem(self.row(current))
            elif ids and self.tree.currentItem() is None:
                self.tree.setCurrentItem(self.tree.topLevelItem(len(ids) - 1))
        finally:
            self.tree.blockSignals(False)
        self._update_buttons()

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def _update_buttons(self) -> None:
        lid = self.current_id()
        i = self._ids.index(lid) if lid in self._ids else -1
        self.delete_button.setEnabled(i >= 0)
        self.up_button.setEnabled(i > 0)
        self.down_button.setEnabled(0 <= i < len(self._ids) - 1)

    # ------------------------------------------------------------ requests
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        lid = item.data(COL_NAME, Qt.ItemDataRole.UserRole)
        if lid not in self._names or column != COL_NAME:
            return
        visible = item.checkState(COL_NAME) == Qt.CheckState.Checked
        name = item.text(COL_NAME).strip()
        old = self._names[lid]
        if item.text(COL_NAME) != old:
            if name:
                self.rename_requested.emit(lid, name)
            else:  # an empty name is refused: show the old one again
                self.tree.blockSignals(True)
                item.setText(COL_NAME, old)
                self.tree.blockSignals(False)
            return
        if visible != self._visible[lid]:
            self.visibility_requested.emit(lid, visible)

    def _move(self, step: int) -> None:
        lid = self.current_id()
        if lid in self._ids:
            i = self._ids.index(lid) + step
            if 0 <= i < len(self._ids):
                self.move_requested.emit(lid, i)

    def _remove(self) -> None:
        lid = self.current_id()
        if lid in self._ids:
            self.remove_requested.emit(lid)

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        self.tree.setCurrentItem(item)
        lid = item.data(COL_NAME, Qt.ItemDataRole.UserRole)
        visible = item.checkState(COL_NAME) == Qt.CheckState.Checked
        menu = QMenu(self)
        entries = [
            ("Rename", lambda: self.tree.editItem(item, COL_NAME)),
            ("Hide" if visible else "Show", lambda: self.visibility_requested.emit(lid, not visible)),
            ("Select Its Splats", lambda: self.select_requested.emit(lid)),
            ("Move Up", lambda: self._move(-1)),
            ("Move Down", lambda: self._move(+1)),
            ("Delete", self._remove),
        ]
        for text, slot in entries:
            act = QAction(text, menu)
            act.triggered.connect(lambda checked=False, s=slot: s())
            menu.addAction(act)
        menu.exec(self.tree.viewport().mapToGlobal(pos))
