"""PlayCanvas SOG: the two samples (v2 bundled, v1 unbundled), the pixel layout
decoded by hand, round trips through both containers, hostile files and a
hypothesis fuzz of a small bundled .sog and a small meta.json folder."""
from __future__ import annotations

import io
import json
import math
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from editor.formats import sog
from editor.formats.base import Cancelled, FormatError
from editor.formats.compressed_ply import morton_order
from editor.formats.registry import detect_codec, read_splats, write_splats
from editor.model.splat_cloud import SplatCloud, logit, normalize_quaternions, sigmoid
from tests.formats.fuzzing import FUZZ, assert_cloud_or_format_error
from tests.formats.fuzzing import mutated_bytes as _mutated_bytes
from tests.formats.synth import random_cloud

SPLAT_TRANSFORM = Path(__file__).resolve().parents[2] / ".peer" / "node_modules" / ".bin" / "splat-transform"


# ----------------------------------------------------------------- helpers
def inv_log(v):
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * (np.exp(np.abs(v)) - 1)


def webp(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8), "RGBA").save(
        buf, "WEBP", lossless=True, quality=0, method=0, exact=True)
    return buf.getvalue()


def canvas(rows, width=4, height=4) -> np.ndarray:
    img = np.zeros((width * height, 4), np.uint8)
    img[: len(rows)] = rows
    return img.reshape(height, width, 4)


