"""End-to-end tests of `splatforge info` and `convert`, run as a user would:
a subprocess per command, checking exit status, stdout and the one stderr line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from editor.formats import read_splats, write_splats
from editor.model.splat_cloud import SplatCloud, normalize_quaternions

ROOT = Path(__file__).resolve().parents[2]

SAMPLE_FILES = [
    ("donut.ply", 45624),
    ("guitar.compressed.ply", 90854),
    ("guitar.spz", 90854),
    ("minimal-raw.spz", 4),
    ("minimal-v2.spz", 4),
    ("minimal-v3.spz", 4),
    ("minimal-v4.spz", 4),
    ("minimal.ksplat", 4),
    ("minimal.splat", 4),
    ("monkey_0001.sog", 31658),
    ("playcanvas-logo-sog/meta.json", 307128),
]


def splatforge(*args, cwd=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def assert_one_line_error(result, path_fragment=""):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("splatforge: error: ")
    assert path_fragment in lines[0]
    assert "Traceback" not in result.stderr


def small_cloud(n=300, degree=2, seed=0):
    rng = np.random.default_rng(seed)
    return SplatCloud(
        rng.normal(size=(n, 3)),
        rng.uniform(-5, -1, size=(n, 3)),
        normalize_quaternions(rng.normal(size=(n, 4))),
        rng.uniform(-3, 3, size=n),
        rng.normal(scale=0.3, size=(n, (degree + 1) ** 2, 3)),
    )


@pytest.mark.parametrize("name, count", SAMPLE_FILES)
def test_info_json_on_every_sample(samples_dir, name, count):
    r = splatforge("info", samples_dir / name, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    for key in ("format", "count", "sh_degree", "bounds_min", "bounds_max"):
        assert key in info
    assert info["count"] == count
    assert info["sh_degree"] == 0
    assert all(lo <= hi for lo, hi in zip(info["bounds_min"], info["bounds_max"]))


def test_info_text(samples_dir):
    r = splatforge("info", samples_dir / "donut.ply")
    assert r.returncode == 0, r.stderr
    assert "45,624" in r.stdout and "SH degree" in r.stdout


@pytest.mark.parametrize("ext", [".ply", ".compressed.ply", ".splat", ".spz", ".sog"])
def test_convert_sample_to_every_writable_format(samples_dir, tmp_path, ext):
    out = tmp_path / f"out{ext}"
    r = splatforge("convert", samples_dir / "guitar.compressed.ply", out)
    assert r.returncode == 0, r.stderr
    back = read_splats(out).cloud
    assert len(back) == 90854
    src = read_splats(samples_dir / "guitar.compressed.ply").cloud
    lo, hi = src.bounds()
    blo, bhi = back.bounds()
    extent = float(np.max(hi - lo))
    assert np.allclose(blo, lo, atol=0.01 * extent) and np.allclose(bhi, hi, atol=0.01 * extent)


def test_convert_reduces_sh_and_count(tmp_path):
    src = tmp_path / "in.ply"
    write_splats(small_cloud(300, degree=3), src)
    out = tmp_path / "out.ply"
    r = splatforge("convert", src, out, "--sh-degree", "1", "--max-splats", "100")
    assert r.returncode == 0, r.stderr
    back = read_splats(out).cloud
    assert len(back) == 100 and back.sh_degree == 1


def test_missing_file(tmp_path):
    assert_one_line_error(splatforge("info", tmp_path / "nope.ply"), "nope.ply")


def test_corrupt_file_gives_one_line_and_no_output(tmp_path):
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1000\nproperty float x\nend_header\n\x00\x01")
    out = tmp_path / "out.spz"
    assert_one_line_error(splatforge("convert", bad, out), "bad.ply")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no temp files left behind


def test_unknown_output_extension(tmp_path):
    src = tmp_path / "in.ply"
    write_splats(small_cloud(10), src)
    r = splatforge("convert", src, tmp_path / "out.xyz")
    assert_one_line_error(r, "out.xyz")
    assert not (tmp_path / "out.xyz").exists()


def test_unwritable_output_folder(tmp_path):
    src = tmp_path / "in.ply"
    write_splats(small_cloud(10), src)
    assert_one_line_error(splatforge("convert", src, tmp_path / "no" / "such" / "out.ply"), "out.ply")


def test_bad_arguments_are_one_line(tmp_path):
    assert_one_line_error(splatforge("convert", "a.ply"))
    assert_one_line_error(splatforge("info", "x.ply", "--bogus"))
    src = tmp_path / "in.ply"
    write_splats(small_cloud(10), src)
    assert_one_line_error(splatforge("convert", src, tmp_path / "o.ply", "--max-splats", "0"))
    assert_one_line_error(splatforge("convert", src, tmp_path / "o.ply", "--sh-degree", "7"))


def test_not_a_splat_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    assert_one_line_error(splatforge("info", p), "notes.txt")


def test_main_py_and_console_script_agree(tmp_path):
    src = tmp_path / "in.ply"
    write_splats(small_cloud(20), src)
    exe = Path(sys.executable).with_name("splatforge")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    a = splatforge("info", src, "--json")
    b = subprocess.run([str(exe), "info", str(src), "--json"], capture_output=True, text=True)
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout) == json.loads(b.stdout)
