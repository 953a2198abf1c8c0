"""Layout primitives: the editable block-out structure of a scene, and LAYOUT.json.

A layout is an ordered set of primitives, each an immutable (frozen) dataclass.
Edits never change a primitive in place: they build a new one with
`dataclasses.replace` (or the helpers below) and a new `Layout`, which makes
undo trivial (keep the old object) and lets the renderer compare by identity.

Frame and units: every number is in the scene's own frame and units (the 3DGS
frame of `SplatCloud`: x right, y **down**, z forward). A solid primitive has a
``position`` (its centre, world units) and a ``rotation`` (unit quaternion
w, x, y, z) that turns its local axes into world axes. Local axes:

* local +y is the primitive's "up" (for a level primitive it is the layout's
  ``up`` vector, which is (0, -1, 0) in a y-down 3DGS scene);
* ``Box``: ``size`` = full extents along local x, y, z;
* ``Plane`` (floor, ceiling): a rectangle ``size`` = (x extent, z extent) at
  local y = 0 whose normal is local +y; for colliders it is a slab of
  ``thickness`` below the surface (local -y side);
* ``Wall``: runs along local x (``length``), stands along local +y
  (``height``), is ``thickness`` thick along local z; ``position`` is the
  centre of the wall's volume. ``openings`` are rectangles in wall coordinates
  (u along the wall from the start end at local x = -length/2, v up from the
  base), cut through the whole thickness (doors, windows);
* ``Cylinder``: axis along local y, ``radius``, ``height``;
* ``Sphere``: ``radius``;
* ``Group``: no geometry; ``children`` lists primitive ids (a primitive is in
  at most one group; groups may nest).

LAYOUT.json (see docs/layout_schema.md)::

    {"schema": "splatforge.layout", "version": 1, "up": [0, -1, 0],
     "metadata": {...}, "primitives": [{"id": "p1", "type": "box", ...}, ...]}
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

import numpy as np

from editor.model.splat_cloud import matrix_to_quaternion, quaternion_to_matrix

_NUMBER_LIST = re.compile(r"\[\s+((?:-?[0-9][0-9.eE+-]*,\s*)*-?[0-9][0-9.eE+-]*)\s+\]")

SCHEMA = "splatforge.layout"
VERSION = 1
#: Up in the 3DGS frame (y down).
DEFAULT_UP = (0.0, -1.0, 0.0)
#: Smallest extent any dimension may shrink to (world units); stops an extrusion
#: or scale from producing a degenerate (zero-volume) solid.
MIN_SIZE = 1e-4
#: Refuse layout files larger than this before parsing them.
MAX_LAYOUT_BYTES = 64 * 2**20
MAX_PRIMITIVES = 100_000

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


class LayoutError(ValueError):
    """A layout, primitive or layout edit is invalid; the message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


# ---------------------------------------------------------------- validation
def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise LayoutError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise LayoutError(f"{name} must be finite, got {v}")
    return v


def _positive(value: Any, name: str) -> float:
    v = _number(value, name)
    if not v >= MIN_SIZE:
        raise LayoutError(f"{name} must be at least {MIN_SIZE}, got {v:g}")
    return v


def _vector(value: Any, n: int, name: str) -> tuple:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise LayoutError(f"{name} must be a list of {n} numbers")
    return tuple(_number(v, f"{name}[{i}]") for i, v in enumerate(value))


def _unit_quaternion(value: Any, name: str = "rotation") -> Quat:
    q = _vector(value, 4, name)
    n = math.sqrt(sum(c * c for c in q))
    if n < 1e-9:
        raise LayoutError(f"{name} is a zero quaternion")
    # Re-normalise only when needed, so a value read back from JSON stays bit-identical.
    if abs(n - 1.0) > 1e-9:
        q = tuple(c / n for c in q)
    return q  # type: ignore[return-value]


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def quat_from_matrix(m: np.ndarray) -> Quat:
    """Unit wxyz quaternion of a proper rotation matrix (3, 3)."""
    return tuple(float(c) for c in matrix_to_quaternion(np.asarray(m, dtype=np.float64)))  # type: ignore


