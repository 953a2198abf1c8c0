"""The opening tool: drag a rectangle on a wall to cut a door or a window;
drag an existing opening's edge to resize it, Del removes the one under the
cursor.

Hovering outlines the wall face under the cursor (the front or back face:
openings go through the whole thickness) and its openings. Pressing on the
face and dragging previews the rectangle in the wall's plane with its size;
releasing cuts it (`editor.commands.layout_edits.AddOpening`, one undo step).
A rectangle that starts near the wall's base reaches down to it and becomes
a door, any other a window; it is clamped inside the wall and too small ones
are refused (`editor.geometry.drawing.opening_from_rect`).

Over an existing opening (found on the wall's face plane, so it works
through the hole itself) the cursor shows what a drag would do: on an edge
or a corner, dragging moves it live (one undo step, Esc restores); anywhere
on the opening, Del removes it. With grid snapping (Ctrl inverts the
tool-bar switch) rectangles and edges snap to the grid step along the wall.
The Properties panel lists a wall's openings and removes them too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, Qt

from app.ui.tools import layout_common as lc
from editor.commands.layout_edits import AddOpening, RemoveOpening, SetPrimitiveProperty
from editor.geometry import drawing
from editor.geometry.picking import Hit
from editor.model.layout import LayoutError, Opening, Wall

_WALL_FACES = ("+z", "-z")
#: How close (logical pixels) the cursor must be to an opening's edge to grab it.
EDGE_PX = 6.0


@dataclass
class _Rect:
    """A new opening being drawn."""

    wall: Wall
    face: str
    uv0: np.ndarray  # wall coordinates of the press
    opening: Opening | None = None


@dataclass
class _OpeningSpot:
    """An existing opening under the cursor: which edges (none: inside it)."""

    wall: Wall
    face: str
    index: int
    edges: tuple[str, ...]


@dataclass
class _Resize:
    spot: _OpeningSpot
    edit: lc.DragEdit
    opening: Opening  # as it is now in the document


def _cursor_for(edges: tuple[str, ...]) -> Qt.CursorShape:
    axes = {e[0] for e in edges}
    if axes == {"u", "v"}:
        return Qt.CursorShape.SizeAllCursor
    if axes == {"u"}:
        return Qt.CursorShape.SizeHorCursor
    return Qt.CursorShape.SizeVerCursor


class OpeningTool(lc.SnappingLayoutTool):
    key = "opening"
    label = "Cut Opening"
    hint = ("Opening: drag a rectangle on a wall to cut a door (from the floor) or a window; drag an opening's "
            "edge to resize it, Del removes the one under the cursor (Ctrl: grid, Esc cancels)")

    def __init__(self, host):
        super().__init__(host)
        self._hover: Hit | None = None  # a wall face under the cursor
        self._spot: _OpeningSpot | None = None  # an opening under the cursor
        self._rect: _Rect | None = None
        self._resize: _Resize | None = None
        self._pos: QPointF | None = None

    @property
    def busy(self) -> bool:
        return self._rect is not None or self._resize is not None

    def cancel(self) -> bool:
        if self._resize is not None:
            self._resize.edit.cancel()
            self._resize = None
            self.host.show_status("Resize cancelled", 3000)
        elif self._rect is not None:
            self._rect = None
        else:
            return False
        self.repaint_overlay()
        return True

    # ------------------------------------------------------------ what is under the cursor
    def _wall_hit(self, pos: QPointF) -> tuple[Hit, Wall] | None:
        hit = lc.pick(self, pos)
        if hit is None or hit.face not in _WALL_FACES:
            return None
        wall = self.host.document.layout.primitives.get(hit.primitive_id)
        return (hit, wall) if isinstance(wall, Wall) else None

    def _face_uv(self, wall: Wall, face: str, pos: QPointF) -> tuple[np.ndarray, float] | None:
        """Wall coordinates where the cursor's ray meets the plane of
        ``wall``'s ``face``, and the distance along the ray; None when the
        face is turned away or the plane is behind the camera."""
        _, origin, direction, _ = lc.camera_ray(self, pos)
        normal = wall.rotation_matrix()[:, 2] * (1.0 if face == "+z" else -1.0)
        denom = float(direction @ normal)
        if denom >= -1e-9:
            return None
        point = drawing.wall_face_point(wall, (0.0, 0.0), face)
        t = float((point - origin) @ normal) / denom
        return (drawing.wall_uv(wall, origin + t * direction), t) if t > 0 else None

    def _opening_at(self, pos: QPointF) -> _OpeningSpot | None:
        """The nearest visible opening under the cursor (through its hole,
        not through other solids in front of it)."""
        hit = lc.pick(self, pos)
        limit = hit.distance if hit is not None else np.inf
        camera = self.viewport.camera()
        px_world = EDGE_PX * self.viewport.devicePixelRatioF() / camera.fy  # world size of EDGE_PX at depth 1
        best, best_t = None, np.inf
        for wall in self.host.document.layout:
            if not isinstance(wall, Wall) or not wall.openings or not wall.visible:
                continue
            for face in _WALL_FACES:
                found = self._face_uv(wall, face, pos)
                if found is None:
                    continue
                uv, t = found
                if t > limit * (1 + 1e-6) + 1e-9 or t >= best_t:
                    continue
                for i, op in enumerate(wall.openings):
                    edges = drawing.opening_edges_at(op, uv, px_world * t)
                    if edges is not None:
                        best, best_t = _OpeningSpot(wall, face, i, edges), t
                        break
        return best

    # ------------------------------------------------------------ events
    def hover(self, event) -> bool:
        self._pos = event.position()
        self._spot = self._opening_at(self._pos)
        found = None if self._spot is not None else self._wall_hit(self._pos)
        self._hover = found[0] if found else None
        edges = self._spot.edges if self._spot is not None else ()
        self.viewport.setCursor(_cursor_for(edges) if edges else self.cursor)
        self.repaint_overlay()
        return True

    def press(self, event) -> bool:
        self.settings.refresh(self.host.document)  # scene-relative grid step for a new document
        self._pos = event.position()
        spot = self._opening_at(self._pos)
        if spot is not None:
            if spot.wall.locked:
                self.host.show_status(f"{spot.wall.name or spot.wall.id} is locked", 5000)
            elif spot.edges:
                self._resize = _Resize(spot, lc.DragEdit(self.host.history, "opening"),
                                       spot.wall.openings[spot.index])
            else:
                self.host.show_status("Opening: drag its edges to resize it, Del removes it", 5000)
            self.host.set_layout_selection([spot.wall.id])
            return True
        found = self._wall_hit(self._pos)
        if found is None:
            self.host.show_status("Opening: press on the front or back face of a wall", 4000)
            return False  # orbit instead
        hit, wall = found
        if wall.locked:
            self.host.show_status(f"{wall.name or wall.id} is locked", 5000)
            return True
        self._rect = _Rect(wall, hit.face, drawing.wall_uv(wall, hit.point))
        self.host.set_layout_selection([wall.id])
        self.repaint_overlay()
        return True

    def move(self, event) -> bool:
        self._pos = event.position()
        step = self.settings.grid_step if self.settings.snapping(event.modifiers()) else None
        if self._resize is not None:
            self._drag_edge(self._resize, step)
        elif self._rect is not None:
            rect = self._rect
            found = self._face_uv(rect.wall, rect.face, self._pos)
            if found is not None:
                rect.opening = drawing.opening_from_rect(rect.wall, rect.uv0, found[0], step)
        else:
            return False
        self.repaint_overlay()
        return True

    def _drag_edge(self, resize: _Resize, step: float | None) -> None:
        spot = resize.spot
        wall = self.host.document.layout.primitives.get(spot.wall.id)
        found = self._face_uv(spot.wall, spot.face, self._pos)
        if not isinstance(wall, Wall) or found is None:
            return
        new = drawing.resized_opening(wall, spot.wall.openings[spot.index], spot.edges, found[0], step)
        if new is None:
            self.host.show_status("Opening: that would make it too small", 3000)
            return
        if new == resize.opening:
            return
        ops = list(wall.openings)
        ops[spot.index] = new
        try:
            command = SetPrimitiveProperty(wall.id, "openings", tuple(ops), merge_id=resize.edit.merge_id)
            command.text = "Resize opening"
            resize.edit.push(command)
        except LayoutError as e:
            self.host.show_status(f"Cannot resize the opening: {e}", 5000)
            return
        resize.opening = new

    def release(self, event) -> bool:
        if self._resize is not None:
            self.move(event)
            resize, self._resize = self._resize, None
            if resize.edit.pushed:
                op = resize.opening
                self.host.show_status(f"Resized the {op.kind} to {lc.fmt(op.u1 - op.u0)} × {lc.fmt(op.v1 - op.v0)}",
                                      5000)
            self.hover(event)
            return True
        if self._rect is None:
            return False
        self.move(event)
        rect, self._rect = self._rect, None
        self.repaint_overlay()
        op = rect.opening
        if op is None:
            least = drawing.OPENING_MIN_FRACTION * rect.wall.height
            self.host.show_status(f"Opening: drag a larger rectangle (at least {lc.fmt(least)} each way)", 5000)
            return True
        if self.host.push(AddOpening(rect.wall.id, op)):
            self.host.show_status(f"Cut a {op.kind} of {lc.fmt(op.u1 - op.u0)} × {lc.fmt(op.v1 - op.v0)} "
                                  f"in {rect.wall.name or rect.wall.id}", 5000)
        return True

    def wants_key(self, event) -> bool:
        return event.key() == Qt.Key.Key_Delete and self._spot is not None and not self.busy

    def key_press(self, event) -> bool:
        spot = self._spot
        if event.key() != Qt.Key.Key_Delete or spot is None or self.busy:
            return False
        self._spot = None
        op = spot.wall.openings[spot.index]
        if self.host.push(RemoveOpening(spot.wall.id, spot.index)):
            self.host.show_status(f"Removed the {op.kind} from {spot.wall.name or spot.wall.id}", 5000)
        self.repaint_overlay()
        return True

    def view_changed(self) -> None:
        self._spot = self._hover = None  # what is under a still cursor changed: wait for the next move

    # ------------------------------------------------------------ painting
    def paint(self, painter) -> None:
        layout = self.host.document.layout
        rect = self._rect
        if rect is not None:
            if rect.opening is not None:
                outline = drawing.opening_outline(rect.wall, rect.opening, rect.face)
                lc.draw_polylines(self, painter, [outline], lc.ACTIVE, 2.0)
                if self._pos is not None:
                    op = rect.opening
                    lc.draw_readout(painter, self._pos, f"{op.kind} {lc.fmt(op.u1 - op.u0)} × {lc.fmt(op.v1 - op.v0)}")
            return
        spot = self._resize.spot if self._resize is not None else self._spot
        if spot is not None:
            wall = layout.primitives.get(spot.wall.id)
            if isinstance(wall, Wall) and spot.index < len(wall.openings):
                op = wall.openings[spot.index]
                colour = lc.ACTIVE if self._resize is not None else lc.HOVER
                lc.draw_polylines(self, painter, [drawing.opening_outline(wall, op, spot.face)], colour, 2.5)
                if self._pos is not None:
                    lc.draw_readout(painter, self._pos, f"{op.kind} {lc.fmt(op.u1 - op.u0)} × {lc.fmt(op.v1 - op.v0)}")
            return
        hit = self._hover
        wall = layout.primitives.get(hit.primitive_id) if hit is not None else None
        if isinstance(wall, Wall):
            lc.draw_polylines(self, painter, drawing.face_outline(wall, hit.face), lc.HOVER, 2.0)
            for op in wall.openings:
                lc.draw_polylines(self, painter, [drawing.opening_outline(wall, op, hit.face)], lc.HOVER, 1.0,
                                  dashed=True)
