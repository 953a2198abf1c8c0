"""Independent reader: PlayCanvas splat-transform (npm, MIT; test-only).

Every file we write is read back by splat-transform and converted to a plain
PLY, which plyfile (not our reader) parses: the splat count and bounds must
match. Files splat-transform writes from our PLY are read by us and must
match the source. `make test` installs the tool into .peer/; without npm
these tests skip with that reason.

splat-transform 3.x keeps PLY axes unchanged in SPZ (no RUB conversion), so
for SPZ we compare with our cloud turned into the SPZ spec's RUB frame.
"""
import subprocess
from pathlib import Path

import numpy as np
import pytest
from plyfile import PlyData

from editor.formats import read_splats, write_splats
from tests.formats.synth import random_cloud
from tests.peers.validators import splat_transform

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> str:
    found = splat_transform()
    if found is None:
        pytest.skip("splat-transform not installed (make peers needs npm)")
    return found


def _run(*args):
    r = subprocess.run([_tool(), "-q", "-w", *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    return r


def _peer_positions(path: Path) -> np.ndarray:
    v = PlyData.read(str(path))["vertex"].data
    return np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float64)


WRITTEN = [
    ("ours.ply", {}, 3, 1e-6),
    ("ours.compressed.ply", {}, 0, 1e-2),  # 10-11 bits over each 256-splat chunk
    ("ours.spz", {"version": 3}, 2, 2.0**-11),
    ("ours.spz", {"version": 4}, 3, 2.0**-11),
    ("ours.splat", {}, 0, 1e-6),
    ("ours.sog", {}, 2, 1e-3),
]


@pytest.mark.parametrize("name, options, degree, tol", WRITTEN, ids=[f"{w[0]}-{w[1]}" for w in WRITTEN])
def test_peer_reads_what_we_write(tmp_path, name, options, degree, tol):
    cloud = random_cloud(2000, degree, seed=3)
    ours = tmp_path / name
    write_splats(cloud, ours, **options)
    out = tmp_path / "peer.ply"
    _run(ours, out)
    p = _peer_positions(out)
    assert len(p) == len(cloud)
    expected = cloud.positions.astype(np.float64)
    if name.endswith(".spz"):
        expected = expected * [1, -1, -1]  # our file is RUB per the spec; the peer does not convert
    assert np.allclose(p.min(0), expected.min(0), atol=tol)
    assert np.allclose(p.max(0), expected.max(0), atol=tol)
    # same multiset of centres (the peer may keep or reorder splats)
    assert np.allclose(np.sort(p, axis=0), np.sort(expected, axis=0), atol=tol)


@pytest.mark.parametrize("ext", [".compressed.ply", ".spz", ".ply"])
def test_we_read_what_the_peer_writes(tmp_path, ext):
    cloud = random_cloud(3000, 0, seed=5)
    src = tmp_path / "src.ply"
    write_splats(cloud, src)
    out = tmp_path / f"peer{ext}"
    _run(src, out)
    back = read_splats(out, spz_frame="RDF").cloud
    assert len(back) == len(cloud)
    tol = {".ply": 1e-6, ".compressed.ply": 1e-2, ".spz": 2.0**-11}[ext]
    a = np.sort(back.positions, axis=0)
    b = np.sort(cloud.positions, axis=0)
    assert np.allclose(a, b, atol=tol)
    assert abs(float(back.opacities.mean() - cloud.opacities.mean())) < 2e-3
