"""Colliders: closed meshes for every primitive (openings cut), volumes,
axis conventions of the exports, and glTF validity."""
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor.geometry.mesh_export import export_rotation, glb_bytes, write_glb, write_obj
from editor.geometry.meshing import Mesh, layout_meshes, opening_area, primitive_mesh
from editor.model.layout import Box, Cylinder, Layout, Opening, Plane, Sphere, Wall

ROOT = Path(__file__).resolve().parents[2]


def check_closed(m: Mesh):
    assert m.is_watertight(), m.name
    assert m.volume > 0


PRIMS = [
    (Box("b", position=(1, 2, 3), rotation=(0.9, 0.1, 0.3, 0.2), size=(1, 2, 3)), 6.0),
    (Plane("f", position=(0, 1.5, 0), size=(4, 5), thickness=0.1, role="floor"), 2.0),
    (Cylinder("c", radius=0.5, height=2, segments=24), 0.5 * 24 * 0.25 * np.sin(2 * np.pi / 24) * 2),
    (Wall("w", length=4, height=2.5, thickness=0.2), 2.0),
    (Wall("d", length=4, height=2.5, thickness=0.2,
          openings=(Opening(0.5, 0, 1.4, 2.1, "door"), Opening(2, 1, 3, 2, "window"))), (10 - 0.9 * 2.1 - 1) * 0.2),
]


@pytest.mark.parametrize("prim, volume", PRIMS, ids=[p.id for p, _ in PRIMS])
def test_primitive_meshes_are_closed_with_exact_volume(prim, volume):
    m = primitive_mesh(prim)
    check_closed(m)
    assert m.volume == pytest.approx(volume, rel=1e-9)


def test_sphere_is_closed_and_close_to_the_true_volume():
    m = primitive_mesh(Sphere("s", position=(1, 1, 1), radius=2, subdivisions=3))
    check_closed(m)
    assert m.volume == pytest.approx(4 / 3 * np.pi * 8, rel=0.02)
    assert np.allclose(np.linalg.norm(m.vertices - 1, axis=1), 2)


def test_independent_check_with_trimesh():
    trimesh = pytest.importorskip("trimesh", reason="trimesh (test dependency) not installed")
    for prim, _ in PRIMS + [(Sphere("s", radius=1), 0)]:
        m = primitive_mesh(prim)
        tm = trimesh.Trimesh(m.vertices, m.faces, process=True)
        assert tm.is_watertight and tm.is_winding_consistent and tm.is_volume, prim.id
        assert tm.volume == pytest.approx(m.volume)


def test_watertight_check_can_fail():
    m = primitive_mesh(Box("b"))
    assert not Mesh(m.vertices, m.faces[1:]).is_watertight()
    flipped = m.faces.copy()
    flipped[0] = flipped[0, ::-1]
    assert not Mesh(m.vertices, flipped).is_watertight()


def test_openings_covering_the_wall_leave_nothing_and_door_splits_it():
    w = Wall("w", length=2, height=2, thickness=0.1, openings=(Opening(-1, -1, 3, 3),))
    assert primitive_mesh(w) is None
    split = Wall("w", length=4, height=2, thickness=0.1, openings=(Opening(1, -0.5, 2, 2.5, "door"),))
    m = primitive_mesh(split)
    check_closed(m)
    assert m.volume == pytest.approx(3 * 2 * 0.1)


coord = st.integers(-2, 10).map(lambda i: i * 0.5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(coord, coord, st.integers(1, 6), st.integers(1, 6)), max_size=6))
def test_random_openings_always_give_a_closed_wall(rects):
    """Openings on a half-unit lattice overlap, share edges, touch corners and
    stick out of the wall: the mesh stays closed and its volume is the wall's
    minus the openings' union (minus at most the corner slivers)."""
    openings = tuple(Opening(u, v, u + 0.5 * a, v + 0.5 * b) for u, v, a, b in rects)
    w = Wall("w", length=4.0, height=3.0, thickness=0.25, openings=openings)
    m = primitive_mesh(w)
    hole = opening_area(w)
    full = 4.0 * 3.0 * 0.25
    if m is None:
        assert hole == pytest.approx(12.0)
        return
    check_closed(m)
    expected = full - hole * 0.25
    # corner slivers (0.1 % of 3 per side, at most a few) only add material
    assert expected - 1e-9 <= m.volume <= expected + 0.25 * 0.003 * 7 * len(openings) + 1e-9


def _doc_layout():
    return Layout({
        "f": Plane("f", "Floor", position=(0, 1.5, 0), size=(6, 6), thickness=0.1, role="floor"),
        "w": Wall.from_endpoints("w", (-3, 1.5, 3), (3, 1.5, 3), (0, -1, 0), 2.5, 0.2).with_opening(Opening(1, 0, 2, 2.1, "door")),
        "b": Box("b", "Crate", position=(0, -2, 3), size=(1, 1, 1)),
        "h": Box("h", "hidden", visible=False),
    })


