"""Commands that edit splats: selection, delete, hide, lock, separate, crop,
transform and recolour.

Per-splat state lives in each layer's ``flags`` byte array (`SELECTED`,
`HIDDEN`, `DELETED`, `LOCKED`). Flag edits store the XOR of old and new flags
(sparse when few splats change), so do and undo are the same cheap operation
and a brush stroke of many merged steps stays one small record. Edits of splat
data (transform, recolour) store the touched rows before and after.

Rules shared by every command: hidden, deleted and locked splats cannot be
selected; hiding, locking and deleting also deselect; edits act on the current
selection of every layer (not on hidden layers' splats only because the UI
passes masks for visible layers).
"""
from __future__ import annotations

import math
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

from editor.commands.base import Command
from editor.model.document import DELETED, HIDDEN, LOCKED, SELECTED, Document, DocumentError, Layer
from editor.model.sh import rotate_sh
from editor.model.splat_cloud import (
    SH_C0,
    SplatCloud,
    matrix_to_quaternion,
    normalize_quaternions,
    quaternion_multiply,
    quaternion_to_matrix,
)

MODES = ("replace", "add", "subtract", "intersect")


# ---------------------------------------------------------------- flag deltas
class FlagDelta:
    """``flags ^= delta`` for one layer, stored sparsely when that is smaller.
    Applying it twice restores the original, so it serves do and undo."""

    def __init__(self, before: np.ndarray, after: np.ndarray):
        self.n = int(before.shape[0])
        self._set(np.bitwise_xor(before, after))

    def _set(self, xor: np.ndarray) -> None:
        idx = np.flatnonzero(xor)
        if idx.size * 9 < self.n:  # int64 index + uint8 value per change
            self.index: np.ndarray | None = idx
            self.values = xor[idx]
        else:
            self.index = None
            self.values = xor

    @property
    def empty(self) -> bool:
        return not np.any(self.values)

    def dense(self) -> np.ndarray:
        if self.index is None:
            return self.values
        out = np.zeros(self.n, np.uint8)
        out[self.index] = self.values
        return out

    def apply(self, flags: np.ndarray) -> None:
        if flags.shape != (self.n,):
            raise DocumentError(f"layer has {flags.shape[0]} splats, the edit expected {self.n}")
        if self.index is None:
            np.bitwise_xor(flags, self.values, out=flags)
        else:
            flags[self.index] ^= self.values

    def compose(self, other: "FlagDelta") -> None:
        self._set(np.bitwise_xor(self.dense(), other.dense()))


