"""Commands that edit the layout (block-out primitives).

Layouts and primitives are immutable, so every command here is "swap in a new
`Layout`": `do` computes the new layout from the current one the first time
(and keeps both), `undo` puts the old object back, redo puts the new one back.
That makes undo exact by construction and merging trivial (keep the first
"before", take the last "after").

Locked primitives refuse geometry edits (transform, extrude, openings,
removal, property changes other than name/visible/locked).
"""
from __future__ import annotations

import math
from typing import Any, Hashable, Iterable, Sequence

import numpy as np

from editor.commands.base import Command
from editor.model.document import Document
from editor.model.layout import (
    Group,
    Layout,
    LayoutError,
    Opening,
    Primitive,
    Solid,
    Wall,
    _unit_quaternion,
    _vector,
    quat_to_matrix,
)

#: Properties that may change on a locked primitive.
_ALWAYS_EDITABLE = ("name", "visible", "locked")


def _check_unlocked(layout: Layout, pid: str) -> Primitive:
    p = layout.get(pid)
    if p.locked:
        raise LayoutError(f"primitive {pid!r} is locked")
    return p


def _changed_ids(before: Layout, after: Layout) -> tuple[str, ...]:
    if before.up != after.up or before.metadata != after.metadata:
        return ()
    keys = list(before.primitives) + [k for k in after.primitives if k not in before.primitives]
    return tuple(k for k in keys if before.primitives.get(k) is not after.primitives.get(k))


class LayoutEdit(Command):
    """Base: subclasses implement `compute(layout) -> Layout`."""

    text = "Edit layout"

    def __init__(self, merge_id: Hashable | None = None):
        super().__init__(merge_id)
        self._before: Layout | None = None
        self._after: Layout | None = None
        self._ids: tuple[str, ...] = ()

    def compute(self, layout: Layout) -> Layout:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        if self._after is None:
            before = doc.layout
            after = self.compute(before)
            self._before, self._after = before, after
            self._ids = _changed_ids(before, after)
        doc.set_layout(self._after, self._ids)

    def undo(self, doc: Document) -> None:
        assert self._before is not None
        doc.set_layout(self._before, self._ids)

    def merge_with(self, other: Command) -> bool:
        if type(other) is not type(self) or not isinstance(other, LayoutEdit) or other._before is not self._after:
            return False
        assert other._after is not None and self._before is not None
        self._after = other._after
        self._ids = _changed_ids(self._before, self._after)
        return True


class SetLayout(LayoutEdit):
    """Replace the whole layout (e.g. with a fitted or predicted one)."""

    text = "Set layout"

    def __init__(self, layout: Layout):
        super().__init__()
        if not isinstance(layout, Layout):
            raise LayoutError("SetLayout needs a Layout")
        self.layout = layout

    def compute(self, layout: Layout) -> Layout:
        return self.layout


class AddPrimitive(LayoutEdit):
    """Add ``primitive``. An empty id, or one already in use, is replaced by
    a fresh one; read it from ``command.primitive_id`` after the push.
    ``group``: id of a group to put it in. ``index``: position in the list."""

    text = "Add primitive"

    def __init__(self, primitive: Primitive, index: int | None = None, group: str | None = None):
        super().__init__()
        if not isinstance(primitive, Primitive):
            raise LayoutError("AddPrimitive needs a Primitive")
        self.primitive = primitive
        self.index = index
        self.group = group
        self.primitive_id = primitive.id
        self.text = f"Add {primitive.TYPE}"

    def compute(self, layout: Layout) -> Layout:
        p = self.primitive
        if not p.id or p.id in layout:
            p = p.replace(id=layout.new_id())
        if isinstance(p, Group) and p.children:
            raise LayoutError("add an empty group, then use GroupPrimitives")
        self.primitive_id = p.id
        out = layout.with_primitive(p, self.index)
        if self.group is not None:
            g = out.get(self.group)
            if not isinstance(g, Group):
                raise LayoutError(f"{self.group!r} is not a group")
            out = out.with_primitive(g.replace(children=g.children + (p.id,)))
        return out


class RemovePrimitive(LayoutEdit):
    """Remove primitives; removing a group removes everything inside it."""

    text = "Delete"

    def __init__(self, ids: Iterable[str]):
        super().__init__()
        self.ids = list(ids)

    def compute(self, layout: Layout) -> Layout:
        drop: list[str] = []
        for pid in self.ids:
            for d in layout.descendants(pid):
                _check_unlocked(layout, d)
                if d not in drop:
                    drop.append(d)
        gone = set(drop)
        out = layout.without(gone)
        for g in [p for p in out if isinstance(p, Group)]:
            if any(c in gone for c in g.children):
                out = out.with_primitive(g.replace(children=tuple(c for c in g.children if c not in gone)))
        return out