def zip_bytes(entries: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def tiny_v2(count=3, **meta_changes) -> tuple[dict, dict[str, bytes]]:
    """A hand-made 4x4-pixel v2 SOG: (meta, {file name: webp bytes})."""
    rows = np.array([[0, 0, 0, 255], [255, 255, 255, 255], [128, 0, 64, 255]], np.uint8)
    quats = np.array([[128, 128, 128, 252], [128, 128, 128, 253], [10, 20, 30, 7]], np.uint8)  # last: bad tag
    sh0 = np.array([[0, 1, 2, 0], [3, 4, 5, 255], [255, 0, 0, 128]], np.uint8)
    labels = np.array([[0, 0, 0, 255], [1, 0, 0, 255], [200, 0, 0, 255]], np.uint8)  # 200: past the palette
    cen = np.zeros((1, 64 * 3, 4), np.uint8)
    cen[0, :6, :3] = np.arange(18).reshape(6, 3)
    files = {
        "means_l.webp": webp(canvas(rows)), "means_u.webp": webp(canvas(rows[::-1])),
        "quats.webp": webp(canvas(quats)), "scales.webp": webp(canvas(rows)),
        "sh0.webp": webp(canvas(sh0)), "shN_centroids.webp": webp(cen), "shN_labels.webp": webp(canvas(labels)),
    }
    meta = {
        "version": 2, "count": count,
        "means": {"mins": [-1.0, -2.0, 0.0], "maxs": [1.0, 0.5, 0.0], "files": ["means_l.webp", "means_u.webp"]},
        "scales": {"codebook": list(np.linspace(-10, 0, 256)), "files": ["scales.webp"]},
        "quats": {"files": ["quats.webp"]},
        "sh0": {"codebook": list(np.linspace(-2, 2, 256)), "files": ["sh0.webp"]},
        "shN": {"count": 2, "bands": 1, "codebook": list(np.linspace(-1, 1, 256)),
                "files": ["shN_centroids.webp", "shN_labels.webp"]},
    }
    meta.update(meta_changes)
    return meta, files


def write_bundle(path: Path, meta, files, **extra) -> Path:
    path.write_bytes(zip_bytes({**files, **extra, "meta.json": json.dumps(meta).encode()}))
    return path


def write_folder(folder: Path, meta, files) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder / "meta.json"


def assert_valid(cloud: SplatCloud) -> None:
    n = len(cloud)
    for name in ("positions", "log_scales", "rotations", "opacity_logits", "sh"):
        assert np.isfinite(getattr(cloud, name)).all(), name
    if n:
        np.testing.assert_allclose(np.linalg.norm(cloud.rotations, axis=1), 1.0, atol=1e-3)


# ----------------------------------------------------------------- samples
def test_monkey_v2_bundled_sample(samples_dir):
    path = samples_dir / "monkey_0001.sog"
    assert detect_codec(path).name == "sog"
    loaded = read_splats(path)
    c = loaded.cloud
    assert loaded.format == "sog" and loaded.version == "2"
    assert loaded.details["container"] == "bundled"
    assert len(c) == 31658 and c.sh_degree == 0
    meta = json.loads(zipfile.ZipFile(path).read("meta.json"))
    lo, hi = c.bounds()
    # the writer maps each axis' extremes to 0 and 65535, so the bounds come back exactly
    np.testing.assert_allclose(lo, inv_log(meta["means"]["mins"]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hi, inv_log(meta["means"]["maxs"]), rtol=1e-6, atol=1e-6)
    cb = np.array(meta["scales"]["codebook"], np.float32)
    assert np.isin(c.log_scales, cb).all()
    # procedural, constant red colour: DC = +-sqrt(pi) = +-1/(2 SH_C0)
    np.testing.assert_allclose(c.base_colors, np.broadcast_to([1.0, 0.0, 0.0], (len(c), 3)), atol=1e-5)
    assert 0.0 < c.opacities.min() <= c.opacities.max() < 1.0
    assert_valid(c)


def test_logo_v1_unbundled_sample(samples_dir):
    path = samples_dir / "playcanvas-logo-sog" / "meta.json"
    assert detect_codec(path).name == "sog"
    loaded = read_splats(path)
    c = loaded.cloud
    assert loaded.version == "1" and loaded.details["container"] == "unbundled"
    assert len(c) == 307128 and c.sh_degree == 0
    meta = json.loads(path.read_text())
    lo, hi = c.bounds()
    log_step = (np.array(meta["means"]["maxs"]) - meta["means"]["mins"]) / 65535
    np.testing.assert_allclose(lo, inv_log(meta["means"]["mins"]), atol=2 * log_step.max() * math.e ** 1.5)
    np.testing.assert_allclose(hi, inv_log(meta["means"]["maxs"]), atol=2 * log_step.max() * math.e ** 1.5)
    smin, smax = np.array(meta["scales"]["mins"]), np.array(meta["scales"]["maxs"])
    assert np.all(c.log_scales >= smin - 1e-5) and np.all(c.log_scales <= smax + 1e-5)
    cmin, cmax = np.array(meta["sh0"]["mins"]), np.array(meta["sh0"]["maxs"])
    assert np.all(c.sh[:, 0] >= cmin[:3] - 1e-5) and np.all(c.sh[:, 0] <= cmax[:3] + 1e-5)
    # v1 stores the opacity logit itself in sh0's alpha
    assert c.opacity_logits.min() >= cmin[3] - 1e-5 and c.opacity_logits.max() <= cmax[3] + 1e-5
    assert_valid(c)


def _decode_pixel(images: dict[str, np.ndarray], meta: dict, i: int):
    """Splat ``i`` decoded with plain Python straight from the layout description."""
    w = images["means_l"].shape[1]
    y, x = divmod(i, w)
    pos = []
    for axis in range(3):
        u = int(images["means_l"][y, x, axis]) + 256 * int(images["means_u"][y, x, axis])
        lo, hi = meta["means"]["mins"][axis], meta["means"]["maxs"][axis]
        v = lo + (hi - lo) * u / 65535
        pos.append(math.copysign(math.exp(abs(v)) - 1, v))
    r, g, b, a = (int(v) for v in images["quats"][y, x])
    others = [(c / 255 * 2 - 1) / math.sqrt(2) for c in (r, g, b)]
    largest = a - 252
    q = others[:largest] + [math.sqrt(max(0.0, 1 - sum(o * o for o in others)))] + others[largest:]
    scales = [meta["scales"]["codebook"][int(v)] for v in images["scales"][y, x, :3]]
    dc = [meta["sh0"]["codebook"][int(v)] for v in images["sh0"][y, x, :3]]
    return pos, q, scales, dc, images["sh0"][y, x, 3] / 255


def test_monkey_pixels_decoded_by_hand(samples_dir):
    path = samples_dir / "monkey_0001.sog"
    z = zipfile.ZipFile(path)
    meta = json.loads(z.read("meta.json"))
    images = {k: np.asarray(Image.open(io.BytesIO(z.read(f"{k}.webp"))).convert("RGBA"))
              for k in ("means_l", "means_u", "quats", "scales", "sh0")}
    assert images["means_l"].shape == (176, 180, 4)  # splat-transform's ceil(sqrt(N)/4)*4 layout
    assert sog.image_size(31658) == (180, 176)
    c = sog.read(path).cloud
    for i in (0, 1, 179, 180, 12345, 31657):
        pos, q, scales, dc, alpha = _decode_pixel(images, meta, i)
        np.testing.assert_allclose(c.positions[i], pos, rtol=1e-6, atol=1e-7)
        qn = np.array(q) / np.linalg.norm(q)
        np.testing.assert_allclose(c.rotations[i], qn, atol=1e-6)
        np.testing.assert_allclose(c.log_scales[i], scales, rtol=1e-6)
        np.testing.assert_allclose(c.sh[i, 0], dc, rtol=1e-6)
        np.testing.assert_allclose(c.opacities[i], alpha, atol=1e-6)


def test_hand_made_v2_with_sh_palette(tmp_path):
    meta, files = tiny_v2()
    c = sog.read(write_bundle(tmp_path / "t.sog", meta, files), None).cloud
    assert len(c) == 3 and c.sh_degree == 1
    # positions: u = l + 256 h per axis, lerp in log space, then inverse log
    u = np.array([[256 * 128, 0, 256 * 64], [255 * 257] * 3, [128, 0, 64]])
    v = np.array([-1.0, -2.0, 0.0]) + np.array([2.0, 2.5, 1.0]) * u / 65535  # zero range -> scale 1
    np.testing.assert_allclose(c.positions, inv_log(v), rtol=1e-6)
    small = (128 / 255 * 2 - 1) / math.sqrt(2)  # byte 128 is 0.0028, not 0
    big = math.sqrt(1 - 3 * small * small)
    np.testing.assert_allclose(c.rotations[0], [big, small, small, small], atol=1e-6)  # tag 252: w largest
    np.testing.assert_allclose(c.rotations[1], [small, big, small, small], atol=1e-6)  # tag 253: x largest
    np.testing.assert_allclose(c.rotations[2], [1, 0, 0, 0])  # tag 7 is invalid -> identity
    cb = np.linspace(-2, 2, 256).astype(np.float32)
    np.testing.assert_allclose(c.sh[:, 0], cb[[[0, 1, 2], [3, 4, 5], [255, 0, 0]]])
    np.testing.assert_allclose(c.opacities, [sigmoid(logit(1e-6)), sigmoid(logit(1 - 1e-6)), 128 / 255], atol=1e-6)
    shcb = np.linspace(-1, 1, 256).astype(np.float32)
    np.testing.assert_allclose(c.sh[0, 1:], shcb[np.arange(9).reshape(3, 3)])
    np.testing.assert_allclose(c.sh[1, 1:], shcb[np.arange(9, 18).reshape(3, 3)])
    np.testing.assert_array_equal(c.sh[2, 1:], 0)  # label past the palette reads as zero SH


def test_hand_made_v1_opacity_logit_and_sh(tmp_path):
    meta, files = tiny_v2()
    v1 = {
        "means": {"shape": [3, 3], "mins": meta["means"]["mins"], "maxs": meta["means"]["maxs"],
                  "files": meta["means"]["files"]},
        "scales": {"shape": [3, 3], "mins": [-5, -6, -7], "maxs": [-1, -2, -3], "files": ["scales.webp"]},
        "quats": {"shape": [3, 4], "encoding": "quaternion_packed", "files": ["quats.webp"]},
        "sh0": {"shape": [3, 1, 4], "mins": [-1, -1, -1, -4], "maxs": [1, 1, 1, 6], "files": ["sh0.webp"]},
        "shN": {"shape": [3, 9], "mins": -0.5, "maxs": 0.5, "files": ["shN_centroids.webp", "shN_labels.webp"]},
    }
    path = write_folder(tmp_path / "v1", v1, files)
    loaded = read_splats(path)
    c = loaded.cloud
    assert loaded.version == "1" and c.sh_degree == 1
    np.testing.assert_allclose(c.log_scales[1], [-1, -2, -3], rtol=1e-6)
    np.testing.assert_allclose(c.log_scales[0], [-5, -6, -7], rtol=1e-6)
    np.testing.assert_allclose(c.opacity_logits, -4 + 10 * np.array([0, 255, 128]) / 255, rtol=1e-6)
    np.testing.assert_allclose(c.sh[0, 1:], -0.5 + np.arange(9).reshape(3, 3) / 255, rtol=1e-5)
    # v1: no palette count, so label 200 (row 3 of a one-row image) is past it too
    np.testing.assert_array_equal(c.sh[2, 1:], 0)


def test_null_first_codebook_entry_is_patched_like_the_engine(tmp_path):
    meta, files = tiny_v2()
    meta["scales"]["codebook"][0] = None
    c = sog.read(write_bundle(tmp_path / "t.sog", meta, files), None).cloud
    cb = meta["scales"]["codebook"]
    np.testing.assert_allclose(c.log_scales[0], cb[1] + (cb[1] - cb[255]) / 255, rtol=1e-6)


def test_meta_json_in_a_zip_subfolder(tmp_path):
    meta, files = tiny_v2()
    entries = {f"scene/{k}": v for k, v in files.items()}
    entries["scene/meta.json"] = json.dumps(meta).encode()
    path = tmp_path / "nested.sog"
    path.write_bytes(zip_bytes(entries, zipfile.ZIP_DEFLATED))
    assert len(read_splats(path).cloud) == 3


# ----------------------------------------------------------------- writing
def _reordered(cloud: SplatCloud) -> SplatCloud:
    return cloud.subset(morton_order(cloud.positions))


def _check_tolerances(ref: SplatCloud, back: SplatCloud) -> None:
    """The module docstring's round-trip tolerances (``ref`` in file order)."""
    assert len(back) == len(ref)
    logp = np.sign(ref.positions) * np.log1p(np.abs(ref.positions.astype(np.float64)))
    span = logp.max(axis=0) - logp.min(axis=0)
    bound = (1 + np.abs(ref.positions)) * span / 131070 + 1e-6 * (1 + np.abs(ref.positions))
    assert np.all(np.abs(back.positions - ref.positions) <= bound)
    assert np.abs(back.log_scales - ref.log_scales).max() <= 0.02
    assert np.abs(back.sh[:, 0] - ref.sh[:, 0]).max() <= 0.02
    assert np.abs(back.opacities - ref.opacities).max() <= 0.5 / 255 + 1e-6
    sign = np.sign(np.sum(back.rotations * ref.rotations, axis=1, keepdims=True))
    assert np.abs(back.rotations - ref.rotations * sign).max() <= 0.01
    dot = np.abs(np.sum(back.rotations.astype(np.float64) * ref.rotations, axis=1))
    assert np.degrees(2 * np.arccos(np.minimum(1, dot))).max() <= 1.1


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_bundled(tmp_path, degree):
    cloud = random_cloud(3000, degree, seed=10 + degree, extras=True)
    path = tmp_path / "out.sog"
    write_splats(cloud, path)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert zf.namelist()[-1] == "meta.json"
        meta = json.loads(zf.read("meta.json"))
    assert meta["version"] == 2 and meta["count"] == 3000
    loaded = read_splats(path)
    back = loaded.cloud
    assert back.sh_degree == degree and back.extras == {}
    _check_tolerances(_reordered(cloud), back)
    if degree:
        assert meta["shN"]["bands"] == degree and meta["shN"]["count"] == sog.default_palette_size(3000) == 2048
        err = np.abs(back.sh[:, 1:] - _reordered(cloud).sh[:, 1:])
        assert np.sqrt(np.mean(err ** 2)) < 0.1  # random SH (rms 0.17) vector-quantised


def test_round_trip_unbundled_matches_bundled(tmp_path):
    cloud = random_cloud(500, 2, seed=3)
    write_splats(cloud, tmp_path / "a.sog")
    folder = tmp_path / "scene"
    folder.mkdir()
    write_splats(cloud, folder / "meta.json")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["meta.json", "means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp",
         "shN_centroids.webp", "shN_labels.webp"])
    a = read_splats(tmp_path / "a.sog")
    b = read_splats(folder / "meta.json")
    assert b.details["container"] == "unbundled"
    assert a.cloud.equals(b.cloud)
    _check_tolerances(_reordered(cloud), b.cloud)


def test_unbundled_names_take_the_meta_prefix_and_bundle_option(tmp_path):
    cloud = random_cloud(50, 0, seed=4)
    write_splats(cloud, tmp_path / "scene.meta.json")
    meta = json.loads((tmp_path / "scene.meta.json").read_text())
    assert meta["means"]["files"] == ["scene.means_l.webp", "scene.means_u.webp"]
    assert (tmp_path / "scene.sh0.webp").exists()
    write_splats(cloud, tmp_path / "zipped_meta.json", bundle=True)
    assert (tmp_path / "zipped_meta.json").read_bytes()[:2] == b"PK"
    write_splats(cloud, tmp_path / "loose.sog", bundle=False)
    assert (tmp_path / "loose_means_l.webp").exists()
    for name in ("scene.meta.json", "zipped_meta.json", "loose.sog"):
        assert read_splats(tmp_path / name).cloud.equals(read_splats(tmp_path / "scene.meta.json").cloud)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_few_distinct_sh_vectors_come_back_through_the_palette(tmp_path):
    cloud = random_cloud(2000, 3, seed=5)
    rng = np.random.default_rng(5)
    table = rng.uniform(-0.5, 0.5, (16, 15, 3)).astype(np.float32)
    cloud.sh[:, 1:] = table[rng.integers(0, 16, len(cloud))]
    write_splats(cloud, tmp_path / "sh.sog")
    back = read_splats(tmp_path / "sh.sog").cloud
    ref = _reordered(cloud)
    # only the 256-entry codebook of the palette values is lossy: half a gap over a 1-unit range
    assert np.abs(back.sh[:, 1:] - ref.sh[:, 1:]).max() <= 1.0 / 255


def test_sh_degree_option_drops_bands(tmp_path):
    cloud = random_cloud(300, 3, seed=6)
    write_splats(cloud, tmp_path / "d1.sog", sh_degree=1)
    assert read_splats(tmp_path / "d1.sog").cloud.sh_degree == 1
    write_splats(cloud, tmp_path / "d0.sog", sh_degree=0)
    with zipfile.ZipFile(tmp_path / "d0.sog") as zf:
        assert "shN" not in json.loads(zf.read("meta.json"))
        assert "shN_labels.webp" not in zf.namelist()


def test_write_is_deterministic_and_reports_progress(tmp_path):
    cloud = random_cloud(400, 1, seed=7)
    seen = []
    write_splats(cloud, tmp_path / "a.sog", progress=seen.append)
    write_splats(cloud, tmp_path / "b.sog")
    assert (tmp_path / "a.sog").read_bytes() == (tmp_path / "b.sog").read_bytes()
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_cancelled_unbundled_write_leaves_the_folder_untouched(tmp_path):
    cloud = random_cloud(300, 1, seed=8)

    def stop(fraction):
        if fraction > 0.7:
            raise Cancelled()

    with pytest.raises(Cancelled):
        write_splats(cloud, tmp_path / "meta.json", progress=stop)
    assert list(tmp_path.iterdir()) == []
    # an existing SOG folder keeps its files when a later write fails
    write_splats(cloud, tmp_path / "meta.json")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(Cancelled):
        write_splats(random_cloud(300, 1, seed=9), tmp_path / "meta.json", progress=stop)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_write_refuses_bad_input(tmp_path):
    with pytest.raises(FormatError, match="empty"):
        write_splats(SplatCloud.empty(), tmp_path / "e.sog")
    cloud = random_cloud(10, 0, seed=1)
    cloud.positions[3, 1] = np.nan
    with pytest.raises(FormatError, match="non-finite"):
        write_splats(cloud, tmp_path / "n.sog")
    with pytest.raises(FormatError, match="unexpected keyword|webp_method"):
        write_splats(random_cloud(10, 0, seed=1), tmp_path / "o.sog", webp_method=9)
    assert not list(tmp_path.iterdir())


def test_single_splat_and_flat_axes(tmp_path):
    cloud = random_cloud(1, 1, seed=2)
    write_splats(cloud, tmp_path / "one.sog")
    back = read_splats(tmp_path / "one.sog").cloud
    np.testing.assert_allclose(back.positions, cloud.positions, rtol=1e-6)
    flat = random_cloud(100, 0, seed=3)
    flat.positions[:, 2] = 1.5
    write_splats(flat, tmp_path / "flat.sog")
    np.testing.assert_allclose(read_splats(tmp_path / "flat.sog").cloud.positions[:, 2], 1.5, rtol=1e-6)


def test_quaternion_packing_rule():
    q = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0.5, 0.5, 0.5, -0.5], [-0.9, 0.3, 0.1, 0.2]], np.float32)
    packed = sog.pack_quats(q)
    assert packed[0].tolist() == [128, 128, 128, 252]
    assert packed[1].tolist() == [128, 128, 128, 254]  # y largest (made positive): w, x, z stored
    assert packed[2, 3] == 252  # ties go to the first component, as splat-transform
    back = sog._unpack_quats(packed)
    qn = normalize_quaternions(q)
    sign = np.sign(np.sum(back * qn, axis=1, keepdims=True))
    assert np.abs(back - qn * sign).max() <= 0.01
    rng = np.random.default_rng(0)
    many = normalize_quaternions(rng.normal(size=(20000, 4)))
    back = sog._unpack_quats(sog.pack_quats(many))
    sign = np.sign(np.sum(back * many, axis=1, keepdims=True))
    assert np.abs(back - many * sign).max() <= 0.01


