"""PlayCanvas compressed PLY: the SuperSplat sample, bit layout, round trips."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import plyfile
import pytest

from editor.formats import FormatError, read_splats, write_splats
from editor.formats import compressed_ply as cp
from editor.formats import ply
from editor.formats.registry import detect_codec
from editor.model.splat_cloud import SH_C0, SplatCloud, sigmoid
from tests.formats.synth import random_cloud



@pytest.fixture
def guitar(samples_dir) -> Path:
    """guitar.compressed.ply: 90854 splats in 355 chunks, written by SuperSplat 2.7.1."""
    return samples_dir / "guitar.compressed.ply"


def _decode_one(chunk, packed, i):
    """Decode splat ``i`` by hand with plain Python, straight from the layout
    description (independent of the vectorised reader)."""
    c = chunk[i // 256]
    pp, pr, ps, pc = (int(packed[name][i]) for name in cp._PACKED)

    def lerp(lo, hi, u, bits):
        t = u / ((1 << bits) - 1)
        return lo * (1 - t) + hi * t

    pos = [lerp(c["min_x"], c["max_x"], pp >> 21, 11), lerp(c["min_y"], c["max_y"], (pp >> 11) & 1023, 10),
           lerp(c["min_z"], c["max_z"], pp & 2047, 11)]
    scale = [lerp(c["min_scale_x"], c["max_scale_x"], ps >> 21, 11),
             lerp(c["min_scale_y"], c["max_scale_y"], (ps >> 11) & 1023, 10),
             lerp(c["min_scale_z"], c["max_scale_z"], ps & 2047, 11)]
    rgb = [lerp(c[f"min_{ch}"], c[f"max_{ch}"], (pc >> shift) & 255, 8) for ch, shift in zip("rgb", (24, 16, 8))]
    alpha = (pc & 255) / 255
    abc = [(((pr >> shift) & 1023) / 1023 - 0.5) * math.sqrt(2) for shift in (20, 10, 0)]
    largest = pr >> 30
    q = abc[:largest] + [math.sqrt(max(0.0, 1 - sum(v * v for v in abc)))] + abc[largest:]
    norm = math.sqrt(sum(v * v for v in q))
    return pos, scale, [(v - 0.5) / SH_C0 for v in rgb], alpha, [v / norm for v in q]


def test_guitar_sample(guitar):
    loaded = read_splats(guitar)
    cloud = loaded.cloud
    assert loaded.format == "compressed-ply"
    assert len(cloud) == 90854 and cloud.sh_degree == 0
    assert loaded.details["chunks"] == 355 and loaded.details["chunk_colors"]
    lo, hi = cloud.bounds()
    assert np.all(hi - lo > 0.5) and np.all(hi - lo < 10)
    assert np.isfinite(cloud.log_scales).all() and cloud.scales.max() < 1.0
    np.testing.assert_allclose(np.linalg.norm(cloud.rotations, axis=1), 1, atol=1e-6)
    op = cloud.opacities
    assert 0 <= op.min() and op.max() <= 1 and 0.1 < op.mean() < 0.9

    data = plyfile.PlyData.read(str(guitar))
    chunk, packed = data["chunk"].data, data["vertex"].data
    ci = np.arange(len(cloud)) // 256
    for axis, name in enumerate("xyz"):  # every centre lies inside its chunk's bounds
        assert np.all(cloud.positions[:, axis] >= chunk[f"min_{name}"][ci] - 1e-6)
        assert np.all(cloud.positions[:, axis] <= chunk[f"max_{name}"][ci] + 1e-6)
    for i in (0, 1, 255, 256, 40000, 90853):
        pos, scale, dc, alpha, q = _decode_one(chunk, packed, i)
        np.testing.assert_allclose(cloud.positions[i], pos, atol=1e-6)
        np.testing.assert_allclose(cloud.log_scales[i], scale, atol=1e-5)
        np.testing.assert_allclose(cloud.sh[i, 0], dc, atol=1e-5)
        assert abs(float(cloud.opacities[i]) - alpha) < 2e-6
        np.testing.assert_allclose(cloud.rotations[i], q, atol=1e-6)


def test_guitar_rewrite_is_near_lossless(tmp_path, guitar):
    cloud = read_splats(guitar).cloud
    out = tmp_path / "g.compressed.ply"
    write_splats(cloud, out)
    again = read_splats(out).cloud
    ref = cloud.subset(cp.morton_order(cloud.positions))
    # the data already sits on a quantisation grid; only the chunking changes
    extent = ref.positions.max(axis=0) - ref.positions.min(axis=0)
    assert np.abs(again.positions - ref.positions).max() < extent.max() / 1023
    assert np.abs(again.opacities - ref.opacities).max() <= 1 / 510 + 1e-6
    assert np.abs(again.base_colors - ref.base_colors).max() < 1 / 255
    dots = np.abs(np.sum(again.rotations * ref.rotations, axis=1))
    assert dots.min() > 1 - 1e-5


def _chunk_extent(values: np.ndarray) -> np.ndarray:
    """Per-splat extent (N, 3) of ``values`` (N, 3) over its 256-splat chunk."""
    n = len(values)
    pad = np.concatenate([values, np.repeat(values[-1:], (-n) % 256, axis=0)])
    c = pad.reshape(-1, 256, 3)
    ext = c.max(axis=1) - c.min(axis=1)
    return np.repeat(ext, 256, axis=0)[:n]


@pytest.mark.parametrize("degree,n", [(0, 1), (0, 1000), (1, 256), (2, 700), (3, 1500)])
def test_round_trip_within_documented_tolerances(tmp_path, degree, n):
    cloud = random_cloud(n, degree, seed=degree + n)
    path = tmp_path / "r.compressed.ply"
    write_splats(cloud, path)
    got = read_splats(path).cloud
    assert len(got) == n and got.sh_degree == degree
    ref = cloud.subset(cp.morton_order(cloud.positions))
    bits = np.array([2047.0, 1023.0, 2047.0])
    eps = 1e-5
    pos_tol = _chunk_extent(ref.positions) / (2 * bits) + eps
    assert np.all(np.abs(got.positions - ref.positions) <= pos_tol)
    scale_tol = _chunk_extent(ref.log_scales) / (2 * bits) + eps
    assert np.all(np.abs(got.log_scales - ref.log_scales) <= scale_tol)
    color_ref = 0.5 + SH_C0 * ref.sh[:, 0].astype(np.float64)
    color_tol = _chunk_extent(color_ref) / 510 + eps
    assert np.all(np.abs(got.base_colors - color_ref) <= color_tol)
    assert np.abs(got.opacities - sigmoid(ref.opacity_logits)).max() <= 1 / 510 + 1e-6
    sign = np.sign(np.sum(got.rotations * ref.rotations, axis=1, keepdims=True))
    assert np.abs(got.rotations * sign - ref.rotations).max() < 1.5e-3
    if degree:
        assert np.abs(got.sh[:, 1:] - ref.sh[:, 1:]).max() <= 1 / 32 + 1e-6


def test_morton_order_makes_tight_chunks():
    cloud = random_cloud(256 * 64, 0, seed=3)
    order = cp.morton_order(cloud.positions)
    assert np.array_equal(np.sort(order), np.arange(len(cloud)))
    tight = _chunk_extent(cloud.positions[order]).prod(axis=1).mean()  # mean chunk box volume
    loose = _chunk_extent(cloud.positions).prod(axis=1).mean()
    assert tight < loose / 10  # 64 chunks: ideal is 1/64 of the box each; measured ~1/19
    assert cp.morton_order(np.zeros((0, 3))).shape == (0,)
    assert np.array_equal(cp.morton_order(np.ones((5, 3))), np.arange(5))


def test_written_layout_matches_supersplat(tmp_path):
    cloud = random_cloud(300, 1, seed=1)
    path = tmp_path / "x.compressed.ply"
    write_splats(cloud, path)
    data = plyfile.PlyData.read(str(path))
    assert [e.name for e in data.elements] == ["chunk", "vertex", "sh"]
    assert [p.name for p in data["chunk"].properties] == list(cp._POSITION_BOUNDS + cp._SCALE_BOUNDS + cp._COLOR_BOUNDS)
    assert data["chunk"].count == 2 and data["vertex"].count == 300 and data["sh"].count == 300
    assert {data["vertex"].data.dtype[p].str for p in cp._PACKED} == {"<u4"}
    assert data["sh"].data.dtype["f_rest_0"] == np.uint8 and len(data["sh"].properties) == 9
    assert cp.sniff(path.read_bytes()[:4096], path) and not ply.sniff(path.read_bytes()[:4096], path)
    # a rotation that is exactly a basis quaternion packs as largest index + three mid values
    one = SplatCloud(np.zeros((1, 3)), np.zeros((1, 3)), [[0, 0, -1, 0]], [0.0], np.zeros((1, 1, 3)))
    assert cp._pack_rotations(one.rotations)[0] >> 30 == 2


def test_sh_byte_mapping(tmp_path):
    cloud = random_cloud(3, 1, seed=0)
    cloud.sh[:, 1:] = 0
    cloud.sh[0, 1, 0] = -4.0
    cloud.sh[1, 1, 0] = 3.999
    cloud.sh[2, 1, 0] = 100.0
    path = tmp_path / "s.compressed.ply"
    write_splats(cloud, path)
    sh = plyfile.PlyData.read(str(path))["sh"].data["f_rest_0"]
    got = read_splats(path).cloud
    order = cp.morton_order(cloud.positions)
    expected = {0: 0, 1: 255, 2: 255}
    for row, src in enumerate(order):
        assert sh[row] == expected[src]
        assert got.sh[row, 1, 0] == {0: -4.0, 255: 4.0}[sh[row]]
    assert np.all(plyfile.PlyData.read(str(path))["sh"].data["f_rest_1"] == 128)  # 0.0 -> trunc(128)


def test_chunks_without_colour_bounds(tmp_path):
    """Older SuperSplat files have 12 chunk properties; colour bytes are the colour itself."""
    chunk = np.zeros(1, [(p, "f4") for p in cp._POSITION_BOUNDS + cp._SCALE_BOUNDS])
    chunk["max_x"] = chunk["max_y"] = chunk["max_z"] = 2.0
    chunk["min_scale_x"] = chunk["min_scale_y"] = chunk["min_scale_z"] = -5.0
    vertex = np.zeros(2, [(p, "u4") for p in cp._PACKED])
    vertex["packed_position"] = [(2047 << 21) | (1023 << 11) | 2047, 0]
    vertex["packed_rotation"] = [(0 << 30) | (512 << 20) | (512 << 10) | 512] * 2
    vertex["packed_color"] = [(255 << 24) | (0 << 16) | (51 << 8) | 255, 0x80808080]
    path = tmp_path / "old.compressed.ply"
    plyfile.PlyData([plyfile.PlyElement.describe(chunk, "chunk"), plyfile.PlyElement.describe(vertex, "vertex")]
                    ).write(str(path))
    got = read_splats(path).cloud
    np.testing.assert_allclose(got.positions, [[2, 2, 2], [0, 0, 0]])
    np.testing.assert_allclose(got.log_scales, -5.0)
    np.testing.assert_allclose(got.base_colors[0], [1.0, 0.0, 0.2], atol=1e-6)
    np.testing.assert_allclose(got.rotations[:, 0], 1.0, atol=1e-5)
    assert got.opacities[0] > 0.999 and abs(got.opacities[1] - 128 / 255) < 1e-6


def test_empty_cloud_round_trip(tmp_path):
    path = tmp_path / "e.compressed.ply"
    write_splats(SplatCloud.empty(2), path)
    got = read_splats(path).cloud
    assert len(got) == 0 and got.sh_degree == 2


def _error(tmp_path, data: bytes) -> str:
    path = tmp_path / "bad.compressed.ply"
    path.write_bytes(data)
    with pytest.raises(FormatError) as info:
        read_splats(path)
    return str(info.value)


def test_hostile_files(tmp_path, guitar):
    data = guitar.read_bytes()
    assert "truncated" in _error(tmp_path, data[:-100])
    assert "chunks for" in _error(tmp_path, data.replace(b"element chunk 355", b"element chunk 354"))
    assert "no property packed_color" in _error(tmp_path, data.replace(b"packed_color", b"packed_colour"))
    assert "no property min_r" in _error(tmp_path, data.replace(b"property float min_r", b"property float min_q"))
    assert "32-bit" in _error(tmp_path, data.replace(b"property uint packed_scale", b"property uchar packed_scale"))
    assert "ASCII" in _error(tmp_path, data.replace(b"binary_little_endian", b"ascii"))
    big = data.replace(b"element vertex 90854", b"element vertex 9085400").replace(b"chunk 355", b"chunk 35490")
    assert "truncated" in _error(tmp_path, big)


def test_write_refuses_non_finite_positions(tmp_path):
    cloud = random_cloud(10, 0, seed=1)
    cloud.positions[3, 1] = np.nan
    with pytest.raises(FormatError, match="non-finite"):
        write_splats(cloud, tmp_path / "n.compressed.ply")


def test_detection(tmp_path, guitar):
    assert detect_codec(guitar).name == "compressed-ply"
    head = guitar.read_bytes()[:4096]
    assert cp.sniff(head, guitar) and not ply.sniff(head, guitar)
    plain = tmp_path / "plain.compressed.ply"
    write_splats(random_cloud(5, 0, seed=0), plain, format="ply")
    assert detect_codec(plain).name == "ply"  # the bytes win over the extension


def test_write_survives_non_finite_attributes(tmp_path):
    cloud = random_cloud(300, 1, seed=5)
    cloud.log_scales[0] = (np.inf, -np.inf, np.nan)
    cloud.opacity_logits[1] = np.nan
    cloud.sh[2, 0] = (np.inf, np.nan, -np.inf)
    cloud.sh[3, 1] = np.nan
    cloud.rotations[4] = np.nan
    path = tmp_path / "nf.compressed.ply"
    with np.errstate(all="raise"):
        write_splats(cloud, path)
    got = read_splats(path).cloud
    assert len(got) == 300
    for name in ("positions", "log_scales", "rotations", "opacity_logits", "sh"):
        assert np.isfinite(getattr(got, name)).all(), name
    assert np.abs(got.log_scales).max() <= 20 + 1e-5