def quat_to_matrix(q: Iterable[float]) -> np.ndarray:
    """(3, 3) float64 rotation matrix of a wxyz quaternion."""
    return quaternion_to_matrix(np.asarray(tuple(q), dtype=np.float64))


def frame_from_axes(x: np.ndarray, y: np.ndarray) -> Quat:
    """Rotation whose local +x, +y map to the given world directions (y wins:
    x is orthogonalised against y). Returns a wxyz quaternion."""
    y = np.asarray(y, np.float64)
    y = y / np.linalg.norm(y)
    x = np.asarray(x, np.float64)
    x = x - y * np.dot(x, y)
    nx = np.linalg.norm(x)
    if nx < 1e-9:
        raise LayoutError("frame axes are parallel")
    x = x / nx
    z = np.cross(x, y)
    return quat_from_matrix(np.stack([x, y, z], axis=1))


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise LayoutError(f"number {text} is out of range")
    return v


def _no_constant(name: str) -> float:
    raise LayoutError(f"{name} is not a number JSON allows")


def strict_json_loads(text: str | bytes) -> Any:
    """`json.loads` that refuses NaN, Infinity and numbers that overflow to
    infinity (raises LayoutError), so whatever loads can be saved again."""
    return json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)


# ---------------------------------------------------------------- openings
OPENING_KINDS = ("opening", "door", "window")