def test_codebook_fit():
    rng = np.random.default_rng(1)
    few = rng.choice([-3.0, 0.25, 7.5], size=(1000, 3))
    cb = sog.fit_codebook(few, rng)
    assert cb.shape == (256,) and set(np.unique(cb)) == {np.float32(-3.0), np.float32(0.25), np.float32(7.5)}
    np.testing.assert_array_equal(cb[sog.quantize(few, cb)], few)
    wide = np.concatenate([rng.normal(0, 0.3, 300000), rng.uniform(-20, 20, 200)])  # tails keep entries
    cb = sog.fit_codebook(wide, rng)
    assert np.all(np.diff(cb) >= 0)
    err = np.abs(cb[sog.quantize(wide, cb)] - wide)
    assert err.max() < 0.5 and np.median(err) < 0.01  # quantile seeding alone leaves errors of several units


def test_sniff_only_claims_sog(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"means": 1}')
    assert not sog._sniff(other.read_bytes(), other)
    cfg = tmp_path / "meta.json"
    cfg.write_text('{"name": "not a splat"}')
    assert not sog._sniff(cfg.read_bytes(), cfg)
    z = tmp_path / "x.zip"
    z.write_bytes(zip_bytes({"a.txt": b"hi"}))
    assert not sog._sniff(z.read_bytes()[:4096], z)
    meta, files = tiny_v2()
    b = write_bundle(tmp_path / "renamed.bin", meta, files)
    assert sog._sniff(b.read_bytes()[:4096], b) and detect_codec(b).name == "sog"


