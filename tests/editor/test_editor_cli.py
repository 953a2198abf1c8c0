"""`splatforge layout` and `splatforge collider` end to end (through the real
dispatcher, with both modules registered), including their one-line errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import app.cli.main as cli
from editor_scenes import make_room
from editor.formats import write_splats
from editor.geometry.meshing import Mesh
from editor.model.document import Document, Layer
from editor.model.layout import Layout, Wall
from editor.model.splat_cloud import SplatCloud
from editor.project import save_project

ROOT = Path(__file__).resolve().parents[2]
MINE = ("app.cli.layout", "app.cli.collider")


@pytest.fixture
def run(monkeypatch, capsys):
    modules = tuple(cli._COMMAND_MODULES) + tuple(m for m in MINE if m not in cli._COMMAND_MODULES)
    monkeypatch.setattr(cli, "_COMMAND_MODULES", modules)

    def call(*args):
        code = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    folder = tmp_path_factory.mktemp("room")
    cloud, truth = make_room(seed=0)
    write_splats(cloud, folder / "room.ply")
    return folder, cloud


def one_line_error(code, err, fragment):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splatforge: error: ") and fragment in lines[0], err


def test_layout_then_collider(run, room, tmp_path):
    folder, _ = room
    code, out, err = run("layout", folder / "room.ply", "-o", tmp_path / "LAYOUT.json")
    assert code == 0, err
    assert "4 walls" in out and "1 floor" in out and len(out.strip().splitlines()) == 1
    layout = Layout.load(tmp_path / "LAYOUT.json")
    assert sum(isinstance(p, Wall) for p in layout) == 4
    from editor.geometry.layout_proposal import edited_solid_ids
    assert edited_solid_ids(layout) == set()  # recorded as a proposal fitted to the splats
    for up, ext in (("y", "glb"), ("z", "obj")):
        code, out, err = run("collider", tmp_path / "LAYOUT.json", "-o", tmp_path / f"c.{ext}", "--up", up)
        assert code == 0, err
        assert "closed meshes" in out
    # the OBJ holds one closed object per primitive
    text = (tmp_path / "c.obj").read_text().splitlines()
    verts = np.array([[float(x) for x in l.split()[1:]] for l in text if l.startswith("v ")])
    objects, faces = [], None
    for l in text:
        if l.startswith("o "):
            faces = []
            objects.append(faces)
        elif l.startswith("f "):
            faces.append([int(x) - 1 for x in l.split()[1:]])
    assert len(objects) == len(layout)
    assert all(Mesh(verts, np.array(f)).is_watertight() for f in objects)
    # z up: the floor normal (3DGS up, -y) maps to +z
    assert np.dot([layout.up[0], layout.up[2], -layout.up[1]], [0, 0, 1]) > 0.95
    code, out, err = run("collider", tmp_path / "LAYOUT.json", "-o", tmp_path / "lev.glb", "--level")
    assert code == 0 and "levelled" in out


def test_layout_json_summary_and_project_input(run, room, tmp_path):
    folder, cloud = room
    doc = Document([Layer("L1", "room", cloud)])
    save_project(doc, tmp_path / "room.sforge")
    code, out, err = run("layout", tmp_path / "room.sforge", "-o", tmp_path / "L.json", "--json", "--no-boxes")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["counts"] == {"floor": 1, "wall": 4}
    # a project as collider input uses the project's own layout
    doc.layout = Layout.load(tmp_path / "L.json")
    save_project(doc, tmp_path / "with_layout.sforge")
    code, out, err = run("collider", tmp_path / "with_layout.sforge", "-o", tmp_path / "p.glb")
    assert code == 0 and "5 closed meshes" in out, err


def test_layout_errors(run, room, tmp_path):
    folder, _ = room
    code, _, err = run("layout", folder / "room.ply", "-o", tmp_path / "x.json", "--up-hint", "sideways")
    one_line_error(code, err, "--up-hint")
    code, _, err = run("layout", tmp_path / "missing.ply", "-o", tmp_path / "x.json")
    one_line_error(code, err, "missing.ply")
    code, _, err = run("layout", folder / "room.ply", "-o", tmp_path / "no" / "x.json")
    one_line_error(code, err, "does not exist")
    rng = np.random.default_rng(0)
    n = 2000
    blob = SplatCloud.from_activated(rng.normal(size=(n, 3)), np.full((n, 3), 0.01), np.tile([1.0, 0, 0, 0], (n, 1)),
                                     np.full(n, 0.9), colors=np.full((n, 3), 0.5))
    write_splats(blob, tmp_path / "blob.ply")
    code, _, err = run("layout", tmp_path / "blob.ply", "-o", tmp_path / "x.json")
    one_line_error(code, err, "no floor")
    code, _, err = run("layout", folder / "room.ply")
    one_line_error(code, err, "-o")
    assert not (tmp_path / "x.json").exists()


def test_collider_errors(run, tmp_path):
    Layout().save(tmp_path / "empty.json")
    code, _, err = run("collider", tmp_path / "empty.json", "-o", tmp_path / "c.glb")
    one_line_error(code, err, "no (visible) solid primitives")
    code, _, err = run("collider", tmp_path / "empty.json", "-o", tmp_path / "c.stl")
    one_line_error(code, err, ".glb or .obj")
    code, _, err = run("collider", tmp_path / "nope.json", "-o", tmp_path / "c.glb")
    one_line_error(code, err, "no such file")
    (tmp_path / "bad.json").write_text('{"schema": "splatforge.layout", "version": 1, "primitives": [{"id": "a", "type": "box", "size": [1, 0, 1]}]}')
    code, _, err = run("collider", tmp_path / "bad.json", "-o", tmp_path / "c.glb")
    one_line_error(code, err, "box size")
    (tmp_path / "bad.sforge").write_bytes(b"nonsense")
    code, _, err = run("collider", tmp_path / "bad.sforge", "-o", tmp_path / "c.glb")
    one_line_error(code, err, "bad.sforge")
    code, _, err = run("collider", tmp_path / "empty.json", "-o", tmp_path / "c.glb", "--up", "x")
    one_line_error(code, err, "--up")


def test_registered_in_the_real_entry_point(room, tmp_path):
    """Runs `main.py layout` as a user would, once the modules are listed in
    app.cli.main._COMMAND_MODULES (until then: skipped)."""
    if not set(MINE) <= set(cli._COMMAND_MODULES):
        pytest.skip("app.cli.layout / app.cli.collider are not yet in app.cli.main._COMMAND_MODULES")
    folder, _ = room
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "layout", str(folder / "room.ply"), "-o", str(tmp_path / "L.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "collider", str(tmp_path / "L.json"), "-o", str(tmp_path / "c.glb")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
