"""Writing collider meshes: binary glTF 2.0 (.glb) and Wavefront OBJ.

Axis conventions. Layouts live in the 3DGS frame (x right, y down, z
forward). Exports choose the output's up axis:

* ``up="y"`` (glTF's own convention, Unity, three.js, Godot): x right, y up,
  z towards the viewer: ``(x, y, z) -> (x, -y, -z)`` (a 180 degree turn about x,
  the same turn SPZ and glTF splat exports use, so colliders line up with
  the exported splats);
* ``up="z"`` (Blender, Unreal-style z-up): x right, y forward, z up:
  ``(x, y, z) -> (x, z, -y)``.

Both are proper rotations, so triangle winding (counter-clockwise seen from
outside) is kept. With ``level=True`` an extra minimal rotation turns the
layout's fitted ``up`` vector exactly onto the output up axis, for captures
whose floor is tilted in the 3DGS frame.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Sequence

import numpy as np

from editor.formats.base import write_atomic
from editor.geometry.meshing import Mesh

#: 3DGS frame -> output frame, per output up axis.
AXIS_MATRICES = {
    "y": np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]),
    "z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}
_UP_AXIS = {"y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (3, 3) turning unit vector ``a`` onto ``b``."""
    a = np.asarray(a, np.float64) / np.linalg.norm(a)
    b = np.asarray(b, np.float64) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-12:  # opposite: turn 180 degrees about any perpendicular axis
        axis = np.cross(a, np.eye(3)[int(np.argmin(np.abs(a)))])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def export_rotation(up: str = "y", layout_up: Sequence[float] | None = None, level: bool = False) -> np.ndarray:
    """The (3, 3) rotation applied to every vertex for ``up`` "y" or "z"."""
    if up not in AXIS_MATRICES:
        raise ValueError(f"up must be 'y' or 'z', got {up!r}")
    m = AXIS_MATRICES[up]
    if level and layout_up is not None:
        m = rotation_between(m @ np.asarray(layout_up, np.float64), _UP_AXIS[up]) @ m
    return m


def write_obj(meshes: list[Mesh], path: os.PathLike | str, rotation: np.ndarray | None = None) -> None:
    """One ``o`` object per mesh; 1-based indices; written atomically."""
    r = np.eye(3) if rotation is None else rotation
    lines = ["# SplatForge collider: closed triangle meshes, counter-clockwise outward"]
    base = 1
    for m in meshes:
        v = m.vertices @ r.T
        lines.append(f"o {_obj_name(m)}")
        lines.extend(f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in v)
        lines.extend(f"f {a + base} {b + base} {c + base}" for a, b, c in m.faces)
        base += len(v)
    text = "\n".join(lines) + "\n"
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _obj_name(m: Mesh) -> str:
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (m.name or m.primitive_id or "mesh"))
    return name or "mesh"


def glb_bytes(meshes: list[Mesh], rotation: np.ndarray | None = None, generator: str = "SplatForge collider") -> bytes:
    """A binary glTF 2.0 file: one node and mesh per collider (named after the
    primitive, id in ``extras``), float32 positions, uint32 indices, no
    normals (flat shading is implied), default material."""
    r = np.eye(3) if rotation is None else rotation
    bin_parts: list[bytes] = []
    offset = 0
    views, accessors, gmeshes, nodes = [], [], [], []

    def add_view(data: bytes, target: int) -> int:
        nonlocal offset
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(data), "target": target})
        pad = (-len(data)) % 4
        bin_parts.append(data + b"\x00" * pad)
        offset += len(data) + pad
        return len(views) - 1

    for m in meshes:
        pos = np.ascontiguousarray((m.vertices @ r.T).astype("<f4"))
        idx = np.ascontiguousarray(m.faces.astype("<u4").reshape(-1))
        pv = add_view(pos.tobytes(), 34962)  # ARRAY_BUFFER
        accessors.append({
            "bufferView": pv, "componentType": 5126, "count": int(len(pos)), "type": "VEC3",
            "min": [float(v) for v in pos.min(axis=0)], "max": [float(v) for v in pos.max(axis=0)],
        })
        iv = add_view(idx.tobytes(), 34963)  # ELEMENT_ARRAY_BUFFER
        accessors.append({"bufferView": iv, "componentType": 5125, "count": int(idx.size), "type": "SCALAR"})
        name = m.name or m.primitive_id or f"collider{len(gmeshes)}"
        gmeshes.append({"name": name, "primitives": [{"attributes": {"POSITION": len(accessors) - 2},
                                                     "indices": len(accessors) - 1, "mode": 4}]})
        node = {"name": name, "mesh": len(gmeshes) - 1}
        if m.primitive_id:
            node["extras"] = {"splatforge_id": m.primitive_id, "splatforge_type": m.primitive_type}
        nodes.append(node)

    doc: dict = {"asset": {"version": "2.0", "generator": generator}}
    if meshes:
        doc.update({
            "scene": 0,
            "scenes": [{"name": "colliders", "nodes": list(range(len(nodes)))}],
            "nodes": nodes, "meshes": gmeshes, "accessors": accessors, "bufferViews": views,
            "buffers": [{"byteLength": offset}],
        })
    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * ((-len(js)) % 4)
    binary = b"".join(bin_parts)
    chunks = struct.pack("<II", len(js), 0x4E4F534A) + js
    if binary:
        chunks += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks


def write_glb(meshes: list[Mesh], path: os.PathLike | str, rotation: np.ndarray | None = None) -> None:
    data = glb_bytes(meshes, rotation)
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