@pytest.mark.skipif(not SPLAT_TRANSFORM.exists(), reason="splat-transform not installed (make peers needs npm)")
def test_splat_transform_reads_our_sog(tmp_path):
    from plyfile import PlyData

    cloud = random_cloud(3000, 2, seed=11)  # a 2048-entry palette: labels use both bytes
    write_splats(cloud, tmp_path / "ours.sog")
    out = tmp_path / "back.ply"
    subprocess.run([str(SPLAT_TRANSFORM), "-q", "-w", str(tmp_path / "ours.sog"), str(out)],
                   check=True, capture_output=True, timeout=120)
    v = PlyData.read(str(out))["vertex"].data
    ours = read_splats(tmp_path / "ours.sog").cloud
    np.testing.assert_array_equal(np.stack([v[a] for a in "xyz"], 1), ours.positions)
    np.testing.assert_array_equal(np.stack([v[f"scale_{i}"] for i in range(3)], 1), ours.log_scales)
    np.testing.assert_array_equal(np.stack([v[f"f_dc_{i}"] for i in range(3)], 1), ours.sh[:, 0])
    rest = np.stack([v[f"f_rest_{i}"] for i in range(24)], 1).reshape(-1, 3, 8).transpose(0, 2, 1)
    np.testing.assert_array_equal(rest, ours.sh[:, 1:])
    np.testing.assert_allclose(sigmoid(v["opacity"]), ours.opacities, atol=1e-6)
    rot = normalize_quaternions(np.stack([v[f"rot_{i}"] for i in range(4)], 1))
    np.testing.assert_allclose(np.abs(np.sum(rot * ours.rotations, axis=1)), 1, atol=1e-6)