class TransformPrimitive(LayoutEdit):
    """Move / rotate / scale primitives (groups: everything inside them).

    ``x -> pivot + k * R (x - pivot) + translation`` for each primitive's
    position, its orientation pre-multiplied by R (``rotation``, wxyz), and its
    dimensions multiplied by ``scale`` (3,) along its own local axes. ``k`` is
    the geometric mean of ``scale`` (positions can only scale uniformly).
    ``pivot`` defaults to the primitive's own centre when one primitive is
    transformed, else the centre of their combined world bounds.
    Use one ``merge_id`` per drag: the whole drag is one undo step."""

    text = "Transform"

    def __init__(
        self,
        ids: Iterable[str],
        translation: Sequence[float] = (0.0, 0.0, 0.0),
        rotation: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
        scale: Sequence[float] | float = (1.0, 1.0, 1.0),
        pivot: Sequence[float] | None = None,
        merge_id: Hashable | None = None,
    ):
        super().__init__(merge_id)
        self.ids = list(ids)
        self.translation = _vector(translation, 3, "translation")
        self.rotation = _unit_quaternion(rotation)
        if isinstance(scale, (int, float)):
            scale = (scale, scale, scale)
        self.scale = _vector(scale, 3, "scale")
        if not all(s > 0 for s in self.scale):
            raise LayoutError("scale factors must be positive")
        self.pivot = None if pivot is None else _vector(pivot, 3, "pivot")

    def compute(self, layout: Layout) -> Layout:
        targets: list[Solid] = []
        for pid in self.ids:
            for d in layout.descendants(pid):
                p = _check_unlocked(layout, d)
                if isinstance(p, Solid) and all(t.id != p.id for t in targets):
                    targets.append(p)
        if not targets:
            return layout
        if self.pivot is not None:
            pivot = np.asarray(self.pivot)
        elif len(targets) == 1:
            pivot = np.asarray(targets[0].position)
        else:
            lo = np.min([t.world_bounds()[0] for t in targets], axis=0)
            hi = np.max([t.world_bounds()[1] for t in targets], axis=0)
            pivot = 0.5 * (lo + hi)
        r = quat_to_matrix(self.rotation)
        k = abs(self.scale[0] * self.scale[1] * self.scale[2]) ** (1.0 / 3.0)
        out = layout
        for t in targets:
            new = t.scaled(self.scale) if self.scale != (1.0, 1.0, 1.0) else t
            new = new.moved(r, np.asarray(self.translation), pivot, k)
            out = out.with_primitive(new)
        return out


class SetPrimitiveProperty(LayoutEdit):
    """Set one field of a primitive (``name``, ``visible``, ``locked``,
    ``position``, ``size``, ``height``, ``openings`` ...), validated."""

    text = "Change property"

    def __init__(self, pid: str, name: str, value: Any, merge_id: Hashable | None = None):
        super().__init__(merge_id)
        if name in ("id", "children"):
            raise LayoutError(f"{name} cannot be set directly")
        self.pid, self.name, self.value = pid, name, value
        self.text = f"Set {name}"

    def compute(self, layout: Layout) -> Layout:
        p = layout.get(self.pid)
        if p.locked and self.name not in _ALWAYS_EDITABLE:
            raise LayoutError(f"primitive {self.pid!r} is locked")
        value = self.value
        if self.name == "openings":
            value = tuple(value)
        elif isinstance(value, (list, np.ndarray)):
            value = tuple(np.asarray(value).tolist())
        return layout.with_primitive(p.replace(**{self.name: value}))

    def merge_with(self, other: Command) -> bool:
        return isinstance(other, SetPrimitiveProperty) and other.pid == self.pid and other.name == self.name and super().merge_with(other)


class Extrude(LayoutEdit):
    """Push/pull a face of a primitive by ``distance`` (world units, > 0 grows).

    With ``region`` = (u0, v0, u1, v1) on a wall's ±z face (wall coordinates,
    see `editor.model.layout.Wall`) and a negative distance at least the
    wall's thickness, the region is cut through the wall as an opening of
    ``kind`` ("door", "window", "opening"), like pushing a drawn rectangle
    through in SketchUp."""

    text = "Push/pull"

    def __init__(
        self,
        pid: str,
        face: str,
        distance: float,
        region: Sequence[float] | None = None,
        kind: str = "opening",
        merge_id: Hashable | None = None,
    ):
        super().__init__(merge_id)
        self.pid, self.face, self.kind = pid, face, kind
        self.distance = float(distance)
        if not math.isfinite(self.distance):
            raise LayoutError("extrusion distance must be finite")
        self.region = None if region is None else _vector(region, 4, "region")

    def compute(self, layout: Layout) -> Layout:
        p = _check_unlocked(layout, self.pid)
        if not isinstance(p, Solid):
            raise LayoutError(f"{p.TYPE} {self.pid!r} has no faces")
        if self.region is None:
            return layout.with_primitive(p.extruded(self.face, self.distance))
        if not isinstance(p, Wall) or self.face not in ("+z", "-z"):
            raise LayoutError("a region can only be pushed through a wall's front or back face")
        if self.distance > -p.thickness * (1 - 1e-9):
            raise LayoutError(
                f"push the region at least the wall's thickness ({p.thickness:g}) to cut an opening; "
                f"got {self.distance:g} (recesses are not supported)"
            )
        return layout.with_primitive(p.with_opening(Opening(*self.region, kind=self.kind)))

    def merge_with(self, other: Command) -> bool:
        return (
            isinstance(other, Extrude) and other.pid == self.pid and other.face == self.face
            and self.region is None and other.region is None and super().merge_with(other)
        )