@dataclass(frozen=True)
class Opening:
    """A rectangular hole through a wall, in wall coordinates (world units):
    u along the wall from its start end (0 .. length), v up from its base
    (0 .. height). Parts outside the wall are ignored when meshing."""

    u0: float
    v0: float
    u1: float
    v1: float
    kind: str = "opening"

    def __post_init__(self) -> None:
        for n in ("u0", "v0", "u1", "v1"):
            _set(self, n, _number(getattr(self, n), f"opening {n}"))
        if not (self.u1 - self.u0 >= MIN_SIZE and self.v1 - self.v0 >= MIN_SIZE):
            raise LayoutError(f"opening must have u1 > u0 and v1 > v0, got ({self.u0:g}, {self.v0:g}, {self.u1:g}, {self.v1:g})")
        if self.kind not in OPENING_KINDS:
            raise LayoutError(f"opening kind must be one of {', '.join(OPENING_KINDS)}, got {self.kind!r}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "u0": self.u0, "v0": self.v0, "u1": self.u1, "v1": self.v1}

    @classmethod
    def from_dict(cls, d: Any) -> "Opening":
        if not isinstance(d, dict):
            raise LayoutError("an opening must be an object")
        missing = [k for k in ("u0", "v0", "u1", "v1") if k not in d]
        if missing:
            raise LayoutError(f"opening is missing {', '.join(missing)}")
        return cls(d["u0"], d["v0"], d["u1"], d["v1"], d.get("kind", "opening"))


# ---------------------------------------------------------------- primitives
@dataclass(frozen=True)
class Primitive:
    """Common fields. ``id`` is unique within a layout; ``name`` is for people."""

    id: str
    name: str = ""
    visible: bool = True
    locked: bool = False

    TYPE: ClassVar[str] = ""
    #: Fields written to JSON besides the common ones, in order.
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise LayoutError("primitive id must be a string")
        if not isinstance(self.name, str):
            raise LayoutError("primitive name must be a string")
        for flag in ("visible", "locked"):
            if not isinstance(getattr(self, flag), bool):
                raise LayoutError(f"primitive {flag} must be true or false")

    # JSON ------------------------------------------------------------------
    def to_dict(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "type": self.TYPE, "name": self.name}
        d["visible"] = self.visible
        d["locked"] = self.locked
        for f in self.FIELDS:
            v = getattr(self, f)
            if f == "openings":
                v = [o.to_dict() for o in v]
            elif isinstance(v, tuple):
                v = list(v)
            d[f] = v
        return d

    @classmethod
    def _from_dict(cls, d: dict) -> "Primitive":
        kwargs: dict[str, Any] = {"id": d["id"], "name": d.get("name", "")}
        for flag in ("visible", "locked"):
            if flag in d:
                kwargs[flag] = d[flag]
        for f in cls.FIELDS:
            if f in d:
                v = d[f]
                if f == "openings":
                    if not isinstance(v, list):
                        raise LayoutError("openings must be a list")
                    v = tuple(Opening.from_dict(o) for o in v)
                elif f == "children":
                    if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
                        raise LayoutError("group children must be a list of ids")
                    v = tuple(v)
                kwargs[f] = v
        return cls(**kwargs)

    def replace(self, **changes: Any) -> "Primitive":
        """A copy with some fields changed (validated like a new primitive)."""
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as e:
            raise LayoutError(f"{self.TYPE} has no such property: {e}") from None


@dataclass(frozen=True)
class Solid(Primitive):
    """A primitive with geometry: a pose and type-specific dimensions."""

    position: Vec3 = (0.0, 0.0, 0.0)
    rotation: Quat = (1.0, 0.0, 0.0, 0.0)

    #: Faces accepted by `extruded`.
    FACES: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "position", _vector(self.position, 3, "position"))
        _set(self, "rotation", _unit_quaternion(self.rotation))

    # pose ------------------------------------------------------------------
    def rotation_matrix(self) -> np.ndarray:
        """Local -> world rotation (3, 3), float64; columns are the local axes."""
        return quat_to_matrix(self.rotation)

    def to_world(self, local: np.ndarray) -> np.ndarray:
        """(N, 3) local points -> (N, 3) world points."""
        return np.asarray(local, np.float64) @ self.rotation_matrix().T + np.asarray(self.position)

    def to_local(self, world: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) local points."""
        return (np.asarray(world, np.float64) - np.asarray(self.position)) @ self.rotation_matrix()

    def half_extents(self) -> np.ndarray:
        """Half sizes (3,) of the local bounding box around the local origin."""
        raise NotImplementedError

    def world_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned world bounds (min (3,), max (3,)) of the local box."""
        h = self.half_extents()
        r = np.abs(self.rotation_matrix()) @ h
        c = np.asarray(self.position)
        return c - r, c + r

    def moved(self, rotation: np.ndarray, translation: np.ndarray, pivot: np.ndarray, factor: float) -> "Solid":
        """Pose after ``x -> pivot + factor * R (x - pivot) + t`` (R (3,3))."""
        r = np.asarray(rotation, np.float64)
        p = np.asarray(pivot, np.float64)
        pos = p + factor * (r @ (np.asarray(self.position) - p)) + np.asarray(translation, np.float64)
        rot = quat_from_matrix(r @ self.rotation_matrix()) if not np.allclose(r, np.eye(3), atol=0, rtol=0) else self.rotation
        return self.replace(position=tuple(float(v) for v in pos), rotation=rot)

    def scaled(self, factors: Vec3) -> "Solid":
        """Dimensions multiplied by ``factors`` (3,) along the local axes."""
        raise NotImplementedError

    def extruded(self, face: str, distance: float) -> "Solid":
        """Push (distance > 0) or pull (< 0) ``face`` along its outward normal."""
        raise LayoutError(f"{self.TYPE} has no face {face!r} to extrude")

    def _check_face(self, face: str) -> None:
        if face not in self.FACES:
            raise LayoutError(f"{self.TYPE} has no face {face!r}; faces are {', '.join(self.FACES)}")

    def _shift_local(self, axis: int, amount: float) -> tuple:
        c = np.asarray(self.position) + self.rotation_matrix()[:, axis] * amount
        return tuple(float(v) for v in c)