# ----------------------------------------------------------------- hostile files
def _refused(path: Path, match: str | None = None) -> str:
    with pytest.raises(FormatError, match=match) as info:
        sog.read(path, None)
    assert "\n" not in str(info.value)
    with pytest.raises(FormatError):
        read_splats(path)
    return str(info.value)


def test_truncated_zip(tmp_path):
    meta, files = tiny_v2()
    data = write_bundle(tmp_path / "t.sog", meta, files).read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        (tmp_path / "cut.sog").write_bytes(data[:cut])
        _refused(tmp_path / "cut.sog")


def test_missing_webp(tmp_path):
    meta, files = tiny_v2()
    del files["quats.webp"]
    _refused(write_bundle(tmp_path / "m.sog", meta, files), "missing file quats.webp")
    _refused(write_folder(tmp_path / "f", meta, files), "missing file quats.webp")


def test_lying_count(tmp_path):
    meta, files = tiny_v2(count=17)  # 4x4 images hold 16 splats
    _refused(write_bundle(tmp_path / "a.sog", meta, files), "16 pixels")
    meta, files = tiny_v2(count=50_000_000)
    _refused(write_bundle(tmp_path / "b.sog", meta, files), "splats per byte|corrupt")
    meta, files = tiny_v2(count=10 ** 12)
    _refused(write_bundle(tmp_path / "c.sog", meta, files), "more than")
    meta, files = tiny_v2(count=-1)
    _refused(write_bundle(tmp_path / "d.sog", meta, files), "negative")


