"""antimatter15 .splat codec."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from editor.formats import FormatError, read_splats, write_splats
from editor.formats import splat
from editor.formats.registry import detect_codec
from editor.model.splat_cloud import SH_C0, sigmoid
from tests.formats.synth import random_cloud



@pytest.fixture
def minimal(samples_dir) -> Path:
    """minimal.splat from splat-transform's fixtures: 4 splats, 128 bytes."""
    return samples_dir / "minimal.splat"


def test_minimal_sample(minimal):
    loaded = read_splats(minimal)
    cloud = loaded.cloud
    assert loaded.format == "splat" and len(cloud) == 4 and cloud.sh_degree == 0
    np.testing.assert_array_equal(cloud.positions, [[-1, 0, -1], [0, 0, -1], [-1, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(cloud.scales, 0.1, rtol=1e-6)
    # rotation bytes (128, 128, 128, 255): w = x = y = 0, z = 127/128 -> (0, 0, 0, 1) after normalising
    np.testing.assert_allclose(cloud.rotations, [[0, 0, 0, 1]] * 4, atol=1e-7)
    np.testing.assert_allclose(cloud.opacities, 230 / 255, atol=1e-6)
    np.testing.assert_allclose(cloud.base_colors, [[85 / 255, 85 / 255, 128 / 255], [170 / 255, 85 / 255, 128 / 255],
                                                   [85 / 255, 170 / 255, 128 / 255], [170 / 255, 170 / 255, 128 / 255]],
                               atol=1e-6)


def test_minimal_sample_rewrite_keeps_every_byte_but_float_rounding(tmp_path, minimal):
    out = tmp_path / "m.splat"
    write_splats(read_splats(minimal).cloud, out)
    a, b = np.fromfile(minimal, splat.RECORD), np.fromfile(out, splat.RECORD)
    # all four have the same importance, so the order is kept
    np.testing.assert_array_equal(a["position"], b["position"])
    np.testing.assert_array_equal(a["rgba"], b["rgba"])
    np.testing.assert_array_equal(a["rotation"], b["rotation"])
    # scale goes through a float32 log-scale: within one float32 ulp
    assert np.abs(a["scale"].view(np.int32) - b["scale"].view(np.int32)).max() <= 1


@pytest.mark.parametrize("degree", [0, 3])
def test_round_trip_within_documented_tolerances(tmp_path, degree):
    cloud = random_cloud(2000, degree, seed=degree)
    path = tmp_path / "r.splat"
    assert write_splats(cloud, path).name == "splat"
    got = read_splats(path).cloud
    assert got.sh_degree == 0 and len(got) == 2000 and not got.extras
    ref = cloud.subset(splat.importance_order(cloud))
    np.testing.assert_array_equal(got.positions, ref.positions)
    np.testing.assert_allclose(got.log_scales, ref.log_scales, atol=1e-6)
    color = np.clip(0.5 + SH_C0 * ref.sh[:, 0].astype(np.float64), 0, 1)
    assert np.abs(got.base_colors - color).max() <= 0.5 / 255 + 1e-6
    assert np.abs(got.opacities - sigmoid(ref.opacity_logits)).max() <= 0.5 / 255 + 1e-6
    sign = np.sign(np.sum(got.rotations * ref.rotations, axis=1, keepdims=True))
    assert np.abs(got.rotations * sign - ref.rotations).max() < 0.01


def test_written_in_decreasing_importance(tmp_path):
    cloud = random_cloud(500, 0, seed=4)
    path = tmp_path / "o.splat"
    write_splats(cloud, path)
    rec = np.fromfile(path, splat.RECORD)
    order = splat.importance_order(cloud)
    np.testing.assert_array_equal(rec["position"], cloud.positions[order])
    importance = np.prod(cloud.scales.astype(np.float64), axis=1) * cloud.opacities
    assert np.all(np.diff(importance[order]) <= 1e-9 * importance.max())
    assert order[0] == np.argmax(importance)


def test_size_must_be_multiple_of_32(tmp_path, minimal):
    path = tmp_path / "bad.splat"
    path.write_bytes(minimal.read_bytes()[:-5])
    with pytest.raises(FormatError, match="32-byte records"):
        read_splats(path)
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_splats(path)


def test_degenerate_values(tmp_path):
    rec = np.zeros(3, splat.RECORD)
    rec["rotation"] = 128  # all-zero quaternion -> identity
    rec["scale"] = [[0, -1, 1], [np.inf, 1, 1], [np.nan, 1, 1]]
    rec["rgba"] = [[0, 0, 0, 0], [255, 255, 255, 255], [1, 2, 3, 4]]
    path = tmp_path / "d.splat"
    rec.tofile(path)
    got = read_splats(path).cloud
    np.testing.assert_array_equal(got.rotations, [[1, 0, 0, 0]] * 3)
    assert np.isfinite(got.log_scales).all() and np.isfinite(got.opacity_logits).all()
    assert got.log_scales[0, 0] == pytest.approx(np.log(1e-30), rel=1e-5)


def test_no_sniffing_extension_decides(tmp_path, minimal):
    assert not splat.sniff(minimal.read_bytes(), minimal)
    assert detect_codec(minimal).name == "splat"
    other = tmp_path / "minimal.bin"
    other.write_bytes(minimal.read_bytes())
    with pytest.raises(FormatError, match="unknown format"):
        read_splats(other)


def test_write_ignores_extras_and_empty_cloud(tmp_path):
    cloud = random_cloud(4, 1, seed=0, extras=True)
    path = tmp_path / "e.splat"
    write_splats(cloud, path)
    assert path.stat().st_size == 4 * 32
    empty = cloud.subset(np.zeros(4, bool))
    write_splats(empty, path)
    assert path.stat().st_size == 0


def test_write_survives_non_finite_attributes(tmp_path):
    cloud = random_cloud(10, 0, seed=5)
    cloud.log_scales[0] = (np.inf, -np.inf, np.nan)
    cloud.opacity_logits[1] = np.nan
    cloud.sh[2, 0] = (np.inf, np.nan, -np.inf)
    cloud.rotations[3] = np.nan
    path = tmp_path / "nf.splat"
    with np.errstate(all="raise"):  # no overflow/NaN arithmetic on the way
        write_splats(cloud, path)
    got = read_splats(path).cloud
    assert len(got) == 10
    for name in ("positions", "log_scales", "rotations", "opacity_logits", "sh"):
        assert np.isfinite(getattr(got, name)).all(), name