_AXIS = {"x": 0, "y": 1, "z": 2}


def _box_face(face: str) -> tuple[int, float]:
    return _AXIS[face[1]], (1.0 if face[0] == "+" else -1.0)


@dataclass(frozen=True)
class Box(Solid):
    size: Vec3 = (1.0, 1.0, 1.0)

    TYPE: ClassVar[str] = "box"
    FIELDS: ClassVar[tuple[str, ...]] = ("position", "rotation", "size")
    FACES: ClassVar[tuple[str, ...]] = ("+x", "-x", "+y", "-y", "+z", "-z")

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "size", tuple(_positive(v, f"box size[{i}]") for i, v in enumerate(_vector(self.size, 3, "size"))))

    def half_extents(self) -> np.ndarray:
        return 0.5 * np.asarray(self.size)

    def scaled(self, factors: Vec3) -> "Box":
        return self.replace(size=tuple(s * f for s, f in zip(self.size, factors)))

    def extruded(self, face: str, distance: float) -> "Box":
        self._check_face(face)
        axis, sign = _box_face(face)
        size = list(self.size)
        size[axis] = _positive(size[axis] + distance, f"box size along {face[1]} after extrusion")
        return self.replace(size=tuple(size), position=self._shift_local(axis, sign * distance / 2))


@dataclass(frozen=True)
class Plane(Solid):
    """A floor or ceiling: rectangle at local y = 0, normal local +y."""

    size: tuple[float, float] = (1.0, 1.0)
    thickness: float = 0.05
    role: str = ""

    TYPE: ClassVar[str] = "plane"
    FIELDS: ClassVar[tuple[str, ...]] = ("position", "rotation", "size", "thickness", "role")
    FACES: ClassVar[tuple[str, ...]] = ("+x", "-x", "+z", "-z", "+y", "-y")
    ROLES: ClassVar[tuple[str, ...]] = ("", "floor", "ceiling")

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "size", tuple(_positive(v, f"plane size[{i}]") for i, v in enumerate(_vector(self.size, 2, "size"))))
        _set(self, "thickness", _positive(self.thickness, "plane thickness"))
        if self.role not in self.ROLES:
            raise LayoutError(f"plane role must be one of {', '.join(repr(r) for r in self.ROLES)}, got {self.role!r}")

    def half_extents(self) -> np.ndarray:
        # The slab spans y in [-thickness, 0]; the bounding box is symmetric.
        return np.array([0.5 * self.size[0], self.thickness, 0.5 * self.size[1]])

    def scaled(self, factors: Vec3) -> "Plane":
        return self.replace(size=(self.size[0] * factors[0], self.size[1] * factors[2]), thickness=self.thickness * factors[1])

    def extruded(self, face: str, distance: float) -> Solid:
        """x/z faces grow the rectangle; -y thickens the slab downwards; +y
        pushes the surface up into a `Box` (a plinth) that keeps this id."""
        self._check_face(face)
        axis, sign = _box_face(face)
        if axis != 1:
            size = [self.size[0], self.size[1]]
            i = 0 if axis == 0 else 1
            size[i] = _positive(size[i] + distance, f"plane size along {face[1]} after extrusion")
            return self.replace(size=tuple(size), position=self._shift_local(axis, sign * distance / 2))
        if face == "-y":
            return self.replace(thickness=_positive(self.thickness + distance, "plane thickness after extrusion"))
        height = _positive(self.thickness + distance, "height after extrusion")
        centre = self._shift_local(1, distance - height / 2)
        return Box(self.id, self.name, self.visible, self.locked, centre, self.rotation, (self.size[0], height, self.size[1]))


