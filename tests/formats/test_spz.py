"""SPZ codec: real samples, hand-built files, round trips, frames and hostile input.

Frames used below:
* ``minimal.splat`` and ``minimal.ksplat`` store the PLY frame (RDF) as is.
* ``minimal-v3.spz`` / ``minimal-v4.spz`` were written by Niantic's library
  (@adobe/spz) from the same RDF values with ``from: RDF``, so they hold RUB
  and our reader turns them back into RDF: they must match ``minimal.splat``.
* ``minimal-raw.spz`` / ``minimal-v2.spz`` were written byte by byte by
  splat-transform's fixture script ("historical non-spec fixture"): the
  ``.splat`` numbers with no axis conversion and the ``.splat`` colour bytes
  stored as SPZ colour bytes. Read per spec they are the ``.splat`` splats
  mirrored in z (their y is 0) with SPZ-decoded colour bytes.
* ``guitar.spz`` was written by splat-transform 3.x, which skips the RUB
  conversion: read per spec it is ``guitar.compressed.ply`` turned 180 degrees
  about x.
"""
from __future__ import annotations

import gzip
import math
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
import zstandard

from editor.formats import spz
from editor.formats.base import FormatError
from editor.formats.ksplat import CODEC as KSPLAT
from editor.formats.registry import detect_codec, read_splats, write_splats
from editor.model import sh as shmod
from editor.model.splat_cloud import SH_C0, SplatCloud, quaternion_to_matrix, sigmoid
from tests.formats.synth import random_cloud

FLIP = np.diag([1.0, -1.0, -1.0])
S2 = math.sqrt(0.5)


