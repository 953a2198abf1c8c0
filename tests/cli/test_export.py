"""`splatforge export`: every preset writes a file its readers accept, in the
preset's frame, with the budget and SH flags applied; a project's collider is
written beside it and lines up with the splats in the target; bad requests
end with exit status 2, one stderr line and no file.

Run through the real dispatcher (`app.cli.main.main`) in-process, with
``app.cli.export`` added to its command list when main.py does not list it yet.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import app.cli.main as cli_main
from editor.export_presets import PRESETS, TO_LUF, TO_RUB, frame_cloud
from editor.formats import gltf, registry
from editor.formats.ply import CODEC as PLY
from editor.model.document import Document, Layer
from editor.model.layout import Box, Layout, Plane
from editor.model.splat_cloud import clouds_close
from editor.project import save_project
from tests.formats.synth import random_cloud

EXT = {"unity": ".ply", "unreal": ".ply", "godot": ".ply", "blender": ".ply", "playcanvas": ".sog",
       "web": ".spz", "gltf": ".glb"}


@pytest.fixture
def splatforge(monkeypatch, capsys):
    """Run ``splatforge ARGS`` in-process: (exit status, stdout, stderr)."""
    if "app.cli.export" not in cli_main._COMMAND_MODULES:
        monkeypatch.setattr(cli_main, "_COMMAND_MODULES", (*cli_main._COMMAND_MODULES, "app.cli.export"))
    codecs = list(registry.codecs())
    if not any(c.name == "gltf" for c in codecs):
        monkeypatch.setattr(registry, "_codecs", codecs + [gltf.CODEC])
    monkeypatch.setenv("SPLATFORGE_PROGRESS", "0")

    def run(*args):
        code = cli_main.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_one_line_error(result, fragment=""):
    code, out, err = result
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splatforge: error: "), err
    assert fragment in lines[0], lines[0]


@pytest.fixture
def source(tmp_path):
    cloud = random_cloud(1500, 3, seed=1)
    path = tmp_path / "scan.ply"
    PLY.write(cloud, path, None)
    return cloud, path


def test_every_preset_is_available_with_a_writer():
    assert set(PRESETS) == set(EXT)
    for name, p in PRESETS.items():
        assert p.max_splats >= 1 and 0 <= p.sh_degree <= 3 and p.source and p.reader
        for m in (p.matrix, p.collider_matrix):
            assert np.allclose(m @ m.T, np.eye(3)) and abs(abs(np.linalg.det(m)) - 1) < 1e-12
        assert np.linalg.det(p.collider_matrix) > 0  # proper: keeps the colliders' winding


@pytest.mark.parametrize("preset", sorted(EXT))
def test_each_preset_writes_its_format_in_its_frame(tmp_path, splatforge, source, preset):
    cloud, path = source
    out = tmp_path / f"out{EXT[preset]}"
    code, stdout, err = splatforge("export", path, "-o", out, "--preset", preset)
    assert code == 0, err
    assert out.is_file() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert f"{len(cloud)} splats" in stdout and "MiB" in stdout
    loaded = registry.read_splats(out)
    p = PRESETS[preset]
    degree = min(3, p.sh_degree)
    assert len(loaded.cloud) == len(cloud) and loaded.cloud.sh_degree == degree
    expected = frame_cloud(cloud.with_sh_degree(degree), p)
    # the reader undoes the codec's own frame (SPZ RUB, glTF LUF): what is left is the preset's matrix
    tol = {"ply": 0.0, "gltf": 0.0, "spz": 2.0**-12, "sog": 5e-3, "compressed-ply": 1e-2}[loaded.format]
    err = np.abs(np.sort(loaded.cloud.positions, axis=0) - np.sort(expected.positions, axis=0)).max()
    assert err <= tol * max(1.0, float(np.abs(expected.positions).max())), (loaded.format, err)
    if loaded.format == "ply":
        assert clouds_close(expected, loaded.cloud, {"positions": 0, "rotations": 0, "log_scales": 0, "sh": 0}) == []


def test_budget_and_sh_flags(tmp_path, splatforge, source):
    cloud, path = source
    out = tmp_path / "b.ply"
    code, stdout, err = splatforge("export", path, "-o", out, "--preset", "unity", "--max-splats", 400, "--sh-degree", 1)
    assert code == 0, err
    back = registry.read_splats(out).cloud
    assert 380 <= len(back) <= 400 and back.sh_degree == 1  # merging neighbours gives at most N
    assert "(of 1500)" in stdout
    code, stdout, err = splatforge("export", path, "-o", out, "--preset", "unity", "--max-splats", 400,
                                   "--reduce", "importance")
    assert code == 0, err
    assert len(registry.read_splats(out).cloud) == 400
    # auto keeps the most important splats as they are when most of them stay
    code, stdout, err = splatforge("export", path, "-o", out, "--preset", "unreal", "--max-splats", 1200)
    assert code == 0, err
    kept = registry.read_splats(out).cloud
    assert len(kept) == 1200
    assert np.isin(kept.positions[:, 0], cloud.positions[:, 0]).all()
    # the web preset drops SH to degree 1 unless asked otherwise; --sh-degree never pads
    code, _, err = splatforge("export", path, "-o", tmp_path / "w.spz", "--preset", "web")
    assert code == 0 and registry.read_splats(tmp_path / "w.spz").cloud.sh_degree == 1
    PLY.write(cloud.with_sh_degree(0), tmp_path / "dc.ply", None)
    code, _, err = splatforge("export", tmp_path / "dc.ply", "-o", tmp_path / "dc.glb", "--preset", "gltf",
                              "--sh-degree", 3)
    assert code == 0 and registry.read_splats(tmp_path / "dc.glb").cloud.sh_degree == 0


def test_output_folder_takes_the_input_name(tmp_path, splatforge, source):
    _, path = source
    folder = tmp_path / "exports"
    folder.mkdir()
    code, stdout, err = splatforge("export", path, "-o", folder, "--preset", "web")
    assert code == 0, err
    assert (folder / "scan.spz").is_file()


# ----------------------------------------------------------------- projects
def _project(tmp_path, cloud, layout, name="room") -> Path:
    flags = np.zeros(len(cloud), np.uint8)
    flags[:100] = 4  # deleted splats are not exported
    doc = Document([Layer("l1", "scan", cloud, flags), Layer("l2", "hidden", random_cloud(50, 3, 2), visible=False)],
                   layout)
    path = tmp_path / f"{name}.sforge"
    save_project(doc, path)
    return path


def _glb_positions(path: Path) -> np.ndarray:
    data = path.read_bytes()
    jlen = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + jlen])
    binary = data[28 + jlen:]
    out = []
    for mesh in doc["meshes"]:
        acc = doc["accessors"][mesh["primitives"][0]["attributes"]["POSITION"]]
        view = doc["bufferViews"][acc["bufferView"]]
        out.append(np.frombuffer(binary, "<f4", acc["count"] * 3, view["byteOffset"]).reshape(-1, 3))
    return np.concatenate(out)


def test_project_exports_its_live_splats_and_the_collider(tmp_path, splatforge):
    from editor.geometry.meshing import layout_meshes

    cloud = random_cloud(600, 1, seed=3)
    layout = Layout({
        "f": Plane("f", "Floor", position=(0, 1.5, 0), size=(4, 4), thickness=0.1, role="floor"),
        "b": Box("b", "Crate", position=(0.5, 1.0, 2.0), size=(1, 1, 1)),
    })
    project = _project(tmp_path, cloud, layout)
    out = tmp_path / "room.ply"
    code, stdout, err = splatforge("export", project, "-o", out, "--preset", "blender")
    assert code == 0, err
    assert len(registry.read_splats(out).cloud) == 500  # 600 minus 100 deleted; hidden layer left out
    collider = tmp_path / "room_collider.glb"
    assert collider.is_file() and "collider, 2 closed meshes" in stdout
    verts = np.concatenate([m.vertices for m in layout_meshes(layout)])
    assert np.allclose(_glb_positions(collider), verts @ PRESETS["blender"].collider_matrix.T, atol=1e-5)

    code, stdout, err = splatforge("export", project, "-o", tmp_path / "nc.ply", "--preset", "godot", "--no-collider")
    assert code == 0 and not (tmp_path / "nc_collider.glb").exists()
    empty = _project(tmp_path, cloud, Layout(), name="empty")
    code, stdout, err = splatforge("export", empty, "-o", tmp_path / "e.ply", "--preset", "godot")
    assert code == 0 and "no collider" in stdout and not (tmp_path / "e_collider.glb").exists()


#: How each target's glTF importer maps glTF vertex coordinates into its own
#: world, and how its splat importer places the numbers on disk (both 3x3).
GLTF_IMPORT = {
    "unity": np.diag([-1.0, 1.0, 1.0]),  # glTFast / UnityGLTF negate x
    "godot": np.eye(3),
    "blender": np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]),  # Y-up -> Z-up: (x, -z, y)
    "playcanvas": np.eye(3),
    "web": np.eye(3),
    "gltf": np.eye(3),
}
SPLAT_PLACEMENT = {  # on-disk numbers -> engine world
    "unity": np.eye(3), "godot": np.eye(3), "blender": np.eye(3), "web": np.eye(3), "gltf": np.eye(3),
    "playcanvas": TO_RUB,  # the gsplat entity's 180 degree turn about x
}
CODEC_FRAME = {"unity": np.eye(3), "godot": np.eye(3), "blender": np.eye(3), "playcanvas": np.eye(3),
               "web": TO_RUB, "gltf": TO_LUF}


@pytest.mark.parametrize("preset", sorted(GLTF_IMPORT))
def test_collider_lines_up_with_the_splats_in_the_target(preset):
    p = PRESETS[preset]
    splats_in_world = SPLAT_PLACEMENT[preset] @ CODEC_FRAME[preset] @ p.matrix
    collider_in_world = GLTF_IMPORT[preset] @ p.collider_matrix
    assert np.allclose(splats_in_world, collider_in_world)
    # and the world is the target's up: the 3DGS "up" (-y) ends on the target's up axis
    up = splats_in_world @ np.array([0.0, -1.0, 0.0])
    assert np.allclose(up, [0, 0, 1] if preset == "blender" else [0, 1, 0])


# ---------------------------------------------------------------- bad input
def test_bad_requests_exit_2_with_one_line_and_no_file(tmp_path, splatforge, source):
    _, path = source
    out = tmp_path / "o.ply"
    assert_one_line_error(splatforge("export", path, "-o", out, "--preset", "unity", "--max-splats", 0), "max-splats")
    assert_one_line_error(splatforge("export", path, "-o", out, "--preset", "nonsense"), "preset")
    assert_one_line_error(splatforge("export", path, "-o", out, "--preset", "web"), "must end in .spz")
    assert_one_line_error(splatforge("export", tmp_path / "missing.ply", "-o", out, "--preset", "unity"), "missing.ply")
    (tmp_path / "junk.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99999\nend_header\n")
    assert_one_line_error(splatforge("export", tmp_path / "junk.ply", "-o", out, "--preset", "unity"), "junk.ply")
    (tmp_path / "a_file").write_text("x")
    assert_one_line_error(splatforge("export", path, "-o", tmp_path / "a_file" / "o.ply", "--preset", "unity"), "o.ply")
    assert_one_line_error(splatforge("export", path, "-o", tmp_path / "nowhere" / "o.ply", "--preset", "unity"),
                          "does not exist")
    (tmp_path / "bad.sforge").write_bytes(b"not a zip")
    assert_one_line_error(splatforge("export", tmp_path / "bad.sforge", "-o", out, "--preset", "unity"), "bad.sforge")
    assert_one_line_error(splatforge("export", path, "--preset", "unity"), "")  # no -o
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