@dataclass(frozen=True)
class Wall(Solid):
    length: float = 1.0
    height: float = 2.5
    thickness: float = 0.1
    openings: tuple[Opening, ...] = ()

    TYPE: ClassVar[str] = "wall"
    FIELDS: ClassVar[tuple[str, ...]] = ("position", "rotation", "length", "height", "thickness", "openings")
    FACES: ClassVar[tuple[str, ...]] = ("+x", "-x", "+y", "-y", "+z", "-z")

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("length", "height", "thickness"):
            _set(self, f, _positive(getattr(self, f), f"wall {f}"))
        ops = self.openings
        if not isinstance(ops, (tuple, list)) or not all(isinstance(o, Opening) for o in ops):
            raise LayoutError("wall openings must be a list of openings")
        _set(self, "openings", tuple(ops))

    @classmethod
    def from_endpoints(
        cls,
        id: str,
        start: Iterable[float],
        end: Iterable[float],
        up: Iterable[float] = DEFAULT_UP,
        height: float = 2.5,
        thickness: float = 0.1,
        name: str = "",
        align: str = "centre",
    ) -> "Wall":
        """A wall drawn click-to-click on the floor: ``start`` and ``end`` are
        points on the floor (world units), ``up`` the floor normal. ``align``
        says which part of the wall the drawn line is: "centre", or its "left"
        or "right" face (as seen walking from start to end, head towards up),
        so the wall's body lies on the other side of the line."""
        a, b = np.asarray(tuple(start), np.float64), np.asarray(tuple(end), np.float64)
        u = np.asarray(tuple(up), np.float64)
        u = u / np.linalg.norm(u)
        d = b - a
        d = d - u * np.dot(d, u)  # project onto the floor plane
        length = float(np.linalg.norm(d))
        if length < MIN_SIZE:
            raise LayoutError("wall start and end are the same point")
        x = d / length
        rot = frame_from_axes(x, u)
        z = np.cross(x, u)  # local +z points to the right of the direction of travel
        offset = {"centre": 0.0, "left": 0.5, "right": -0.5}.get(align)
        if offset is None:
            raise LayoutError(f"align must be centre, left or right, got {align!r}")
        base_mid = 0.5 * (a + b)
        base_mid = base_mid - u * (np.dot(base_mid - a, u))  # on a's floor level
        centre = base_mid + u * (height / 2) + z * (offset * thickness)
        return cls(id, name, True, False, tuple(float(v) for v in centre), rot, length, height, thickness)

    @property
    def start(self) -> np.ndarray:
        """World point (3,) at the start of the wall's base centre line."""
        return self.to_world(np.array([[-self.length / 2, -self.height / 2, 0.0]]))[0]

    @property
    def end(self) -> np.ndarray:
        return self.to_world(np.array([[self.length / 2, -self.height / 2, 0.0]]))[0]

    def half_extents(self) -> np.ndarray:
        return 0.5 * np.array([self.length, self.height, self.thickness])

    def scaled(self, factors: Vec3) -> "Wall":
        fx, fy = factors[0], factors[1]
        ops = tuple(Opening(o.u0 * fx, o.v0 * fy, o.u1 * fx, o.v1 * fy, o.kind) for o in self.openings)
        return self.replace(length=self.length * fx, height=self.height * fy, thickness=self.thickness * factors[2], openings=ops)

    def extruded(self, face: str, distance: float) -> "Wall":
        """±x lengthen the wall at its end/start (openings keep their place in
        the world), ±y raise the top / lower the base, ±z thicken."""
        self._check_face(face)
        axis, sign = _box_face(face)
        dims = [self.length, self.height, self.thickness]
        dims[axis] = _positive(dims[axis] + distance, f"wall {('length', 'height', 'thickness')[axis]} after extrusion")
        ops = self.openings
        if face in ("-x", "-y"):  # the wall's u/v origin moves: keep openings in place
            du, dv = (distance, 0.0) if face == "-x" else (0.0, distance)
            ops = tuple(Opening(o.u0 + du, o.v0 + dv, o.u1 + du, o.v1 + dv, o.kind) for o in ops)
        return self.replace(
            length=dims[0], height=dims[1], thickness=dims[2], openings=ops,
            position=self._shift_local(axis, sign * distance / 2),
        )

    def with_opening(self, opening: Opening) -> "Wall":
        if opening.u1 <= 0 or opening.u0 >= self.length or opening.v1 <= 0 or opening.v0 >= self.height:
            raise LayoutError("opening lies entirely outside the wall")
        return self.replace(openings=self.openings + (opening,))