# ----------------------------------------------------------------- helpers
def read_dot_splat(path):
    """minimal.splat by hand: 32 B/splat, pos 3xf32, linear scale 3xf32, RGBA u8,
    rotation 4xu8 w,x,y,z as (b - 128) / 128."""
    rows = np.frombuffer(
        path.read_bytes(), dtype=[("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)]
    )
    q = (rows["rot"].astype(np.float64) - 128.0) / 128.0
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return rows["pos"].astype(np.float64), rows["scale"].astype(np.float64), rows["rgba"], q


def covariances(cloud_or_scales, rotations=None):
    if rotations is None:
        scales, rotations = cloud_or_scales.scales.astype(np.float64), cloud_or_scales.rotations
    else:
        scales = cloud_or_scales
    r = quaternion_to_matrix(rotations)
    return np.einsum("nij,nj,nkj->nik", r, scales**2, r)


def rotation_angles(a, b):
    dot = np.abs(np.sum(a.astype(np.float64) * b.astype(np.float64), axis=1))
    return 2.0 * np.degrees(np.arccos(np.clip(dot, 0.0, 1.0)))


def legacy_payload(version, n, degree, fbits, arrays, flags=0):
    return struct.pack("<4sIIBBBB", b"NGSP", version, n, degree, fbits, flags, 0) + b"".join(arrays)


def v4_file(n, degree, fbits, arrays, flags=0, extensions=b"", nstreams=None, sizes=None):
    streams = [a for a in arrays if a]
    chunks = [zstandard.ZstdCompressor().compress(a) for a in streams]
    toc = 32 + len(extensions)
    out = struct.pack("<4sIIBBBBI12x", b"NGSP", 4, n, degree, fbits, flags,
                      len(streams) if nstreams is None else nstreams, toc) + extensions
    for i, (a, c) in enumerate(zip(streams, chunks)):
        out += struct.pack("<QQ", len(c), len(a) if sizes is None else sizes[i])
    return out + b"".join(chunks)


def fixed24(values, fbits):
    v = np.round(np.asarray(values, dtype=np.float64) * (1 << fbits)).astype(np.int32)
    return v.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


@pytest.fixture(scope="module")
def minimal(samples_dir):
    return {name: spz.read_spz(samples_dir / f"minimal-{name}.spz") for name in ("raw", "v2", "v3", "v4")}


# ------------------------------------------------------------ real samples
def test_minimal_samples_match_dot_splat_and_ksplat(samples_dir, minimal):
    pos, scales, rgba, quat = read_dot_splat(samples_dir / "minimal.splat")
    ks = KSPLAT.read(samples_dir / "minimal.ksplat", None).cloud
    # .ksplat (RDF, float32) carries exactly the .splat values.
    np.testing.assert_array_equal(ks.positions, pos)
    np.testing.assert_allclose(ks.scales, scales, rtol=1e-6)
    np.testing.assert_allclose(ks.base_colors, rgba[:, :3] / 255.0, atol=1e-6)
    np.testing.assert_allclose(ks.opacities, rgba[:, 3] / 255.0, atol=1e-5)
    np.testing.assert_allclose(covariances(ks), covariances(scales, quat), atol=1e-7)
    for name in ("v3", "v4"):
        loaded = minimal[name]
        c = loaded.cloud
        assert loaded.version == name[1] and len(c) == 4 and c.sh_degree == 0
        assert loaded.details["fractional_bits"] == 12 and loaded.details["antialiased"] is False
        np.testing.assert_allclose(c.positions, pos, atol=2.0**-13)
        np.testing.assert_allclose(c.log_scales, np.log(scales), atol=1 / 32)
        np.testing.assert_allclose(c.opacities, rgba[:, 3] / 255.0, atol=0.5 / 255 + 1e-6)
        # colour: .splat rounds to 1/255, SPZ to SH_C0 / (0.15 * 255)
        np.testing.assert_allclose(c.base_colors, rgba[:, :3] / 255.0, atol=0.5 / 255 + 0.5 * SH_C0 / 38.25 + 1e-6)
        # isotropic splats: the rotation does not matter, the covariance does
        np.testing.assert_allclose(covariances(c), covariances(scales, quat), rtol=0.07, atol=1e-9)
    np.testing.assert_array_equal(minimal["v3"].cloud.positions, minimal["v4"].cloud.positions)


def test_minimal_raw_and_v2_are_the_non_spec_fixture(samples_dir, minimal):
    pos, scales, rgba, _ = read_dot_splat(samples_dir / "minimal.splat")
    raw, v2 = minimal["raw"], minimal["v2"]
    assert raw.version == v2.version == "2"
    assert raw.details["container"] == "raw" and v2.details["container"] == "gzip"
    assert raw.details["fractional_bits"] == 8
    assert raw.cloud.equals(v2.cloud)
    c = raw.cloud
    np.testing.assert_array_equal(c.positions, pos * [1, -1, -1])  # stored without the RUB flip
    np.testing.assert_allclose(c.sh[:, 0], (rgba[:, :3] / 255.0 - 0.5) / 0.15, atol=1e-6)
    np.testing.assert_allclose(c.opacities, rgba[:, 3] / 255.0, atol=1e-6)
    np.testing.assert_allclose(c.log_scales, np.log(scales), atol=1 / 32)
    np.testing.assert_allclose(c.rotations[:, 0], 1.0, atol=1e-4)  # bytes 128 -> x, y, z ~ 0


def test_guitar_v4_reads_with_plausible_bounds_and_is_the_ply_turned_about_x(samples_dir):
    from plyfile import PlyData

    loaded = read_splats(samples_dir / "guitar.spz")
    c = loaded.cloud
    assert loaded.format == "spz" and loaded.version == "4"
    assert len(c) == 90854 and c.sh_degree == 0
    lo, hi = c.bounds()
    assert np.all(hi - lo > 0.1) and np.all(np.abs([lo, hi]) < 10)
    assert 1e-5 < float(np.median(c.scales)) < 0.5
    assert 0.0 <= c.opacities.min() and c.opacities.max() <= 1.0
    chunk = PlyData.read(str(samples_dir / "guitar.compressed.ply"))["chunk"].data
    ply_lo = np.array([chunk[f"min_{a}"].min() for a in "xyz"])
    ply_hi = np.array([chunk[f"max_{a}"].max() for a in "xyz"])
    # per spec (RUB on disk): y and z come out negated w.r.t. the PLY ...
    np.testing.assert_allclose(lo, [ply_lo[0], -ply_hi[1], -ply_hi[2]], atol=1e-3)
    np.testing.assert_allclose(hi, [ply_hi[0], -ply_lo[1], -ply_lo[2]], atol=1e-3)
    # ... and read as raw RDF (splat-transform 3.x's convention) they match it.
    raw = spz.read_spz(samples_dir / "guitar.spz", assume_frame="RDF").cloud
    rlo, rhi = raw.bounds()
    np.testing.assert_allclose(rlo, ply_lo, atol=1e-3)
    np.testing.assert_allclose(rhi, ply_hi, atol=1e-3)


# ------------------------------------------------------------------ frames
def test_rub_rdf_sign_table_is_rotate_sh_about_x():
    rng = np.random.default_rng(1)
    sh = rng.normal(size=(7, 16, 3)).astype(np.float32)
    flipped = sh * spz.RUB_RDF_SH_SIGNS[None, :, None]
    np.testing.assert_allclose(shmod.rotate_sh(sh, FLIP), flipped, atol=1e-5)
    np.testing.assert_allclose(shmod.sh_rotation_matrix(FLIP, 3), np.diag(spz.RUB_RDF_SH_SIGNS), atol=1e-9)
    np.testing.assert_array_equal(spz.frame_matrix("RUB", "RDF"), FLIP)
    np.testing.assert_array_equal(spz.frame_matrix("RDF", "RUB"), FLIP)


def test_change_frame_is_the_same_rigid_motion_as_transformed():
    c = random_cloud(200, 3, seed=2)
    a = spz.change_frame(c, FLIP)
    b = c.transformed(rotation=FLIP)
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
    np.testing.assert_allclose(a.sh, b.sh, atol=1e-5)
    np.testing.assert_allclose(covariances(a), covariances(b), atol=1e-6)
    # the reference keeps w and negates the y, z quaternion components
    np.testing.assert_allclose(a.rotations, c.rotations * [1, 1, -1, -1], atol=1e-6)
    back = spz.change_frame(a, FLIP)
    np.testing.assert_array_equal(back.positions, c.positions)
    np.testing.assert_array_equal(back.sh, c.sh)
    np.testing.assert_allclose(back.rotations, c.rotations, atol=1e-7)


@pytest.mark.parametrize("frame", ["RFU", "RDB", "LUF", "LBD"])
def test_change_frame_other_frames_keep_gaussians_and_colour(frame):
    c = random_cloud(50, 3, seed=3)
    m = spz.frame_matrix(frame, "RDF")
    out = spz.change_frame(c, m)
    np.testing.assert_allclose(out.positions, c.positions @ m.T, atol=1e-5)
    np.testing.assert_allclose(covariances(out), m @ covariances(c) @ m.T, atol=1e-5)
    dirs = shmod._fibonacci_sphere(50)
    np.testing.assert_allclose(shmod.eval_sh(out.sh, dirs @ m.T), shmod.eval_sh(c.sh, dirs), atol=1e-4)


# ------------------------------------------------------------- round trips
@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_within_documented_tolerances(tmp_path, version, degree):
    c = random_cloud(300, degree, seed=10 + degree)
    path = tmp_path / "a.spz"
    spz.CODEC.write(c, path, None, version=version)
    loaded = spz.CODEC.read(path, None)
    d = loaded.cloud
    assert loaded.version == str(version) and len(d) == len(c) and d.sh_degree == degree
    assert loaded.details == {"antialiased": False, "fractional_bits": 12,
                              "container": "gzip" if version == 3 else "zstd", "coordinate_system": "RUB"}
    assert np.abs(d.positions - c.positions).max() <= 2.0**-13 + 1e-6
    assert np.abs(d.log_scales - c.log_scales).max() <= 1 / 32 + 1e-6
    assert np.abs(sigmoid(d.opacity_logits) - sigmoid(c.opacity_logits)).max() <= 0.5 / 255 + 1e-6
    assert np.abs(d.sh[:, 0] - c.sh[:, 0]).max() <= 0.5 / 38.25 + 1e-6
    if degree:
        assert np.abs(d.sh[:, 1:4] - c.sh[:, 1:4]).max() <= 4.5 / 128 + 1e-6
        assert np.abs(d.sh[:, 4:] - c.sh[:, 4:]).max(initial=0) <= 8.5 / 128 + 1e-6
    assert rotation_angles(d.rotations, c.rotations).max() < 0.2
    # decoded values are (nearly) a fixed point: writing what we read gives it back
    spz.CODEC.write(d, path, None, version=version)
    e = spz.CODEC.read(path, None).cloud
    for name in ("positions", "log_scales", "opacity_logits", "sh"):
        np.testing.assert_array_equal(getattr(e, name), getattr(d, name))
    assert rotation_angles(e.rotations, d.rotations).max() < 0.2


def test_full_precision_sh_option(tmp_path):
    c = random_cloud(100, 3, seed=4)
    spz.CODEC.write(c, tmp_path / "a.spz", None, sh1_bits=8, sh_rest_bits=8)
    d = spz.CODEC.read(tmp_path / "a.spz", None).cloud
    assert np.abs(d.sh[:, 1:] - c.sh[:, 1:]).max() <= 0.5 / 128 + 1e-6


def test_sh_layout_is_coefficient_major_rgb_inner_in_rub(tmp_path):
    c = random_cloud(1, 1, seed=5)
    c.sh[:, 1:] = 0
    c.sh[0, 3, 0] = 0.5  # band 1 m=+1 (~x): same sign in RUB
    c.sh[0, 1, 2] = 0.5  # band 1 m=-1 (~y): flips sign in RUB
    spz.CODEC.write(c, tmp_path / "a.spz", None, sh1_bits=8)
    raw = gzip.decompress((tmp_path / "a.spz").read_bytes())
    sh_bytes = raw[16 + 9 + 1 + 3 + 3 + 4 :]
    assert list(sh_bytes) == [128, 128, 64, 128, 128, 128, 192, 128, 128]


def test_write_v4_layout_and_header(tmp_path):
    c = random_cloud(10, 2, seed=6)
    spz.CODEC.write(c, tmp_path / "a.spz", None, version=4)
    data = (tmp_path / "a.spz").read_bytes()
    magic, version, n, degree, fbits, flags, nstreams, toc = struct.unpack_from("<4sIIBBBBI", data)
    assert (magic, version, n, degree, fbits, flags, nstreams, toc) == (b"NGSP", 4, 10, 2, 12, 0, 6, 32)
    sizes = [struct.unpack_from("<QQ", data, 32 + 16 * i)[1] for i in range(6)]
    assert sizes == [90, 10, 30, 30, 40, 10 * 24]


def test_fractional_bits_auto_reduce_and_explicit(tmp_path):
    c = random_cloud(20, 0, seed=7)
    c.positions[0] = (3000.0, -0.5, 2.0)
    path = tmp_path / "a.spz"
    spz.CODEC.write(c, path, None)
    d = spz.CODEC.read(path, None)
    assert d.details["fractional_bits"] == 11
    assert np.abs(d.cloud.positions - c.positions).max() <= 2.0**-12 + 1e-4
    with pytest.raises(FormatError, match="fractional bits"):
        spz.CODEC.write(c, path, None, fractional_bits=12)
    small = random_cloud(20, 0, seed=8)
    spz.CODEC.write(small, path, None, fractional_bits=16)
    d = spz.CODEC.read(path, None)
    assert d.details["fractional_bits"] == 16
    assert np.abs(d.cloud.positions - small.positions).max() <= 2.0**-17 + 1e-6
    c.positions[0, 0] = 1e7
    with pytest.raises(FormatError, match="at most"):
        spz.CODEC.write(c, path, None)
    for bad in (-1, 24, 2.5, True):
        with pytest.raises(FormatError, match="fractional_bits"):
            spz.CODEC.write(small, path, None, fractional_bits=bad)


def test_write_refuses_what_spz_cannot_hold(tmp_path):
    c = random_cloud(5, 0, seed=9)
    for options in ({"version": 2}, {"sh1_bits": 0}, {"sh_rest_bits": 9}):
        with pytest.raises(FormatError):
            spz.CODEC.write(c, tmp_path / "a.spz", None, **options)
    with pytest.raises(FormatError, match="empty"):
        spz.CODEC.write(SplatCloud.empty(), tmp_path / "a.spz", None)
    c.positions[2, 1] = np.nan
    with pytest.raises(FormatError, match="non-finite"):
        write_splats(c, tmp_path / "b.spz")
    assert not list(tmp_path.glob("b.spz*"))  # atomic: nothing left behind


def test_write_tolerates_nonfinite_attributes(tmp_path):
    c = random_cloud(4, 1, seed=11)
    c.log_scales[0, 0] = np.nan
    c.opacity_logits[1] = np.inf
    c.sh[2, 0, 0] = -np.inf
    c.sh[3, 2, 1] = np.nan
    c.rotations[3] = 0
    spz.CODEC.write(c, tmp_path / "a.spz", None)
    d = spz.CODEC.read(tmp_path / "a.spz", None).cloud
    assert all(np.isfinite(getattr(d, a)).all() for a in ("log_scales", "opacity_logits", "sh", "rotations"))
    assert d.opacities[1] > 0.99


def test_registry_round_trip_and_sniffing(tmp_path):
    c = random_cloud(30, 1, seed=12)
    write_splats(c, tmp_path / "a.spz")
    write_splats(c, tmp_path / "b.spz", version=4)
    write_splats(c, tmp_path / "c.bin", format="spz")
    assert read_splats(tmp_path / "a.spz").version == "3"
    assert read_splats(tmp_path / "b.spz").version == "4"
    assert detect_codec(tmp_path / "c.bin").name == "spz"
    assert spz.CODEC.sniff(b"NGSP\x04\x00", tmp_path / "x")
    assert spz.CODEC.sniff(gzip.compress(b"NGSP" + bytes(12)), tmp_path / "x")
    assert not spz.CODEC.sniff(gzip.compress(b"hello world"), tmp_path / "x")
    assert not spz.CODEC.sniff(b"\x1f\x8b garbage", tmp_path / "x")
    assert not spz.CODEC.sniff(b"ply\nformat binary_little_endian 1.0\n", tmp_path / "x")


def test_progress_reaches_one(tmp_path):
    c = random_cloud(50, 2, seed=13)
    for version in (3, 4):
        seen = []
        spz.CODEC.write(c, tmp_path / "a.spz", seen.append, version=version)
        assert seen and seen[-1] == 1.0
        seen = []
        spz.CODEC.read(tmp_path / "a.spz", seen.append)
        assert seen and seen[-1] == 1.0 and seen == sorted(seen)


# ----------------------------------------------------- hand-built decoding
def test_v2_byte_level_decoding_constants(tmp_path):
    arrays = [
        fixed24([1.5, -2.25, 3.0], 4),
        bytes([255]),
        bytes([255, 0, 128]),
        bytes([0, 160, 255]),
        bytes([128, 128, 255]),  # x = y ~ 0, z = 1 -> w = 0: 180 degrees about z
        bytes([192, 128, 64, 128, 0, 255, 128, 128, 128]),
    ]
    path = tmp_path / "a.spz"
    path.write_bytes(gzip.compress(legacy_payload(2, 1, 1, 4, arrays)))
    c = spz.read_spz(path).cloud
    np.testing.assert_allclose(c.positions, [[1.5, 2.25, -3.0]])  # RUB -> RDF
    assert c.opacities[0] > 0.99999 and np.isfinite(c.opacity_logits).all()
    np.testing.assert_allclose(c.sh[0, 0], [(1 - 0.5) / 0.15, (0 - 0.5) / 0.15, (128 / 255 - 0.5) / 0.15], atol=1e-6)
    np.testing.assert_allclose(c.log_scales[0], [-10.0, 0.0, 5.9375])
    q = c.rotations[0] * np.sign(c.rotations[0, 3])
    # RUB (w, x, y, z) = (0, 0.0039, 0.0039, 1) -> RDF (0, 0.0039, -0.0039, -1), shown with z > 0
    np.testing.assert_allclose(q, [0, -0.0039, 0.0039, 1.0], atol=1e-3)
    rest = (np.array([192, 128, 64, 128, 0, 255, 128, 128, 128]).reshape(3, 3) - 128) / 128
    np.testing.assert_allclose(c.sh[0, 1:], rest * spz.RUB_RDF_SH_SIGNS[1:4, None], atol=1e-6)


def test_v1_float16_positions(tmp_path):
    pos = np.array([[0.5, 1.25, -2.0], [100.0, -0.125, 0.0]], dtype="<f2").tobytes()
    arrays = [pos, bytes([128, 255]), bytes(6), bytes(6), bytes([128] * 6), b""]
    path = tmp_path / "a.spz"
    path.write_bytes(gzip.compress(legacy_payload(1, 2, 0, 0, arrays)))
    loaded = spz.read_spz(path)
    assert loaded.version == "1"
    np.testing.assert_allclose(loaded.cloud.positions, [[0.5, -1.25, 2.0], [100.0, 0.125, 0.0]])


@pytest.mark.parametrize(
    "code, expected",
    [
        (3 << 30, [1, 0, 0, 0]),  # w largest, rest zero: identity
        (0 << 30, [0, 1, 0, 0]),  # x largest: 180 degrees about x (x is not flipped)
        ((3 << 30) | (511 << 0), [S2, 0, 0, -S2]),  # z = +sqrt(1/2) in RUB -> -z in RDF
        ((3 << 30) | (0x3FF << 20), [S2, -S2, 0, 0]),  # x = -sqrt(1/2): sign bit set
    ],
)
def test_v3_smallest_three_decoding(tmp_path, code, expected):
    arrays = [fixed24([0, 0, 0], 12), bytes([200]), bytes(3), bytes(3), struct.pack("<I", code), b""]
    path = tmp_path / "a.spz"
    path.write_bytes(gzip.compress(legacy_payload(3, 1, 0, 12, arrays)))
    np.testing.assert_allclose(spz.read_spz(path).cloud.rotations[0], expected, atol=2e-3)


def test_smallest_three_encoding_matches_reference_bits():
    q = np.array([[1.0, 0, 0, 0], [0, 0, 0, -1.0], [S2, -S2, 0, 0]])
    codes = spz.encode_rotations_smallest_three(q)
    sign = 0x200
    assert codes[0] == 3 << 30
    # z largest and negative: the quaternion is negated, so the zeros get the sign bit
    # ((q < 0) xor negate, as in the reference)
    assert codes[1] == (2 << 30) | (sign << 20) | (sign << 10) | sign
    # |x| ties with |w|: the first maximum (x, index 0) wins as in the reference; x < 0 so
    # everything is negated: y, z (zero) and w (+sqrt(1/2) -> magnitude 511) carry the sign bit
    assert codes[2] == (0 << 30) | (sign << 20) | (sign << 10) | sign | 511


def test_degree_four_drops_band_four(tmp_path):
    n = 3
    rng = np.random.default_rng(14)
    sh_bytes = rng.integers(0, 256, n * 72, dtype=np.uint8)
    arrays = [fixed24(np.zeros(9), 12), bytes(n), bytes(3 * n), bytes(3 * n), bytes([0, 0, 0, 0xC0] * n),
              sh_bytes.tobytes()]
    path = tmp_path / "a.spz"
    path.write_bytes(v4_file(n, 4, 12, arrays))
    loaded = spz.read_spz(path)
    assert loaded.cloud.sh_degree == 3 and loaded.details["sh_degree_in_file"] == 4
    expected = (sh_bytes.reshape(n, 24, 3)[:, :15].astype(np.float32) - 128) / 128
    np.testing.assert_allclose(loaded.cloud.sh[:, 1:], expected * spz.RUB_RDF_SH_SIGNS[1:, None], atol=1e-6)


def _ext(kind, payload):
    return struct.pack("<II", kind, len(payload)) + payload


def test_v4_extensions_coordinate_system_and_unknown(tmp_path):
    c = random_cloud(8, 1, seed=15)
    arrays = spz.encode_arrays(spz.change_frame(c, FLIP), 12, 8, 8)  # arrays of c stored as RDF
    path = tmp_path / "a.spz"
    exts = _ext(0x12340001, b"hello") + _ext(spz.EXT_COORDINATE_SYSTEM, struct.pack("<I", 6))
    path.write_bytes(v4_file(8, 1, 12, arrays, flags=2, extensions=exts))
    loaded = spz.read_spz(path)
    assert loaded.details["coordinate_system"] == "RDF"
    assert loaded.details["extension_types"] == ["0x12340001", "0xadbe0003"]
    assert np.abs(loaded.cloud.positions - c.positions).max() <= 2.0**-13 + 1e-6
    assert np.abs(loaded.cloud.sh[:, 1:] - c.sh[:, 1:]).max() <= 0.5 / 128 + 1e-6
    # extensions without the flag are ignored (as the reference does)
    path.write_bytes(v4_file(8, 1, 12, arrays, flags=0, extensions=exts))
    assert spz.read_spz(path).details["coordinate_system"] == "RUB"
    for bad in (_ext(spz.EXT_COORDINATE_SYSTEM, struct.pack("<I", 99)),
                _ext(spz.EXT_COORDINATE_SYSTEM, b"\x01"),
                struct.pack("<II", 7, 1000)):
        path.write_bytes(v4_file(8, 1, 12, arrays, flags=2, extensions=bad))
        with pytest.raises(FormatError, match="extension"):
            spz.read_spz(path)


def test_legacy_extension_tail(tmp_path):
    arrays = [fixed24([1, 2, 3], 12), bytes([200]), bytes(3), bytes(3), struct.pack("<I", 3 << 30), b""]
    ext = _ext(spz.EXT_COORDINATE_SYSTEM, struct.pack("<I", 6))
    path = tmp_path / "a.spz"
    path.write_bytes(gzip.compress(legacy_payload(3, 1, 0, 12, arrays, flags=2) + ext))
    loaded = spz.read_spz(path)
    assert loaded.details["coordinate_system"] == "RDF"
    np.testing.assert_allclose(loaded.cloud.positions, [[1, 2, 3]])


# ------------------------------------------------------------ hostile input
def _valid_v3(tmp_path, n=6, degree=1):
    spz.CODEC.write(random_cloud(n, degree, seed=16), tmp_path / "ok.spz", None)
    return (tmp_path / "ok.spz").read_bytes()


def _valid_v4(tmp_path, n=6, degree=1):
    spz.CODEC.write(random_cloud(n, degree, seed=17), tmp_path / "ok4.spz", None, version=4)
    return (tmp_path / "ok4.spz").read_bytes()


def _expect_error(tmp_path, data, match=None):
    path = tmp_path / "bad.spz"
    path.write_bytes(data)
    with pytest.raises(FormatError, match=match):
        spz.CODEC.read(path, None)


def test_truncated_files(tmp_path):
    v3 = _valid_v3(tmp_path)
    inner = gzip.decompress(v3)
    _expect_error(tmp_path, v3[: len(v3) // 2])
    _expect_error(tmp_path, gzip.compress(inner[:-5]), match="truncated")
    _expect_error(tmp_path, gzip.compress(inner[:10]), match="truncated")
    _expect_error(tmp_path, inner[:-5], match="truncated")  # raw NGSP
    v4 = _valid_v4(tmp_path)
    for cut in (10, 40, len(v4) - 3):
        _expect_error(tmp_path, v4[:cut])
    _expect_error(tmp_path, b"", match="not an SPZ")
    _expect_error(tmp_path, b"NGSP", match="truncated")


def test_lying_headers(tmp_path):
    inner = bytearray(gzip.decompress(_valid_v3(tmp_path)))
    for offset, value, match in ((4, 5, "version 5"), (4, 0, "version 0"), (8, 10**9, "splats"),
                                 (8, 4_000_000, "truncated|splats")):
        bad = bytearray(inner)
        struct.pack_into("<I", bad, offset, value)
        _expect_error(tmp_path, gzip.compress(bytes(bad)), match=match)
    bad = bytearray(inner)
    bad[12] = 7
    _expect_error(tmp_path, gzip.compress(bytes(bad)), match="SH degree")
    _expect_error(tmp_path, gzip.compress(b"NOPE" + bytes(40)), match="magic")

    n, deg = 6, 1
    arrays = spz.encode_arrays(random_cloud(n, deg, seed=18), 12, 5, 4)
    _expect_error(tmp_path, v4_file(n, deg, 12, arrays, nstreams=5), match="streams")
    _expect_error(tmp_path, v4_file(n, deg, 12, arrays, sizes=[54, 6, 18, 18, 24, 99]), match="sh stream")
    data = bytearray(v4_file(n, deg, 12, arrays))
    struct.pack_into("<I", data, 16, 10_000)
    _expect_error(tmp_path, bytes(data), match="table of contents")
    data = bytearray(v4_file(n, deg, 12, arrays))
    struct.pack_into("<I", data, 8, 50_000_000)
    _expect_error(tmp_path, bytes(data), match="splats")
    data = bytearray(v4_file(n, deg, 12, arrays))
    struct.pack_into("<Q", data, 32, 2**63)
    _expect_error(tmp_path, bytes(data), match="truncated")
    data = bytearray(v4_file(n, deg, 12, arrays))
    last = struct.unpack_from("<Q", data, 32 + 5 * 16)[0]
    data[len(data) - last] ^= 0xFF  # break the last stream's zstd frame magic
    _expect_error(tmp_path, bytes(data), match="corrupt zstd data in the sh stream")


def test_gzip_header_claiming_more_than_deflate_can_hold(tmp_path):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    payload = z.compress(struct.pack("<4sIIBBBB", b"NGSP", 3, 10_000_000, 3, 12, 0, 0))
    payload += z.compress(bytes(8 << 20)) + z.flush()
    _expect_error(tmp_path, payload, match="splats")


def test_gzip_bomb_after_valid_data_is_not_inflated(tmp_path):
    inner = gzip.decompress(_valid_v3(tmp_path, n=4, degree=0))
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    payload = z.compress(inner)
    zeros = bytes(1 << 20)
    for _ in range(64):
        payload += z.compress(zeros)
    payload += z.flush()
    path = tmp_path / "bomb.spz"
    path.write_bytes(payload)
    tracemalloc.start()
    try:
        loaded = spz.CODEC.read(path, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(loaded.cloud) == 4
    assert peak < len(payload) + (4 << 20)


def test_zstd_bomb_stream_is_capped(tmp_path):
    n = 4
    arrays = spz.encode_arrays(random_cloud(n, 0, seed=19), 12, 5, 4)
    good = v4_file(n, 0, 12, arrays)
    zeros = bytes(1 << 20)
    cobj = zstandard.ZstdCompressor(level=3).compressobj(size=256 << 20)  # content size in the frame header
    bomb = b"".join(cobj.compress(zeros) for _ in range(256)) + cobj.flush()  # ~8 KiB -> 256 MiB
    chunks = [bomb] + [zstandard.ZstdCompressor().compress(a) for a in arrays[1:5]]
    data = struct.pack("<4sIIBBBBI12x", b"NGSP", 4, n, 0, 12, 0, 5, 32)
    sizes = [len(a) for a in arrays[:5]]
    data += b"".join(struct.pack("<QQ", len(c), s) for c, s in zip(chunks, sizes)) + b"".join(chunks)
    assert len(good) < len(data)
    path = tmp_path / "bomb.spz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="positions stream holds more"):
            spz.CODEC.read(path, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_not_spz_at_all(tmp_path):
    _expect_error(tmp_path, b"ply\nformat ascii 1.0\nend_header\n", match="not an SPZ")
    _expect_error(tmp_path, b"\x1f\x8b\x08\x00garbage", match="gzip|truncated")
    _expect_error(tmp_path, b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 30, match="corrupt gzip")
    _expect_error(tmp_path, gzip.compress(b"short"), match="truncated")


def test_cancel_from_progress_stops_reading(tmp_path):
    from editor.formats.base import Cancelled

    spz.CODEC.write(random_cloud(20, 1, seed=20), tmp_path / "a.spz", None)

    def stop(fraction):
        raise Cancelled()

    with pytest.raises(Cancelled):
        spz.CODEC.read(tmp_path / "a.spz", stop)
