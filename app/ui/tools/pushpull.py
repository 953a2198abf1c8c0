"""The push/pull tool: drag a face of a layout solid along its normal.

Hovering outlines the face under the cursor. Pressing on it and dragging
moves that face (`editor.commands.layout_edits.Extrude`) live, so the solid
follows the mouse; the distance is where the cursor's ray passes closest to
the line through the grabbed point along the face's normal
(`editor.geometry.drawing.FaceDrag`). Ctrl snaps the distance to the grid
step (inverted when grid snapping is switched on), Shift moves the face onto
the splat surface under the cursor. The whole drag is one undo step; Esc
puts the solid back exactly (nothing left to redo). A drag that would push a face through the
opposite one stops at the last valid size and says so in the status bar.
Pressing where there is no face orbits, as in the Navigate tool.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, Qt

from app.ui.tools import layout_common as lc
from editor.commands.layout_edits import Extrude
from editor.geometry import drawing
from editor.geometry.picking import Hit
from editor.model.layout import LayoutError, Solid


@dataclass
class _Drag:
    pid: str
    face: str
    original: Solid
    grab: drawing.FaceDrag
    edit: lc.DragEdit
    applied: float = 0.0  # distance the document's solid has been pushed so far


class PushPullTool(lc.SnappingLayoutTool):
    key = "pushpull"
    label = "Push/Pull"
    hint = ("Push/pull: drag a face of a box, wall, floor or cylinder along its normal "
            "(Ctrl: grid steps, Shift: onto the splats, Esc restores)")

    def __init__(self, host):
        super().__init__(host)
        self._hover: Hit | None = None
        self._drag: _Drag | None = None
        self._pos: QPointF | None = None

    @property
    def busy(self) -> bool:
        return self._drag is not None

    def cancel(self) -> bool:
        drag, self._drag = self._drag, None
        if drag is None:
            return False
        drag.edit.cancel()
        self.host.show_status("Push/pull cancelled", 3000)
        self.repaint_overlay()
        return True

    # ------------------------------------------------------------ events
    def hover(self, event) -> bool:
        self._pos = event.position()
        hit = lc.pick(self, self._pos)
        self._hover = hit if hit is not None and hit.face is not None else None
        self.repaint_overlay()
        return True

    def press(self, event) -> bool:
        self.settings.refresh(self.host.document)  # scene-relative grid step for a new document
        self._pos = event.position()
        hit = lc.pick(self, self._pos)
        if hit is None or hit.face is None:
            return False  # nothing to push here: orbit
        prim = self.host.document.layout.get(hit.primitive_id)
        if prim.locked:
            self.host.show_status(f"{prim.name or prim.id} is locked", 5000)
            return True
        camera = self.viewport.camera()
        grab = drawing.FaceDrag.start(camera, hit.point, hit.normal, self.device(self._pos))
        self._drag = _Drag(prim.id, hit.face, prim, grab, lc.DragEdit(self.host.history, "pushpull"))
        self._hover = hit
        self.host.set_layout_selection([prim.id])
        self.repaint_overlay()
        return True

    def _distance(self, event, drag: _Drag) -> float:
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ShiftModifier:
            target = lc.splat_surface(self, event.position())
            if target is not None:
                return drawing.distance_to_point(drag.grab.point, drag.grab.normal, target)
        distance = drag.grab.distance(self.viewport.camera(), self.device(event.position()))
        if self.settings.snapping(mods):
            distance = drawing.snap_distance(distance, self.settings.grid_step)
        return distance

    def move(self, event) -> bool:
        drag = self._drag
        if drag is None:
            return False
        self._pos = event.position()
        distance = self._distance(event, drag)
        try:
            drag.original.extruded(drag.face, distance)
        except LayoutError as e:
            self.host.show_status(f"Cannot push the {drag.face} face past the opposite face ({e})", 4000)
            return True
        if distance != drag.applied:
            try:
                drag.edit.push(Extrude(drag.pid, drag.face, distance - drag.applied, merge_id=drag.edit.merge_id))
            except LayoutError as e:
                self.host.show_status(f"Cannot push/pull: {e}", 5000)
                return True
            drag.applied = distance
        self.repaint_overlay()
        return True

    def release(self, event) -> bool:
        drag, self._drag = self._drag, None
        if drag is None:
            return False
        if drag.edit.pushed:
            self.host.show_status(f"Pushed/pulled {drag.face} by {lc.fmt(drag.applied)}", 5000)
        self.hover(event)
        return True

    # ------------------------------------------------------------ painting
    def paint(self, painter) -> None:
        layout = self.host.document.layout
        drag = self._drag
        if drag is not None:
            prim = layout.primitives.get(drag.pid)
            if isinstance(prim, Solid):
                lc.draw_polylines(self, painter, drawing.face_outline(prim, drag.face), lc.ACTIVE, 2.5)
            a = drag.grab.point
            b = a + drag.grab.normal * drag.applied
            lc.draw_polylines(self, painter, [np.array([a, b])], lc.ACTIVE, 1.0, dashed=True)
            if self._pos is not None:
                lc.draw_readout(painter, self._pos, f"{'+' if drag.applied >= 0 else ''}{lc.fmt(drag.applied)}")
            return
        hit = self._hover
        prim = layout.primitives.get(hit.primitive_id) if hit is not None else None
        if isinstance(prim, Solid) and hit.face in prim.FACES:
            lc.draw_polylines(self, painter, drawing.face_outline(prim, hit.face), lc.HOVER, 2.0)