@dataclass(frozen=True)
class Cylinder(Solid):
    radius: float = 0.5
    height: float = 1.0
    segments: int = 32

    TYPE: ClassVar[str] = "cylinder"
    FIELDS: ClassVar[tuple[str, ...]] = ("position", "rotation", "radius", "height", "segments")
    FACES: ClassVar[tuple[str, ...]] = ("+y", "-y", "side")

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "radius", _positive(self.radius, "cylinder radius"))
        _set(self, "height", _positive(self.height, "cylinder height"))
        if isinstance(self.segments, bool) or not isinstance(self.segments, (int, np.integer)) or not 3 <= self.segments <= 1024:
            raise LayoutError("cylinder segments must be a whole number from 3 to 1024")
        _set(self, "segments", int(self.segments))

    def half_extents(self) -> np.ndarray:
        return np.array([self.radius, 0.5 * self.height, self.radius])

    def scaled(self, factors: Vec3) -> "Cylinder":
        return self.replace(radius=self.radius * math.sqrt(abs(factors[0] * factors[2])), height=self.height * factors[1])

    def extruded(self, face: str, distance: float) -> "Cylinder":
        self._check_face(face)
        if face == "side":
            return self.replace(radius=_positive(self.radius + distance, "cylinder radius after extrusion"))
        sign = 1.0 if face == "+y" else -1.0
        return self.replace(
            height=_positive(self.height + distance, "cylinder height after extrusion"),
            position=self._shift_local(1, sign * distance / 2),
        )


@dataclass(frozen=True)
class Sphere(Solid):
    radius: float = 0.5
    subdivisions: int = 2

    TYPE: ClassVar[str] = "sphere"
    FIELDS: ClassVar[tuple[str, ...]] = ("position", "rotation", "radius", "subdivisions")
    FACES: ClassVar[tuple[str, ...]] = ("surface",)

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "radius", _positive(self.radius, "sphere radius"))
        if isinstance(self.subdivisions, bool) or not isinstance(self.subdivisions, (int, np.integer)) or not 0 <= self.subdivisions <= 5:
            raise LayoutError("sphere subdivisions must be a whole number from 0 to 5")
        _set(self, "subdivisions", int(self.subdivisions))

    def half_extents(self) -> np.ndarray:
        return np.full(3, self.radius)

    def scaled(self, factors: Vec3) -> "Sphere":
        """A sphere stays a sphere: its radius takes the geometric mean factor."""
        return self.replace(radius=self.radius * abs(factors[0] * factors[1] * factors[2]) ** (1 / 3))

    def extruded(self, face: str, distance: float) -> "Sphere":
        self._check_face(face)
        return self.replace(radius=_positive(self.radius + distance, "sphere radius after extrusion"))


@dataclass(frozen=True)
class Group(Primitive):
    children: tuple[str, ...] = ()

    TYPE: ClassVar[str] = "group"
    FIELDS: ClassVar[tuple[str, ...]] = ("children",)

    def __post_init__(self) -> None:
        super().__post_init__()
        ch = self.children
        if not isinstance(ch, (tuple, list)) or not all(isinstance(c, str) for c in ch):
            raise LayoutError("group children must be a list of ids")
        if len(set(ch)) != len(ch):
            raise LayoutError("group lists a child twice")
        _set(self, "children", tuple(ch))


PRIMITIVE_TYPES: dict[str, type[Primitive]] = {c.TYPE: c for c in (Box, Plane, Wall, Cylinder, Sphere, Group)}


