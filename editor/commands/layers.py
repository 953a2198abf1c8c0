"""Commands on whole splat layers: add, remove, replace, rename, show/hide, move."""
from __future__ import annotations

import numpy as np

from editor.commands.base import Command
from editor.model.document import Document, DocumentError, Layer
from editor.model.splat_cloud import SplatCloud


class AddLayer(Command):
    """Add a layer holding ``cloud`` (the document takes ownership: do not
    change the cloud afterwards). Read the new id from ``layer_id``."""

    text = "Add layer"

    def __init__(
        self,
        cloud: SplatCloud,
        name: str = "",
        index: int | None = None,
        flags: np.ndarray | None = None,
        layer_id: str = "",
        visible: bool = True,
    ):
        super().__init__()
        if not isinstance(cloud, SplatCloud):
            raise DocumentError("AddLayer needs a SplatCloud")
        self.cloud, self.name, self.index, self.flags = cloud, name, index, flags
        self.layer_id, self.visible = layer_id, bool(visible)
        self._layer: Layer | None = None

    def do(self, doc: Document) -> None:
        if self._layer is None:
            if not self.layer_id or any(l.id == self.layer_id for l in doc.layers):
                self.layer_id = doc.new_layer_id()
            if self.index is not None and not 0 <= self.index <= len(doc.layers):
                raise DocumentError(f"layer index {self.index} is out of range")
            self._layer = Layer(self.layer_id, self.name or f"Layer {self.layer_id[1:]}", self.cloud, self.flags, self.visible)
        doc.insert_layer(self._layer, self.index)

    def undo(self, doc: Document) -> None:
        doc.remove_layer(self.layer_id)


class RemoveLayer(Command):
    text = "Remove layer"

    def __init__(self, layer_id: str):
        super().__init__()
        self.layer_id = layer_id
        self._removed: tuple[int, Layer] | None = None

    def do(self, doc: Document) -> None:
        self._removed = doc.remove_layer(self.layer_id)

    def undo(self, doc: Document) -> None:
        assert self._removed is not None
        index, layer = self._removed
        doc.insert_layer(layer, index)


class ReplaceLayer(Command):
    """Swap a layer's splats for ``cloud`` (e.g. regenerated appearance). Flags
    are kept when the count is unchanged, else cleared (or pass ``flags``)."""

    text = "Replace layer"

    def __init__(self, layer_id: str, cloud: SplatCloud, flags: np.ndarray | None = None, name: str | None = None):
        super().__init__()
        if not isinstance(cloud, SplatCloud):
            raise DocumentError("ReplaceLayer needs a SplatCloud")
        self.layer_id, self.cloud, self.flags, self.name = layer_id, cloud, flags, name
        self._before: tuple | None = None
        self._after: tuple | None = None

    def do(self, doc: Document) -> None:
        layer = doc.layer(self.layer_id)
        if self._after is None:
            if self.flags is not None:
                flags = np.ascontiguousarray(self.flags, np.uint8)
                if flags.shape != (len(self.cloud),):
                    raise DocumentError(f"flags have shape {flags.shape}, expected ({len(self.cloud)},)")
            elif len(self.cloud) == len(layer):
                flags = layer.flags.copy()
            else:
                flags = np.zeros(len(self.cloud), np.uint8)
            self._before = (layer.cloud, layer.flags, layer.name)
            self._after = (self.cloud, flags, layer.name if self.name is None else self.name)
        self._set(doc, layer, self._after)

    def undo(self, doc: Document) -> None:
        assert self._before is not None
        self._set(doc, doc.layer(self.layer_id), self._before)

    def _set(self, doc: Document, layer: Layer, state: tuple) -> None:
        renamed = layer.name != state[2]
        layer.cloud, layer.flags, layer.name = state
        doc.notify("splats", layer.id)
        if renamed:
            doc.notify("layers", layer.id)


class _LayerAttr(Command):
    ATTR = ""

    def __init__(self, layer_id: str, value):
        super().__init__()
        self.layer_id, self.value = layer_id, value
        self._old = None

    def do(self, doc: Document) -> None:
        layer = doc.layer(self.layer_id)
        self._old = getattr(layer, self.ATTR)
        setattr(layer, self.ATTR, self.value)
        doc.notify("layers", layer.id)

    def undo(self, doc: Document) -> None:
        layer = doc.layer(self.layer_id)
        setattr(layer, self.ATTR, self._old)
        doc.notify("layers", layer.id)


class RenameLayer(_LayerAttr):
    text = "Rename layer"
    ATTR = "name"

    def __init__(self, layer_id: str, name: str):
        if not isinstance(name, str):
            raise DocumentError("a layer name must be a string")
        super().__init__(layer_id, name)


class SetLayerVisible(_LayerAttr):
    text = "Show/hide layer"
    ATTR = "visible"

    def __init__(self, layer_id: str, visible: bool):
        super().__init__(layer_id, bool(visible))


class MoveLayer(Command):
    """Move a layer to position ``index`` in the list."""

    text = "Move layer"

    def __init__(self, layer_id: str, index: int):
        super().__init__()
        self.layer_id, self.index = layer_id, int(index)
        self._old = 0

    def do(self, doc: Document) -> None:
        if not 0 <= self.index < len(doc.layers):
            raise DocumentError(f"layer index {self.index} is out of range")
        self._old, layer = doc.remove_layer(self.layer_id)
        doc.insert_layer(layer, self.index)

    def undo(self, doc: Document) -> None:
        _, layer = doc.remove_layer(self.layer_id)
        doc.insert_layer(layer, self._old)
