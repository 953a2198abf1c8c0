"""glTF + KHR_gaussian_splatting against an independent writer: PlayCanvas
splat-transform (npm, MIT; test-only; it writes .glb but does not read it).

From one PLY, splat-transform writes a .glb; our reader must give back the
PLY's splats (so both programs agree on the frame, the activations and the SH
layout), and our own .glb of the same PLY must hold the same numbers in its
accessors. Skipped with the reason when the tool is not installed.
"""
import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from editor.formats import gltf
from editor.formats.ply import CODEC as PLY
from editor.model.splat_cloud import quaternion_to_matrix
from tests.formats.synth import random_cloud
from tests.peers.validators import splat_transform

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> str:
    found = splat_transform()
    if found is None:
        pytest.skip("splat-transform not installed (make peers needs npm)")
    return found


def _peer_glb(tmp_path: Path, cloud) -> Path:
    src = tmp_path / "src.ply"
    PLY.write(cloud, src, None)
    out = tmp_path / "peer.glb"
    r = subprocess.run([_tool(), "-q", "-w", str(src), str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    return out


def _covariances(cloud):
    r = quaternion_to_matrix(cloud.rotations)
    return np.einsum("nij,nj,nkj->nik", r, np.exp(2.0 * cloud.log_scales.astype(np.float64)), r)


def _accessors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    jlen = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + jlen])
    binary = data[28 + jlen:]
    out = {}
    for name, index in doc["meshes"][0]["primitives"][0]["attributes"].items():
        acc = doc["accessors"][index]
        view = doc["bufferViews"][acc["bufferView"]]
        dt = {5126: "<f4", 5121: "u1"}[acc["componentType"]]
        n = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
        start = view["byteOffset"] + acc.get("byteOffset", 0)
        out[name] = np.frombuffer(binary, dt, acc["count"] * n, start).reshape(-1, n)
    return out


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_we_read_what_splat_transform_writes(tmp_path, degree):
    cloud = random_cloud(2000, degree, seed=30 + degree)
    loaded = gltf.read(_peer_glb(tmp_path, cloud))
    back = loaded.cloud
    assert loaded.details["generator"].startswith("splat-transform")
    assert len(back) == len(cloud) and back.sh_degree == degree
    assert np.abs(back.positions - cloud.positions).max() <= 1e-6
    assert np.abs(back.sh - cloud.sh).max() <= 1e-6
    assert np.abs(back.opacities - cloud.opacities).max() <= 2e-7
    assert np.abs(back.log_scales - cloud.log_scales).max() <= 1e-6
    # splat-transform composes the quaternion with the half turn, we conjugate:
    # different quaternions, the same Gaussian
    rel = np.abs(_covariances(back) - _covariances(cloud)).max(axis=(1, 2)) / np.abs(_covariances(cloud)).max(axis=(1, 2))
    assert rel.max() < 1e-5


def test_our_glb_holds_the_same_numbers_as_splat_transforms(tmp_path):
    cloud = random_cloud(500, 2, seed=40)
    peer = _accessors(_peer_glb(tmp_path, cloud))
    ours_path = tmp_path / "ours.glb"
    gltf.write(cloud, ours_path)
    ours = _accessors(ours_path)
    assert set(ours) == set(peer)  # same semantics, COLOR_0 fallback included
    for name in ours:
        if name in ("KHR_gaussian_splatting:ROTATION", "COLOR_0"):
            continue
        assert np.allclose(ours[name], peer[name], rtol=1e-6, atol=1e-6), name
    # rotations: same rotation matrices in the glTF frame (the quaternions differ by the representation)
    def mats(xyzw):
        return quaternion_to_matrix(xyzw[:, [3, 0, 1, 2]].astype(np.float64))
    s2 = ours["KHR_gaussian_splatting:SCALE"].astype(np.float64) ** 2
    cov_o = np.einsum("nij,nj,nkj->nik", mats(ours["KHR_gaussian_splatting:ROTATION"]), s2, mats(ours["KHR_gaussian_splatting:ROTATION"]))
    cov_p = np.einsum("nij,nj,nkj->nik", mats(peer["KHR_gaussian_splatting:ROTATION"]), s2, mats(peer["KHR_gaussian_splatting:ROTATION"]))
    assert np.abs(cov_o - cov_p).max() < 1e-5 * np.abs(cov_p).max()
    # COLOR_0: the peer skips the sRGB -> linear decode the spec asks for; alpha agrees
    assert np.abs(ours["COLOR_0"][:, 3].astype(int) - peer["COLOR_0"][:, 3]).max() <= 1