def primitive_from_dict(d: Any) -> Primitive:
    """Build one primitive from its JSON object; raises LayoutError."""
    if not isinstance(d, dict):
        raise LayoutError("a primitive must be a JSON object")
    if not isinstance(d.get("id"), str) or not d["id"]:
        raise LayoutError("a primitive needs a non-empty string id")
    t = d.get("type")
    cls = PRIMITIVE_TYPES.get(t) if isinstance(t, str) else None
    if cls is None:
        raise LayoutError(f"primitive {d['id']!r} has unknown type {t!r}; known: {', '.join(PRIMITIVE_TYPES)}")
    try:
        return cls._from_dict(d)
    except LayoutError as e:
        raise LayoutError(f"primitive {d['id']!r}: {e}") from None
    except TypeError as e:
        raise LayoutError(f"primitive {d['id']!r}: {e}") from None


# ---------------------------------------------------------------- layout
@dataclass(frozen=True)
class Layout:
    """An ordered, immutable set of primitives plus the scene's up vector.

    ``primitives`` maps id -> primitive in display order; never mutate it:
    use `with_primitives` / `with_primitive` / `without` to get a new layout.
    ``metadata`` is free JSON (e.g. what the layout fitter measured).
    """

    primitives: Mapping[str, Primitive] = field(default_factory=dict)
    up: Vec3 = DEFAULT_UP
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        prims = dict(self.primitives)
        for k, p in prims.items():
            if not isinstance(p, Primitive) or p.id != k:
                raise LayoutError(f"layout key {k!r} does not match its primitive")
        _set(self, "primitives", prims)
        up = _vector(self.up, 3, "up")
        n = math.sqrt(sum(c * c for c in up))
        if n < 1e-9:
            raise LayoutError("layout up vector is zero")
        if abs(n - 1.0) > 1e-9:
            up = tuple(c / n for c in up)
        _set(self, "up", up)
        if not isinstance(self.metadata, Mapping):
            raise LayoutError("layout metadata must be an object")
        _set(self, "metadata", dict(self.metadata))
        self._check_groups()

    def _check_groups(self) -> None:
        parent: dict[str, str] = {}
        for p in self.primitives.values():
            if isinstance(p, Group):
                for c in p.children:
                    if c not in self.primitives:
                        raise LayoutError(f"group {p.id!r} lists unknown child {c!r}")
                    if c in parent:
                        raise LayoutError(f"primitive {c!r} is in two groups ({parent[c]!r} and {p.id!r})")
                    if c == p.id:
                        raise LayoutError(f"group {p.id!r} contains itself")
                    parent[c] = p.id
        for start in parent:  # no cycles
            seen, cur = {start}, start
            while cur in parent:
                cur = parent[cur]
                if cur in seen:
                    raise LayoutError(f"groups form a cycle through {cur!r}")
                seen.add(cur)

    # access ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.primitives)

    def __iter__(self):
        return iter(self.primitives.values())

    def __contains__(self, pid: object) -> bool:
        return pid in self.primitives

    def get(self, pid: str) -> Primitive:
        try:
            return self.primitives[pid]
        except KeyError:
            raise LayoutError(f"no primitive with id {pid!r}") from None

    def parent_of(self, pid: str) -> Group | None:
        for p in self.primitives.values():
            if isinstance(p, Group) and pid in p.children:
                return p
        return None

    def descendants(self, pid: str) -> list[str]:
        """``pid`` itself followed by everything inside it (groups recursively)."""
        out, stack = [], [pid]
        while stack:
            cur = stack.pop()
            out.append(cur)
            p = self.get(cur)
            if isinstance(p, Group):
                stack.extend(reversed(p.children))
        return out

    def solids(self, visible_only: bool = False) -> list[Solid]:
        return [p for p in self.primitives.values() if isinstance(p, Solid) and (p.visible or not visible_only)]

    def new_id(self, prefix: str = "p") -> str:
        """The next free id ``prefix<n>`` (n one more than the highest in use)."""
        best = 0
        for k in self.primitives:
            if k.startswith(prefix) and k[len(prefix):].isdigit():
                best = max(best, int(k[len(prefix):]))
        return f"{prefix}{best + 1}"

    # edits (new layouts) ---------------------------------------------------
    def with_primitives(self, primitives: Mapping[str, Primitive] | Iterable[Primitive]) -> "Layout":
        if not isinstance(primitives, Mapping):
            primitives = {p.id: p for p in primitives}
        return Layout(primitives, self.up, self.metadata)

    def with_primitive(self, prim: Primitive, index: int | None = None) -> "Layout":
        """Replace the primitive with the same id in place, or insert it (at
        ``index``, default the end)."""
        items = dict(self.primitives)
        if prim.id in items:
            items[prim.id] = prim
            return self.with_primitives(items)
        order = list(items.values())
        order.insert(len(order) if index is None else index, prim)
        return self.with_primitives(order)

    def without(self, ids: Iterable[str]) -> "Layout":
        drop = set(ids)
        return self.with_primitives([p for p in self.primitives.values() if p.id not in drop])

    # JSON ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "up": list(self.up),
            "metadata": dict(self.metadata),
            "primitives": [p.to_dict() for p in self.primitives.values()],
        }

    @classmethod
    def from_dict(cls, d: Any) -> "Layout":
        if not isinstance(d, dict):
            raise LayoutError("a layout must be a JSON object")
        if d.get("schema") != SCHEMA:
            raise LayoutError(f"not a SplatForge layout (schema is {d.get('schema')!r}, expected {SCHEMA!r})")
        version = d.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise LayoutError("layout version must be a whole number")
        if version > VERSION:
            raise LayoutError(f"layout version {version} was written by a newer SplatForge; this one reads version {VERSION}")
        if version < 1:
            raise LayoutError(f"unknown layout version {version}")
        prims = d.get("primitives", [])
        if not isinstance(prims, list):
            raise LayoutError("layout primitives must be a list")
        if len(prims) > MAX_PRIMITIVES:
            raise LayoutError(f"layout has {len(prims)} primitives, more than the {MAX_PRIMITIVES} accepted")
        out: dict[str, Primitive] = {}
        for item in prims:
            p = primitive_from_dict(item)
            if p.id in out:
                raise LayoutError(f"primitive id {p.id!r} is used twice")
            out[p.id] = p
        meta = d.get("metadata", {})
        if not isinstance(meta, dict):
            raise LayoutError("layout metadata must be an object")
        return cls(out, d.get("up", list(DEFAULT_UP)), meta)

    def to_json(self) -> str:
        """Indented JSON with each number list (vectors, quaternions) on one line."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> "Layout":
        try:
            data = strict_json_loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LayoutError(f"not valid JSON ({getattr(e, 'msg', e)})") from None
        except RecursionError:
            raise LayoutError("JSON nested too deeply") from None
        return cls.from_dict(data)

    def save(self, path: os.PathLike | str) -> None:
        """Write LAYOUT.json atomically (the old file survives a failed write)."""
        from editor.formats.base import write_atomic

        text = self.to_json()
        write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    @classmethod
    def load(cls, path: os.PathLike | str) -> "Layout":
        """Read LAYOUT.json; raises LayoutError (one line) on any problem."""
        p = Path(path)
        try:
            size = p.stat().st_size
            if size > MAX_LAYOUT_BYTES:
                raise LayoutError(f"file is {size} bytes, more than the {MAX_LAYOUT_BYTES} a layout may have")
            data = p.read_bytes()
        except FileNotFoundError:
            raise LayoutError("no such file") from None
        except IsADirectoryError:
            raise LayoutError("is a folder, not a layout file") from None
        except OSError as e:
            raise LayoutError(f"cannot read: {e.strerror or e}") from None
        return cls.from_json(data)