class AddOpening(LayoutEdit):
    """Cut a rectangular opening (door, window) through a wall."""

    text = "Add opening"

    def __init__(self, wall_id: str, opening: Opening):
        super().__init__()
        if not isinstance(opening, Opening):
            raise LayoutError("AddOpening needs an Opening")
        self.wall_id, self.opening = wall_id, opening
        self.text = f"Add {opening.kind}"

    def compute(self, layout: Layout) -> Layout:
        w = _check_unlocked(layout, self.wall_id)
        if not isinstance(w, Wall):
            raise LayoutError(f"{self.wall_id!r} is not a wall")
        return layout.with_primitive(w.with_opening(self.opening))


class RemoveOpening(LayoutEdit):
    text = "Remove opening"

    def __init__(self, wall_id: str, index: int):
        super().__init__()
        self.wall_id, self.index = wall_id, int(index)

    def compute(self, layout: Layout) -> Layout:
        w = _check_unlocked(layout, self.wall_id)
        if not isinstance(w, Wall):
            raise LayoutError(f"{self.wall_id!r} is not a wall")
        if not 0 <= self.index < len(w.openings):
            raise LayoutError(f"wall {self.wall_id!r} has no opening {self.index}")
        ops = w.openings[: self.index] + w.openings[self.index + 1:]
        return layout.with_primitive(w.replace(openings=ops))


class GroupPrimitives(LayoutEdit):
    """Put primitives in a new group (read its id from ``group_id``). They
    must share the same parent (or have none); the group takes their place."""

    text = "Group"

    def __init__(self, ids: Iterable[str], name: str = "", group_id: str = ""):
        super().__init__()
        self.ids = list(dict.fromkeys(ids))
        self.name = name
        self.group_id = group_id

    def compute(self, layout: Layout) -> Layout:
        if not self.ids:
            raise LayoutError("nothing to group")
        for pid in self.ids:
            layout.get(pid)
        parents = {getattr(layout.parent_of(pid), "id", None) for pid in self.ids}
        if len(parents) != 1:
            raise LayoutError("primitives in different groups cannot be grouped together")
        parent_id = parents.pop()
        gid = self.group_id if self.group_id and self.group_id not in layout else layout.new_id("g")
        self.group_id = gid
        members = [pid for pid in layout.primitives if pid in self.ids]  # keep list order
        group = Group(gid, self.name or f"Group {gid[1:]}", children=tuple(members))
        order = list(layout.primitives.values())
        order.insert(order.index(layout.get(members[0])), group)
        prims = {p.id: p for p in order}
        if parent_id is not None:
            par = layout.get(parent_id)
            assert isinstance(par, Group)
            ch = list(par.children)
            pos = min(ch.index(m) for m in members)
            ch = [c for c in ch if c not in members]
            ch.insert(pos, gid)
            prims[parent_id] = par.replace(children=tuple(ch))
        # Built in one go: a Layout is validated on construction, and the
        # members must never be listed in two groups at once.
        return Layout(prims, layout.up, layout.metadata)


class Ungroup(LayoutEdit):
    """Dissolve a group: its children move to the group's parent (or the top)."""

    text = "Ungroup"

    def __init__(self, group_id: str):
        super().__init__()
        self.group_id = group_id

    def compute(self, layout: Layout) -> Layout:
        g = layout.get(self.group_id)
        if not isinstance(g, Group):
            raise LayoutError(f"{self.group_id!r} is not a group")
        if g.locked:
            raise LayoutError(f"group {self.group_id!r} is locked")
        parent = layout.parent_of(g.id)
        prims = {k: v for k, v in layout.primitives.items() if k != g.id}
        if parent is not None:
            ch = list(parent.children)
            i = ch.index(g.id)
            ch[i:i + 1] = list(g.children)
            prims[parent.id] = parent.replace(children=tuple(ch))
        return Layout(prims, layout.up, layout.metadata)
