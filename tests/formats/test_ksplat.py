""".ksplat reader: the real sample, files built here the way GaussianSplats3D
builds them (SplatBuffer.generateFromUncompressedSplatArrays: buckets, half
floats, 8-bit SH), and hostile input. Everything is in the PLY frame (RDF).
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

from editor.formats import ksplat
from editor.formats.base import FormatError
from editor.formats.registry import detect_codec, read_splats
from editor.model.splat_cloud import SH_C0, SplatCloud, sigmoid
from tests.formats.synth import random_cloud


def _band_block_order(degree):
    """For each file SH slot, (rest coefficient j, channel c): per band, R then G then B."""
    out = []
    for band in range(1, degree + 1):
        for c in range(3):
            for m in range(2 * band + 1):
                out.append((band * band - 1 + m, c))
    return out


def _buckets(pos, bucket_size, block_size):
    """GaussianSplats3D's computeBucketsForUncompressedSplatArray: returns the
    splat order, bucket centres, full bucket count and partial bucket lengths."""
    lo = pos.min(axis=0)
    dims = pos.max(axis=0) - lo
    yb, zb = np.ceil(dims[1] / block_size), np.ceil(dims[2] / block_size)
    full, partial = [], {}
    for i, p in enumerate(pos):
        blk = np.floor((p - lo) / block_size)
        key = blk[0] * (yb * zb) + blk[1] * zb + blk[2]
        b = partial.get(key)
        if b is None:
            b = partial[key] = {"splats": [], "center": blk * block_size + lo + block_size / 2}
        b["splats"].append(i)
        if len(b["splats"]) >= bucket_size:
            full.append(b)
            partial[key] = None
    rest = [b for b in partial.values() if b]
    buckets = full + rest
    order = [i for b in buckets for i in b["splats"]]
    return order, np.array([b["center"] for b in buckets], np.float32), len(full), [len(b["splats"]) for b in rest]


def build_ksplat(parts, level, bucket_size=8, block_size=2.0, sh_range=(-1.5, 1.5), version=(0, 1)):
    """Bytes of a .ksplat holding each cloud in ``parts`` as one section, and the
    cloud reordered the way the file stores it."""
    sh_min, sh_max = sh_range
    total = sum(len(p) for p in parts)
    header = struct.pack("<BBHIIIIHH3fff", version[0], version[1], 0, len(parts), len(parts), total, total,
                         level, 0, 0.0, 0.0, 0.0, sh_min, sh_max).ljust(4096, b"\0")
    section_headers, storages, reordered = b"", b"", []
    sr = 1 if level == 0 else 32767
    for cloud in parts:
        n, degree = len(cloud), cloud.sh_degree
        if level == 0:
            order, centres, full, lengths = list(range(n)), np.zeros((0, 3), np.float32), 0, []
        else:
            order, centres, full, lengths = _buckets(cloud.positions.astype(np.float64), bucket_size, block_size)
        c = cloud.subset(np.array(order, dtype=np.intp))
        reordered.append(c)
        bucket_of = np.repeat(np.arange(len(centres)), [bucket_size] * full + lengths) if level else None
        rgba = np.empty((n, 4), np.uint8)
        rgba[:, :3] = np.clip(np.floor((0.5 + SH_C0 * c.sh[:, 0]) * 255), 0, 255)
        rgba[:, 3] = np.clip(np.floor(sigmoid(c.opacity_logits) * 255), 0, 255)
        slots = _band_block_order(degree)
        sh = np.array([[c.sh[i, 1 + j, ch] for j, ch in slots] for i in range(n)], np.float64).reshape(n, len(slots))
        if level == 0:
            rows = [c.positions.astype("<f4"), c.scales.astype("<f4"), c.rotations.astype("<f4")]
        else:
            sf = sr / (block_size / 2)
            q = np.clip(np.round((c.positions - centres[bucket_of]) * sf) + sr, 0, 2 * sr + 1).astype("<u2")
            rows = [q, c.scales.astype("<f2"), c.rotations.astype("<f2")]
        rows.append(rgba)
        if slots:
            if level == 0:
                rows.append(sh.astype("<f4"))
            elif level == 1:
                rows.append(sh.astype("<f2"))
            else:
                rows.append(np.clip(np.floor((np.clip(sh, sh_min, sh_max) - sh_min) / (sh_max - sh_min) * 255),
                                    0, 255).astype(np.uint8))
        data = b"".join(np.ascontiguousarray(r[i]).tobytes() for i in range(n) for r in rows)
        buckets = np.array(lengths, "<u4").tobytes() + centres.astype("<f4").tobytes()
        section_headers += struct.pack(
            "<IIIIfHHIIIIH", n, n, bucket_size if level else 0, len(centres), block_size if level else 0.0,
            12 if level else 0, 0, sr if level else 0, len(buckets) + len(data), full, len(lengths), degree,
        ).ljust(1024, b"\0")
        storages += buckets + data
    return header + section_headers + storages, SplatCloud.concatenate(reordered)


def _read_bytes(tmp_path, data, name="a.ksplat"):
    path = tmp_path / name
    path.write_bytes(data)
    return ksplat.CODEC.read(path, None)


# ------------------------------------------------------------------ sample
def test_minimal_sample(samples_dir):
    loaded = read_splats(samples_dir / "minimal.ksplat")
    c = loaded.cloud
    assert loaded.format == "ksplat" and loaded.version == "0.1"
    assert loaded.details == {"compression_level": 0, "sections": 1, "scene_center": [0.0, 0.0, 0.0]}
    assert len(c) == 4 and c.sh_degree == 0
    np.testing.assert_array_equal(c.positions, [[-1, 0, -1], [0, 0, -1], [-1, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(c.scales, 0.1, rtol=1e-6)
    np.testing.assert_array_equal(c.rotations, [[0, 0, 0, 1]] * 4)  # stored w, x, y, z = (0, 0, 0, 1)
    np.testing.assert_allclose(c.base_colors[:, 0], [85 / 255, 170 / 255, 85 / 255, 170 / 255], atol=1e-6)
    np.testing.assert_allclose(c.opacities, 230 / 255, atol=1e-5)
    assert ksplat.CODEC.sniff((samples_dir / "minimal.ksplat").read_bytes()[:4096], samples_dir / "x")
    assert not ksplat.CODEC.sniff((samples_dir / "minimal.splat").read_bytes(), samples_dir / "x")
    assert not ksplat.CODEC.sniff((samples_dir / "guitar.spz").read_bytes()[:4096], samples_dir / "x")


# ------------------------------------------------------- built like GS3D
TOLERANCES = {  # what each compression level keeps (see the module docstring)
    0: dict(pos=1e-6, log_scale=1e-5, rot=1e-6, sh=1e-6),
    1: dict(pos=2.0 / 2 / 32767 / 2 + 1e-6, log_scale=1e-3, rot=1e-3, sh=2e-4),
    2: dict(pos=2.0 / 2 / 32767 / 2 + 1e-6, log_scale=1e-3, rot=1e-3, sh=3.0 / 255 + 1e-6),
}


@pytest.mark.parametrize("level", [0, 1, 2])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_levels_and_degrees(tmp_path, level, degree):
    src = random_cloud(40, degree, seed=level * 10 + degree)
    src.positions *= 0.4  # a few 2-unit blocks: full and partial buckets
    data, expected = build_ksplat([src], level)
    loaded = _read_bytes(tmp_path, data)
    c, tol = loaded.cloud, TOLERANCES[level]
    assert loaded.details["compression_level"] == level and len(c) == 40 and c.sh_degree == degree
    assert np.abs(c.positions - expected.positions).max() <= tol["pos"]
    assert np.abs(c.log_scales - expected.log_scales).max() <= tol["log_scale"]
    sign = np.sign(np.sum(c.rotations * expected.rotations, axis=1, keepdims=True))
    assert np.abs(c.rotations - sign * expected.rotations).max() <= tol["rot"]
    # colour and opacity are floored to 8 bits
    assert np.abs(c.base_colors - np.clip(expected.base_colors, 0, 1)).max() <= 1 / 255 + 1e-6
    assert np.abs(c.opacities - expected.opacities).max() <= 1 / 255 + 1e-5
    if degree:
        assert np.abs(c.sh[:, 1:] - expected.sh[:, 1:]).max() <= tol["sh"]


def test_sections_with_different_degrees_are_padded(tmp_path):
    a, b = random_cloud(10, 2, seed=1), random_cloud(7, 0, seed=2)
    data, expected = build_ksplat([a, b], 1, bucket_size=3)
    c = _read_bytes(tmp_path, data).cloud
    assert len(c) == 17 and c.sh_degree == 2
    assert not c.sh[10:, 1:].any()
    assert np.abs(c.positions - expected.positions).max() <= 2.0 / 2 / 32767
    assert np.abs(c.sh[:10, 1:] - expected.sh[:10, 1:]).max() <= 2e-4


def test_level2_sh_range_from_header_and_default(tmp_path):
    src = random_cloud(12, 1, seed=3)
    data, expected = build_ksplat([src], 2, sh_range=(-0.4, 0.4))
    c = _read_bytes(tmp_path, data).cloud
    assert np.abs(c.sh[:, 1:] - expected.sh[:, 1:]).max() <= 0.8 / 255 + 1e-6
    data, expected = build_ksplat([src], 2, sh_range=(-1.5, 1.5))
    data = data[:36] + bytes(8) + data[44:]  # 0 means the default range +-1.5
    c = _read_bytes(tmp_path, data).cloud
    assert np.abs(c.sh[:, 1:] - expected.sh[:, 1:]).max() <= 3.0 / 255 + 1e-6


def test_zero_scale_and_registry_detection(tmp_path):
    src = random_cloud(3, 0, seed=4)
    data, _ = build_ksplat([src], 0)
    data = bytearray(data)
    struct.pack_into("<f", data, 4096 + 1024 + 12, 0.0)  # first splat's scale x
    path = tmp_path / "x.bin"  # no extension: found by sniffing
    path.write_bytes(bytes(data))
    assert detect_codec(path).name == "ksplat"
    c = read_splats(path).cloud
    assert c.log_scales[0, 0] == pytest.approx(np.log(1e-9))


# ---------------------------------------------------------------- hostile
def _error(tmp_path, data, match=None):
    path = tmp_path / "bad.ksplat"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=match):
        ksplat.CODEC.read(path, None)


def test_hostile_headers(tmp_path):
    src = random_cloud(20, 1, seed=5)
    good, _ = build_ksplat([src], 1, bucket_size=6)
    _error(tmp_path, good[:100], "truncated")
    _error(tmp_path, good[:-1], "truncated")
    cases = [
        (0, "<B", 1, "version"), (1, "<B", 0, "version"), (20, "<H", 3, "compression level"),
        (4, "<I", 10**6, "sections"), (16, "<I", 21, "sections hold"), (16, "<I", 2 * 10**8, "splats"),
        (4096, "<I", 21, "room for only"), (4096 + 4, "<I", 10**6, "truncated"),
        (4096 + 40, "<H", 4, "SH degree"), (4096 + 20, "<H", 4, "bucket records"),
        (4096 + 12, "<I", 1, "bucket|truncated"),
        (4096 + 36, "<I", 0, "buckets hold|truncated"),
    ]
    for offset, fmt, value, match in cases:
        data = bytearray(good)
        struct.pack_into(fmt, data, offset, value)
        _error(tmp_path, data, match)
    data = bytearray(good)
    struct.pack_into("<I", data, 4096 + 8, 0)  # bucket size 0 ...
    struct.pack_into("<I", data, 4096 + 32, 1)  # ... with a full bucket
    _error(tmp_path, data, "size 0")
    data = bytearray(good)
    struct.pack_into("<I", data, 4096 + 8, 1)  # 20 full buckets of one splat, but only 18 bucket centres
    struct.pack_into("<I", data, 4096 + 32, 20)
    _error(tmp_path, data, "bucket 19 of 18")


def test_nonfinite_values(tmp_path):
    src = random_cloud(3, 0, seed=6)
    data, _ = build_ksplat([src], 0)
    bad = bytearray(data)
    struct.pack_into("<f", bad, 4096 + 1024, float("nan"))
    _error(tmp_path, bad, "non-finite")
    data, _ = build_ksplat([src], 1)
    bad = bytearray(data)
    struct.pack_into("<f", bad, 4096 + 16, float("inf"))  # bucket block size
    _error(tmp_path, bad, "non-finite")
    bad = bytearray(data)
    struct.pack_into("<f", bad, 36, float("nan"))  # SH range: NaN selects the default, like GS3D
    assert len(_read_bytes(tmp_path, bad).cloud) == 3