@pytest.mark.parametrize("name", ["../means_l.webp", "/etc/passwd", "a/../../x.webp", "..\\x.webp", "C:/x.webp"])
def test_path_traversal_is_refused(tmp_path, name):
    meta, files = tiny_v2()
    meta["means"]["files"][0] = name
    (tmp_path / "means_l.webp").write_bytes(files["means_l.webp"])  # would be found one level up
    _refused(write_folder(tmp_path / "f", meta, files), "outside")
    _refused(write_bundle(tmp_path / "b.sog", meta, files), "outside")


def _vp8l_header(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 16
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) \
        + payload


def test_huge_declared_images_are_refused_before_decoding(tmp_path):
    meta, files = tiny_v2()
    files["scales.webp"] = _vp8l_header(16384, 16384)
    _refused(write_bundle(tmp_path / "a.sog", meta, files), "far larger")
    files["scales.webp"] = b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + (20000).to_bytes(3, "little") * 2
    _refused(write_bundle(tmp_path / "b.sog", meta, files), "outside 1..16384")
    meta, files = tiny_v2()
    files["sh0.webp"] = b"GIF89a" + b"\x00" * 40
    _refused(write_bundle(tmp_path / "c.sog", meta, files), "not a WebP")
    noise = np.random.default_rng(0).integers(0, 256, (4, 4, 4)).astype(np.uint8)
    files["sh0.webp"] = webp(noise)[:-8]
    _refused(write_bundle(tmp_path / "d.sog", meta, files), "cannot decode")