def test_axis_conventions():
    m = [mm for mm in layout_meshes(_doc_layout()) if mm.primitive_id == "b"][0]
    centre = m.vertices.mean(0)
    assert np.allclose(centre, (0, -2, 3))
    assert np.allclose(export_rotation("y") @ centre, (0, 2, -3))  # glTF: y up, 3DGS y down
    assert np.allclose(export_rotation("z") @ centre, (0, 3, 2))  # z up, y forward
    for up in ("y", "z"):
        assert np.linalg.det(export_rotation(up)) == pytest.approx(1.0)
    tilted = np.array([0.1, -0.99, 0.05])
    r = export_rotation("y", tilted, level=True)
    assert np.allclose(r @ (tilted / np.linalg.norm(tilted)), (0, 1, 0))
    assert len(layout_meshes(_doc_layout())) == 3 and len(layout_meshes(_doc_layout(), include_hidden=True)) == 4


def parse_glb(data: bytes):
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert magic == 0x46546C67 and version == 2 and length == len(data)
    jlen, jtype = struct.unpack_from("<II", data, 12)
    assert jtype == 0x4E4F534A and jlen % 4 == 0
    doc = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    assert btype == 0x004E4942
    return doc, data[28 + jlen:28 + jlen + blen]


def test_glb_structure_and_round_trip(tmp_path):
    meshes = layout_meshes(_doc_layout())
    r = export_rotation("y")
    write_glb(meshes, tmp_path / "c.glb", r)
    doc, binary = parse_glb((tmp_path / "c.glb").read_bytes())
    assert [n["name"] for n in doc["nodes"]] == ["Floor", "w", "Crate"]
    assert doc["nodes"][2]["extras"]["splatforge_id"] == "b"
    for i, m in enumerate(meshes):
        prim = doc["meshes"][i]["primitives"][0]
        pa, ia = doc["accessors"][prim["attributes"]["POSITION"]], doc["accessors"][prim["indices"]]
        pv, iv = doc["bufferViews"][pa["bufferView"]], doc["bufferViews"][ia["bufferView"]]
        pos = np.frombuffer(binary, "<f4", pa["count"] * 3, pv["byteOffset"]).reshape(-1, 3)
        idx = np.frombuffer(binary, "<u4", ia["count"], iv["byteOffset"]).reshape(-1, 3)
        assert pv["byteOffset"] % 4 == 0 and iv["byteOffset"] % 4 == 0
        assert np.allclose(pos, m.vertices @ r.T, atol=1e-5) and np.array_equal(idx, m.faces)
        assert pa["min"] == [float(v) for v in pos.min(0)] and pa["max"] == [float(v) for v in pos.max(0)]
        assert Mesh(pos.astype(np.float64), idx.astype(np.int64)).is_watertight()


def test_obj_round_trip(tmp_path):
    meshes = layout_meshes(_doc_layout())
    write_obj(meshes, tmp_path / "c.obj", export_rotation("z"))
    objects, verts, cur = {}, [], None
    for line in (tmp_path / "c.obj").read_text().splitlines():
        if line.startswith("o "):
            cur = line[2:]
            objects[cur] = []
        elif line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:]])
        elif line.startswith("f "):
            objects[cur].append([int(x) - 1 for x in line.split()[1:]])
    assert list(objects) == ["Floor", "w", "Crate"]
    v = np.array(verts)
    for m, faces in zip(meshes, objects.values()):
        f = np.array(faces)
        assert Mesh(v, f).is_watertight()
        assert np.allclose(v[np.unique(f)], m.vertices @ export_rotation("z").T, atol=1e-6)


def _validator():
    """(node, package folder) or a reason to skip."""
    node = shutil.which("node")
    if not node:
        return None, "node is not installed"
    dirs = [os.environ.get("GLTF_VALIDATOR_DIR", ""), str(ROOT / ".peer"), str(ROOT)]
    for d in dirs:
        pkg = Path(d) / "node_modules" / "gltf-validator"
        if d and (pkg / "package.json").is_file():
            return (node, pkg), ""
    return None, ("npm package gltf-validator not found: run `make peers` (installs it into .peer/)"
                  " or set GLTF_VALIDATOR_DIR to a folder holding node_modules/gltf-validator")


def test_glb_passes_the_khronos_validator(tmp_path):
    found, reason = _validator()
    if found is None:
        pytest.skip(reason)
    node, pkg = found
    meshes = layout_meshes(_doc_layout()) + [primitive_mesh(Sphere("s", radius=1)), primitive_mesh(Cylinder("c"))]
    path = tmp_path / "c.glb"
    path.write_bytes(glb_bytes(meshes, export_rotation("y")))
    script = (
        "const v = require(process.argv[1]); const fs = require('fs');"
        "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[2])))"
        ".then(r => console.log(JSON.stringify(r.issues))).catch(e => { console.error(String(e)); process.exit(3); });"
    )
    out = subprocess.run([node, "-e", script, str(pkg), str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    issues = json.loads(out.stdout)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