def _as_mask(layer: Layer, mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    n = len(layer)
    if m.dtype == bool:
        if m.shape != (n,):
            raise DocumentError(f"mask for layer {layer.id!r} has shape {m.shape}, expected ({n},)")
        return m
    if m.dtype.kind in "iu":
        m = m.reshape(-1)
        if m.size and (m.min() < 0 or m.max() >= n):
            raise DocumentError(f"splat index out of range for layer {layer.id!r} ({n} splats)")
        out = np.zeros(n, bool)
        out[m] = True
        return out
    raise DocumentError("a selection mask must be booleans or splat indices")


class FlagsEdit(Command):
    """Base of every command that changes only flags: subclasses implement
    `compute(doc) -> {layer_id: new_flags}`."""

    def __init__(self, merge_id: Hashable | None = None):
        super().__init__(merge_id)
        self._deltas: dict[str, FlagDelta] | None = None

    def compute(self, doc: Document) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        if self._deltas is None:
            new = self.compute(doc)
            deltas = {}
            for lid, flags in new.items():
                d = FlagDelta(doc.layer(lid).flags, flags)
                if not d.empty:
                    deltas[lid] = d
            self._deltas = deltas
        self._apply(doc)

    def undo(self, doc: Document) -> None:
        self._apply(doc)

    def _apply(self, doc: Document) -> None:
        assert self._deltas is not None
        layers = [doc.layer(lid) for lid in self._deltas]  # all exist before any change
        for layer in layers:
            self._deltas[layer.id].apply(layer.flags)
        if self._deltas:
            doc.notify("flags", *self._deltas)

    @property
    def changed_layers(self) -> list[str]:
        return list(self._deltas or ())

    def merge_with(self, other: Command) -> bool:
        if type(other) is not type(self) or not isinstance(other, FlagsEdit) or self._deltas is None or other._deltas is None:
            return False
        for lid, d in other._deltas.items():
            if lid in self._deltas:
                self._deltas[lid].compose(d)
            else:
                self._deltas[lid] = d
        return True


def _selected_layers(doc: Document, layer_ids: Iterable[str] | None) -> list[Layer]:
    return list(doc.layers) if layer_ids is None else [doc.layer(l) for l in layer_ids]


# ---------------------------------------------------------------- selection
class SetSelection(FlagsEdit):
    """Change the selection. ``masks`` maps layer id -> (N,) bool mask (or an
    integer index array). ``mode``:

    * ``"replace"``: the selection becomes exactly the masks (layers absent
      from ``masks`` are deselected);
    * ``"add"`` / ``"subtract"``: union / difference, layers absent untouched;
    * ``"intersect"``: keep what is selected and in the mask (layers absent
      are deselected).

    Hidden, deleted and locked splats are never selected. Give every step
    of a brush stroke the same ``merge_id`` for one undo step per stroke."""

    text = "Select"

    def __init__(self, masks: Mapping[str, np.ndarray], mode: str = "replace", merge_id: Hashable | None = None):
        super().__init__(merge_id)
        if mode not in MODES:
            raise DocumentError(f"selection mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.masks = dict(masks)
        self.mode = mode

    def compute(self, doc: Document) -> dict[str, np.ndarray]:
        for lid in self.masks:
            doc.layer(lid)
        out = {}
        for layer in doc.layers:
            cur = layer.selected
            if layer.id in self.masks:
                m = _as_mask(layer, self.masks[layer.id]) & layer.selectable
                new = {"replace": m, "add": cur | m, "subtract": cur & ~m, "intersect": cur & m}[self.mode]
            elif self.mode in ("replace", "intersect"):
                new = np.zeros(len(layer), bool)
            else:
                continue
            out[layer.id] = (layer.flags & ~SELECTED) | (new.astype(np.uint8) * SELECTED)
        return out

    @classmethod
    def all(cls, doc: Document) -> "SetSelection":
        return cls({l.id: np.ones(len(l), bool) for l in doc.layers if l.visible}, "replace")

    @classmethod
    def none(cls, doc: Document | None = None) -> "SetSelection":
        return cls({}, "replace")

    @classmethod
    def inverted(cls, doc: Document) -> "SetSelection":
        """Select what is selectable and not selected, in visible layers."""
        return cls({l.id: ~l.selected for l in doc.layers if l.visible}, "replace")


class _SelectedFlags(FlagsEdit):
    """Set ``SET`` bits and clear ``CLEAR`` bits on the selected splats."""

    SET = np.uint8(0)
    CLEAR = SELECTED

    def __init__(self, layer_ids: Iterable[str] | None = None):
        super().__init__()
        self.layer_ids = None if layer_ids is None else list(layer_ids)

    def compute(self, doc: Document) -> dict[str, np.ndarray]:
        out = {}
        for layer in _selected_layers(doc, self.layer_ids):
            sel = layer.selected & layer.selectable
            if sel.any():
                f = layer.flags.copy()
                f[sel] = (f[sel] | self.SET) & ~self.CLEAR
                out[layer.id] = f
        return out


class DeleteSelection(_SelectedFlags):
    """Delete the selected splats (soft: the DELETED bit; undo is one byte each)."""

    text = "Delete splats"
    SET = DELETED


class HideSelection(_SelectedFlags):
    text = "Hide splats"
    SET = HIDDEN


class LockSelection(_SelectedFlags):
    """Locked splats can be seen but not selected or edited."""

    text = "Lock splats"
    SET = LOCKED


class _ClearBit(FlagsEdit):
    BIT = np.uint8(0)

    def __init__(self, layer_ids: Iterable[str] | None = None):
        super().__init__()
        self.layer_ids = None if layer_ids is None else list(layer_ids)

    def compute(self, doc: Document) -> dict[str, np.ndarray]:
        return {l.id: l.flags & ~self.BIT for l in _selected_layers(doc, self.layer_ids)}


class UnhideAll(_ClearBit):
    text = "Unhide all"
    BIT = HIDDEN


class UnlockAll(_ClearBit):
    text = "Unlock all"
    BIT = LOCKED


class CropToBox(FlagsEdit):
    """Delete every unlocked splat whose centre is outside a box: ``centre``
    (3,), ``half_size`` (3,) along the box axes, ``rotation`` wxyz (box ->
    world). Splats already deleted stay deleted."""

    text = "Crop to box"

    def __init__(
        self,
        centre: Sequence[float],
        half_size: Sequence[float],
        rotation: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
        layer_ids: Iterable[str] | None = None,
    ):
        super().__init__()
        self.centre = np.asarray(centre, np.float64).reshape(3)
        self.half_size = np.asarray(half_size, np.float64).reshape(3)
        self.rotation = np.asarray(rotation, np.float64).reshape(4)
        if not (np.isfinite(self.centre).all() and np.isfinite(self.half_size).all() and (self.half_size >= 0).all()):
            raise DocumentError("crop box needs a finite centre and non-negative half sizes")
        self.layer_ids = None if layer_ids is None else list(layer_ids)

    def compute(self, doc: Document) -> dict[str, np.ndarray]:
        from editor.selection import in_box

        out = {}
        for layer in _selected_layers(doc, self.layer_ids):
            outside = ~in_box(layer.cloud.positions, self.centre, self.half_size, self.rotation)
            outside &= (layer.flags & LOCKED) == 0
            f = layer.flags.copy()
            f[outside] = (f[outside] | DELETED) & ~SELECTED
            out[layer.id] = f
        return out


# ---------------------------------------------------------------- splat data
_ROW_ATTRS = ("positions", "log_scales", "rotations", "opacity_logits", "sh")


class RowsEdit(Command):
    """Base of edits that rewrite some rows of some layers' splat arrays:
    subclasses implement `compute(doc) -> {layer_id: (index, {attr: new rows})}`."""

    def __init__(self, merge_id: Hashable | None = None):
        super().__init__(merge_id)
        self._patches: dict[str, tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]] | None = None

    def compute(self, doc: Document) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        if self._patches is None:
            patches = {}
            for lid, (idx, rows) in self.compute(doc).items():
                cloud = doc.layer(lid).cloud
                before = {a: getattr(cloud, a)[idx].copy() for a in rows}
                patches[lid] = (idx, before, rows)
            self._patches = patches
        self._write(doc, after=True)

    def undo(self, doc: Document) -> None:
        self._write(doc, after=False)

    def _write(self, doc: Document, after: bool) -> None:
        assert self._patches is not None
        for lid, (idx, before, rows) in self._patches.items():
            cloud = doc.layer(lid).cloud
            for a, v in (rows if after else before).items():
                getattr(cloud, a)[idx] = v
        if self._patches:
            doc.notify("splats", *self._patches)

    def merge_with(self, other: Command) -> bool:
        if type(other) is not type(self) or not isinstance(other, RowsEdit) or self._patches is None or other._patches is None:
            return False
        if self._patches.keys() != other._patches.keys():
            return False
        for lid, (idx, before, rows) in self._patches.items():
            oidx, _, orows = other._patches[lid]
            if not np.array_equal(idx, oidx) or rows.keys() != orows.keys():
                return False
        for lid, (idx, before, rows) in list(self._patches.items()):
            self._patches[lid] = (idx, before, other._patches[lid][2])
        return True


def _selection_index(layer: Layer) -> np.ndarray:
    return np.flatnonzero(layer.selected & layer.selectable)


class TransformSelection(RowsEdit):
    """Move / rotate / uniformly scale the selected splats about ``pivot``
    (default: the mean centre of the selection): ``x -> pivot + s R (x -
    pivot) + translation``. Orientations turn with R, log-scales shift by
    log(s), and SH bands 1..3 rotate so view-dependent colour turns too.
    One ``merge_id`` per drag gives one undo step per drag."""

    text = "Transform splats"

    def __init__(
        self,
        translation: Sequence[float] = (0.0, 0.0, 0.0),
        rotation: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
        scale: float = 1.0,
        pivot: Sequence[float] | None = None,
        merge_id: Hashable | None = None,
    ):
        super().__init__(merge_id)
        self.translation = np.asarray(translation, np.float64).reshape(3)
        q = np.asarray(rotation, np.float64).reshape(4)
        if not (np.isfinite(self.translation).all() and np.isfinite(q).all() and np.linalg.norm(q) > 1e-9):
            raise DocumentError("transform needs a finite translation and a non-zero rotation quaternion")
        self.rotation = q / np.linalg.norm(q)
        self.scale = float(scale)
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise DocumentError("scale must be a positive number")
        self.pivot = None if pivot is None else np.asarray(pivot, np.float64).reshape(3)

    def compute(self, doc: Document) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
        sel = {l.id: _selection_index(l) for l in doc.layers}
        sel = {k: v for k, v in sel.items() if v.size}
        if not sel:
            return {}
        pivot = self.pivot
        if pivot is None:
            pts = np.concatenate([doc.layer(k).cloud.positions[v].astype(np.float64) for k, v in sel.items()])
            pivot = pts.mean(axis=0)
        r = quaternion_to_matrix(self.rotation)
        s = self.scale
        t = pivot + self.translation - s * (r @ pivot)
        turned = not np.array_equal(self.rotation, [1.0, 0.0, 0.0, 0.0])
        qr = matrix_to_quaternion(r)
        out = {}
        for lid, idx in sel.items():
            cloud = doc.layer(lid).cloud
            # Only the attributes that change are stored (a move keeps 12 bytes a splat).
            rows = {"positions": (s * (cloud.positions[idx].astype(np.float64) @ r.T) + t).astype(np.float32)}
            if s != 1.0:
                rows["log_scales"] = (cloud.log_scales[idx] + np.float32(np.log(s))).astype(np.float32)
            if turned:
                rows["rotations"] = normalize_quaternions(
                    quaternion_multiply(qr[None, :], cloud.rotations[idx].astype(np.float64)))
                if cloud.sh.shape[1] > 1:
                    rows["sh"] = rotate_sh(cloud.sh[idx], r)
            out[lid] = (idx, rows)
        return out


class Recolour(RowsEdit):
    """Recolour the selection: colour -> M colour, with M = saturation matrix
    @ diag(brightness * tint). Applied exactly to the view-dependent colour:
    the DC band gets ``dc' = (M (0.5 + C0 dc) - 0.5) / C0`` and the higher SH
    bands ``rest' = M rest``. ``saturation`` 0 gives grey (Rec. 601 luma), 1
    leaves it, > 1 boosts; ``brightness`` and ``tint`` (RGB (3,)) multiply."""

    text = "Recolour"
    LUMA = np.array([0.299, 0.587, 0.114])

    def __init__(
        self,
        tint: Sequence[float] = (1.0, 1.0, 1.0),
        brightness: float = 1.0,
        saturation: float = 1.0,
        merge_id: Hashable | None = None,
    ):
        super().__init__(merge_id)
        self.tint = np.asarray(tint, np.float64).reshape(3)
        self.brightness = float(brightness)
        self.saturation = float(saturation)
        if not (np.isfinite(self.tint).all() and (self.tint >= 0).all() and self.brightness >= 0
                and math.isfinite(self.brightness) and math.isfinite(self.saturation)):
            raise DocumentError("tint and brightness must be finite and non-negative, saturation finite")

    def matrix(self) -> np.ndarray:
        """The (3, 3) colour matrix M acting on RGB column vectors."""
        sat = self.saturation * np.eye(3) + (1.0 - self.saturation) * np.outer(np.ones(3), self.LUMA)
        return sat @ np.diag(self.brightness * self.tint)

    def compute(self, doc: Document) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
        m = self.matrix()
        out = {}
        for layer in doc.layers:
            idx = _selection_index(layer)
            if not idx.size:
                continue
            sh = layer.cloud.sh[idx].astype(np.float64)
            colour = 0.5 + SH_C0 * sh[:, 0]
            new = sh @ m.T
            new[:, 0] = (colour @ m.T - 0.5) / SH_C0
            out[layer.id] = (idx, {"sh": new.astype(np.float32)})
        return out


class SeparateToLayer(Command):
    """Move the selected splats of all layers into a new layer (inserted after
    the last layer they came from; they stay selected there). The originals
    are deleted (soft). Read the new layer's id from ``layer_id``."""

    text = "Separate to layer"

    def __init__(self, name: str = ""):
        super().__init__()
        self.name = name
        self.layer_id = ""
        self._layer: Layer | None = None
        self._index = 0
        self._deltas: dict[str, FlagDelta] = {}

    def do(self, doc: Document) -> None:
        if self._layer is None:
            parts, last = [], -1
            for i, layer in enumerate(doc.layers):
                idx = _selection_index(layer)
                if idx.size:
                    parts.append(layer.cloud.subset(idx))
                    new = layer.flags.copy()
                    new[idx] = (new[idx] | DELETED) & ~SELECTED
                    self._deltas[layer.id] = FlagDelta(layer.flags, new)
                    last = i
            if not parts:
                raise DocumentError("nothing is selected")
            cloud = SplatCloud.concatenate(parts)
            self.layer_id = doc.new_layer_id()
            flags = np.full(len(cloud), SELECTED, np.uint8)
            self._layer = Layer(self.layer_id, self.name or f"Layer {self.layer_id[1:]}", cloud, flags)
            self._index = last + 1
        for lid, d in self._deltas.items():
            d.apply(doc.layer(lid).flags)
        doc.notify("flags", *self._deltas)
        doc.insert_layer(self._layer, self._index)

    def undo(self, doc: Document) -> None:
        doc.remove_layer(self.layer_id)
        for lid, d in self._deltas.items():
            d.apply(doc.layer(lid).flags)
        doc.notify("flags", *self._deltas)


class PurgeDeleted(Command):
    """Drop deleted splats for good (compacts layers; undoable)."""

    text = "Purge deleted splats"

    def __init__(self, layer_ids: Iterable[str] | None = None):
        super().__init__()
        self.layer_ids = None if layer_ids is None else list(layer_ids)
        self._swaps: list[tuple[str, tuple, tuple]] | None = None

    def do(self, doc: Document) -> None:
        if self._swaps is None:
            self._swaps = []
            for layer in _selected_layers(doc, self.layer_ids):
                alive = layer.alive
                if alive.all():
                    continue
                self._swaps.append((layer.id, (layer.cloud, layer.flags), (layer.cloud.subset(alive), layer.flags[alive].copy())))
        self._set(doc, 2)

    def undo(self, doc: Document) -> None:
        self._set(doc, 1)

    def _set(self, doc: Document, which: int) -> None:
        assert self._swaps is not None
        for swap in self._swaps:
            layer = doc.layer(swap[0])
            layer.cloud, layer.flags = swap[which]
        if self._swaps:
            doc.notify("splats", *(s[0] for s in self._swaps))