def test_zip_bombs_are_refused_before_inflating(tmp_path):
    meta, files = tiny_v2()
    files["means_u.webp"] = b"\x00" * (8 << 20)  # inflates far beyond what 3 splats justify
    path = tmp_path / "bomb.sog"
    path.write_bytes(zip_bytes({**files, "meta.json": json.dumps(meta).encode()}, zipfile.ZIP_DEFLATED))
    assert path.stat().st_size < 200_000
    _refused(path, "means_u.webp is .* bytes, more than")
    # a central directory that lies about an entry's size
    data = bytearray(write_bundle(tmp_path / "ok.sog", meta, tiny_v2()[1]).read_bytes())
    first = data.find(b"PK\x01\x02")  # central directory record of means_l.webp
    struct.pack_into("<I", data, first + 24, 0x7FFFFFFF)  # its uncompressed size
    (tmp_path / "lie.sog").write_bytes(bytes(data))
    _refused(tmp_path / "lie.sog", "zip entry claims|bytes")


def test_bad_meta_json(tmp_path):
    meta, files = tiny_v2()
    cases = {
        "not json": b"{not json",
        "deep": b"{" + b'"a":[' * 100000 + b"]" * 100000 + b"}",
        "list": b"[1, 2]",
        "version": json.dumps({**meta, "version": 3}).encode(),
        "nan": json.dumps({**meta, "means": {**meta["means"], "mins": [float("nan"), 0, 0]}}).encode(),
        "huge bound": json.dumps({**meta, "means": {**meta["means"], "maxs": [1e300, 0, 0]}}).encode(),
        "short codebook": json.dumps({**meta, "scales": {"codebook": [1, 2], "files": ["scales.webp"]}}).encode(),
        "bands": json.dumps({**meta, "shN": {**meta["shN"], "bands": 7}}).encode(),
        "palette": json.dumps({**meta, "shN": {**meta["shN"], "count": 70000}}).encode(),
        "files": json.dumps({**meta, "quats": {"files": []}}).encode(),
        "no count": json.dumps({k: v for k, v in meta.items() if k != "count"}).encode(),
        "v1 encoding": json.dumps({k: v for k, v in meta.items() if k != "version"}).encode(),
    }
    for label, raw in cases.items():
        folder = tmp_path / label.replace(" ", "_")
        write_folder(folder, meta, files)
        (folder / "meta.json").write_bytes(raw)
        _refused(folder / "meta.json")
        (tmp_path / f"{folder.name}.sog").write_bytes(zip_bytes({**files, "meta.json": raw}))
        _refused(tmp_path / f"{folder.name}.sog")


def test_shn_palette_image_must_match_bands(tmp_path):
    meta, files = tiny_v2()
    meta["shN"]["bands"] = 2  # palette image is 192 wide (1 band)
    _refused(write_bundle(tmp_path / "a.sog", meta, files), "wide")


def test_not_a_sog_at_all(tmp_path):
    p = tmp_path / "x.sog"
    p.write_bytes(b"hello world, not a zip")
    _refused(p, "not a SOG")
    d = tmp_path / "meta.json"
    d.mkdir()
    with pytest.raises(FormatError):
        read_splats(d)


# ----------------------------------------------------------------- fuzzing



def _seed_bundle() -> tuple[dict, dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / "seed.sog"
        sog.write(random_cloud(12, 1, seed=21), tmp, None)
        entries = unzip(tmp.read_bytes())
    meta = json.loads(entries.pop("meta.json"))
    return meta, entries


SEED_META, SEED_FILES = _seed_bundle()
SEED_ZIP = zip_bytes({**SEED_FILES, "meta.json": json.dumps(SEED_META).encode()})
HAND_META, HAND_FILES = tiny_v2()
VALUES = [0, 1, -1, 2, 3, 4, 7, 12, 16, 17, 64, 252, 255, 256, 1000, 65535, 65536, 2 ** 31, 10 ** 12, 0.5, -0.5,
          1e38, -1e308, 88.5, None, True, "x", "", [], {}, [0, 0, 0], "../x.webp", "/etc/passwd", "means_l.webp"]


def _leaf_paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _leaf_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            yield prefix + (i,)
            yield from _leaf_paths(v, prefix + (i,))


@st.composite
def mutated_meta(draw, meta: dict):
    meta = json.loads(json.dumps(meta))
    paths = list(_leaf_paths(meta))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = meta
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.integers(0, 5)) == 0 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(st.one_of(st.sampled_from(VALUES), st.integers(-10, 70000),
                                                  st.floats(allow_nan=False, allow_infinity=False)))
        except (KeyError, IndexError, TypeError):
            pass
    return json.dumps(meta).encode()


