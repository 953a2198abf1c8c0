"""`Document`: everything one project holds, and the only object commands change.

A document has

* ``layers``: an ordered list of `Layer` (a `SplatCloud`, a name, a visibility
  switch and one uint8 ``flags`` byte per splat, see `SELECTED` ... `LOCKED`);
* ``layout``: the block-out structure (`editor.model.layout.Layout`, immutable;
  edits swap in a new object);
* ``cameras``: named `Camera` bookmarks (insertion ordered);
* ``metadata``: free JSON (title, source files, notes ...).

Only commands (`editor.commands`) call the mutating methods below; the UI,
the CLI and scripts push commands on a `History`. Observers subscribe with
``document.changed.append(callback)``: each callback gets a `Change` after
every command (or undo/redo), so the UI can re-upload exactly what changed
without Qt signals in the model.

Deletion is soft: a deleted splat keeps its row with the `DELETED` bit set, so
deleting and undeleting costs one byte per splat. `Layer.live_cloud` and
`Document.merged_cloud` give the splats that are really there (for export,
layout fitting and rendering); the `PurgeDeleted` command compacts layers.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from editor.model.camera import Camera
from editor.model.layout import Layout
from editor.model.splat_cloud import SplatCloud

#: Per-splat flag bits (one uint8 per splat and layer).
SELECTED = np.uint8(1)
HIDDEN = np.uint8(2)
DELETED = np.uint8(4)
LOCKED = np.uint8(8)
#: A splat with any of these bits cannot be selected or edited.
NOT_SELECTABLE = np.uint8(HIDDEN | DELETED | LOCKED)


class DocumentError(ValueError):
    """A command refers to something the document does not have; one line."""


@dataclass(eq=False)
class Layer:
    """One splat layer. ``flags`` (N,) uint8 holds the `SELECTED` / `HIDDEN` /
    `DELETED` / `LOCKED` bits of each splat; ``visible`` hides the whole layer."""

    id: str
    name: str
    cloud: SplatCloud
    flags: np.ndarray | None = None
    visible: bool = True

    def __post_init__(self) -> None:
        n = len(self.cloud)
        if self.flags is None:
            self.flags = np.zeros(n, np.uint8)
        else:
            self.flags = np.ascontiguousarray(self.flags, dtype=np.uint8)
        if self.flags.shape != (n,):
            raise DocumentError(f"layer {self.id!r}: flags have shape {self.flags.shape}, expected ({n},)")

    def __len__(self) -> int:
        return len(self.cloud)

    @property
    def selected(self) -> np.ndarray:
        """(N,) bool: selected splats."""
        return (self.flags & SELECTED) != 0

    @property
    def selectable(self) -> np.ndarray:
        """(N,) bool: splats that are neither hidden, deleted nor locked."""
        return (self.flags & NOT_SELECTABLE) == 0

    @property
    def alive(self) -> np.ndarray:
        """(N,) bool: splats that are not deleted."""
        return (self.flags & DELETED) == 0

    @property
    def shown(self) -> np.ndarray:
        """(N,) bool: splats the viewport draws (not deleted, not hidden)."""
        return (self.flags & (DELETED | HIDDEN)) == 0

    def live_cloud(self, include_hidden: bool = True) -> SplatCloud:
        """The splats that are really there: not deleted (and not hidden unless
        ``include_hidden``). A copy."""
        return self.cloud.subset(self.alive if include_hidden else self.shown)


@dataclass(frozen=True)
class Change:
    """What a command changed. ``kind`` is one of
    ``"layers"`` (layers added, removed, reordered, renamed, shown/hidden),
    ``"splats"`` (splat data of the layers in ``ids`` changed),
    ``"flags"`` (only selection/hidden/deleted/locked bits of ``ids`` changed),
    ``"layout"`` (primitives in ``ids`` added, removed or changed; all when empty),
    ``"cameras"`` (camera bookmarks in ``ids``), ``"metadata"`` (keys in ``ids``)."""

    kind: str
    ids: tuple[str, ...] = ()


KINDS = ("layers", "splats", "flags", "layout", "cameras", "metadata")


class Document:
    def __init__(
        self,
        layers: list[Layer] | None = None,
        layout: Layout | None = None,
        cameras: dict[str, Camera] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        self.layers: list[Layer] = list(layers or [])
        ids = [l.id for l in self.layers]
        if len(set(ids)) != len(ids):
            raise DocumentError("two layers share an id")
        self.layout: Layout = layout if layout is not None else Layout()
        self.cameras: dict[str, Camera] = dict(cameras or {})
        self.metadata: dict[str, Any] = dict(metadata or {})
        #: Observers: callables taking one `Change`.
        self.changed: list[Callable[[Change], None]] = []
        self._batch_depth = 0
        self._pending: list[Change] = []

    # ---------------------------------------------------------------- queries
    def layer(self, layer_id: str) -> Layer:
        for l in self.layers:
            if l.id == layer_id:
                return l
        raise DocumentError(f"no layer with id {layer_id!r}")

    def layer_index(self, layer_id: str) -> int:
        for i, l in enumerate(self.layers):
            if l.id == layer_id:
                return i
        raise DocumentError(f"no layer with id {layer_id!r}")

    def new_layer_id(self) -> str:
        """``L<n>``, n one more than the highest in use."""
        best = 0
        for l in self.layers:
            if l.id.startswith("L") and l.id[1:].isdigit():
                best = max(best, int(l.id[1:]))
        return f"L{best + 1}"

    @property
    def splat_count(self) -> int:
        return sum(len(l) for l in self.layers)

    def merged_cloud(self, include_hidden: bool = False, include_hidden_layers: bool = False) -> SplatCloud:
        """All live splats of all (visible) layers in one cloud (a copy)."""
        parts = [
            l.live_cloud(include_hidden)
            for l in self.layers
            if l.visible or include_hidden_layers
        ]
        return SplatCloud.concatenate(parts) if parts else SplatCloud.empty()

    def has_selection(self) -> bool:
        return any(bool(l.selected.any()) for l in self.layers)

    # ---------------------------------------------------------------- mutation (commands only)
    def insert_layer(self, layer: Layer, index: int | None = None) -> None:
        if any(l.id == layer.id for l in self.layers):
            raise DocumentError(f"a layer with id {layer.id!r} already exists")
        self.layers.insert(len(self.layers) if index is None else index, layer)
        self.notify("layers", layer.id)

    def remove_layer(self, layer_id: str) -> tuple[int, Layer]:
        i = self.layer_index(layer_id)
        layer = self.layers.pop(i)
        self.notify("layers", layer_id)
        return i, layer

    def set_layout(self, layout: Layout, ids: tuple[str, ...] = ()) -> None:
        if not isinstance(layout, Layout):
            raise DocumentError("layout must be a Layout")
        self.layout = layout
        self.notify("layout", *ids)

    def set_camera(self, name: str, camera: Camera | None, index: int | None = None) -> None:
        if camera is None:
            self.cameras.pop(name, None)
        elif name in self.cameras or index is None:
            self.cameras[name] = camera
        else:
            items = list(self.cameras.items())
            items.insert(index, (name, camera))
            self.cameras = dict(items)
        self.notify("cameras", name)

    def set_metadata(self, key: str, value: Any, index: int | None = None) -> None:
        if value is None:
            self.metadata.pop(key, None)
        elif key in self.metadata or index is None:
            self.metadata[key] = value
        else:
            items = list(self.metadata.items())
            items.insert(index, (key, value))
            self.metadata = dict(items)
        self.notify("metadata", key)

    # ---------------------------------------------------------------- observers
    def notify(self, kind: str, *ids: str) -> None:
        """Tell observers about a change (deferred while inside `batch`)."""
        change = Change(kind, tuple(ids))
        if self._batch_depth:
            self._pending.append(change)
        else:
            self._emit([change])

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect notifications and emit them once, merged per kind, at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if not self._batch_depth and self._pending:
                pending, self._pending = self._pending, []
                self._emit(_merge_changes(pending))

    def _emit(self, changes: list[Change]) -> None:
        for change in changes:
            for callback in list(self.changed):
                callback(change)

    # ---------------------------------------------------------------- identity
    def state_dict(self) -> dict:
        """Everything but the splat arrays, as JSON-able data (deterministic)."""
        return {
            "layers": [
                {
                    "id": l.id,
                    "name": l.name,
                    "visible": l.visible,
                    "count": len(l),
                    "sh_coeffs": int(l.cloud.sh.shape[1]),
                    "extras": [[k, np.asarray(v).dtype.str] for k, v in l.cloud.extras.items()],
                }
                for l in self.layers
            ],
            "layout": self.layout.to_dict(),
            "cameras": [[k, c.to_dict()] for k, c in self.cameras.items()],
            "metadata": self.metadata,
        }

    def digest(self) -> str:
        """SHA-256 of the whole document (structure, every array byte, flags).
        Two documents with equal digests are byte-identical for saving."""
        h = hashlib.sha256()
        h.update(json.dumps(self.state_dict(), sort_keys=False, separators=(",", ":")).encode())
        for l in self.layers:
            arrays = [l.cloud.positions, l.cloud.log_scales, l.cloud.rotations, l.cloud.opacity_logits, l.cloud.sh, l.flags]
            arrays += [np.asarray(v) for v in l.cloud.extras.values()]
            for a in arrays:
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def _merge_changes(changes: list[Change]) -> list[Change]:
    """One Change per kind, ids united in first-seen order; an empty ids tuple
    ("everything") wins."""
    by_kind: dict[str, list[str] | None] = {}
    for c in changes:
        if c.kind in by_kind and by_kind[c.kind] is None:
            continue
        if not c.ids:
            by_kind[c.kind] = None
            continue
        ids = by_kind.setdefault(c.kind, [])
        assert ids is not None
        ids.extend(i for i in c.ids if i not in ids)
    return [Change(k, tuple(v or ())) for k, v in by_kind.items()]