def mutated_bytes(data: bytes):
    """Byte-level mutations, including a uint32 anywhere (`tests.formats.fuzzing`)."""
    return _mutated_bytes(data, any_u32=True)


@st.composite
def mutated_pixels(draw, data: bytes):
    """The image re-encoded with a few pixel bytes (alpha tags, labels, ...) changed, and maybe resized."""
    rgba = np.array(Image.open(io.BytesIO(data)).convert("RGBA"))
    flat = rgba.reshape(-1)
    for _ in range(draw(st.integers(1, 6))):
        flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from([0, 1, 127, 128, 251, 252, 255, 256 - 3]))
    if draw(st.integers(0, 4)) == 0:
        h, w = draw(st.integers(1, 9)), draw(st.integers(1, 200))
        rgba = np.resize(rgba, (h, w, 4))
    return webp(rgba)


def _check(path: Path) -> None:
    assert_cloud_or_format_error(lambda p: sog.read(p, None), path)


@settings(**FUZZ)
@given(data=st.data())
def test_fuzz_bundled(tmp_path, data):
    meta, files = data.draw(st.sampled_from([(SEED_META, SEED_FILES), (HAND_META, HAND_FILES)]))
    mode = data.draw(st.sampled_from(["zip", "meta", "meta", "meta-bytes", "image", "pixels", "pixels"]))
    if mode == "zip":
        blob = data.draw(mutated_bytes(zip_bytes({**files, "meta.json": json.dumps(meta).encode()})))
    else:
        entries = dict(files)
        raw = json.dumps(meta).encode()
        if mode == "meta":
            raw = data.draw(mutated_meta(meta))
        elif mode == "meta-bytes":
            raw = data.draw(mutated_bytes(raw))
        else:
            name = data.draw(st.sampled_from(sorted(entries)))
            mutate = mutated_bytes if mode == "image" else mutated_pixels
            entries[name] = data.draw(mutate(entries[name]))
        blob = zip_bytes({**entries, "meta.json": raw})
    path = tmp_path / "f.sog"
    path.write_bytes(blob)
    _check(path)


@settings(**FUZZ)
@given(data=st.data())
def test_fuzz_unbundled(tmp_path, data):
    meta, files = data.draw(st.sampled_from([(SEED_META, SEED_FILES), (HAND_META, HAND_FILES)]))
    folder = tmp_path / "u"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    entries = dict(files)
    if data.draw(st.booleans()):
        raw = data.draw(mutated_meta(meta))
    elif data.draw(st.booleans()):
        raw = data.draw(mutated_bytes(json.dumps(meta).encode()))
    else:
        raw = json.dumps(meta).encode()
        name = data.draw(st.sampled_from(sorted(entries)))
        mutate = data.draw(st.sampled_from([mutated_bytes, mutated_pixels]))
        entries[name] = data.draw(mutate(entries[name]))
    for name, blob in entries.items():
        (folder / name).write_bytes(blob)
    (folder / "meta.json").write_bytes(raw)
    _check(folder / "meta.json")


def test_fuzz_seeds_are_valid(tmp_path):
    for i, (meta, files) in enumerate([(SEED_META, SEED_FILES), (HAND_META, HAND_FILES)]):
        assert len(sog.read(write_bundle(tmp_path / f"{i}.sog", meta, files), None).cloud) > 0
        assert len(sog.read(write_folder(tmp_path / f"d{i}", meta, files), None).cloud) > 0


def test_palette_of_identical_sh_rows_is_exact(tmp_path):
    """SH bands that are all zero (a common trainer output at low degree) give a
    one-entry palette that reproduces them exactly (and quickly)."""
    cloud = random_cloud(24000, 3, seed=1)
    cloud.sh[:, 1:] = 0.0
    write_splats(cloud, tmp_path / "zero_sh.sog")
    back = read_splats(tmp_path / "zero_sh.sog").cloud
    assert len(back) == 24000 and back.sh_degree == 3
    assert np.all(back.sh[:, 1:] == 0.0)
