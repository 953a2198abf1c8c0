"""Property-based fuzzing of the PLY, compressed PLY and .splat readers.

Small real/generated files are mutated (byte flips, truncations, inserted and
deleted bytes, header tokens swapped for hostile values); reading must either
give a valid SplatCloud or raise FormatError -- never another exception.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import plyfile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor.formats import FormatError, read_splats
from editor.formats import compressed_ply, ply, splat
from editor.formats.base import check_finite
from editor.model.splat_cloud import SplatCloud
from tests.formats.synth import random_cloud

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"  # optional extra seed


def _seed_files() -> dict[str, list[bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out: dict[str, list[bytes]] = {"ply": [], "compressed": [], "splat": []}
        ply.write(random_cloud(3, 1, seed=1, extras=True), tmp / "a.ply")
        out["ply"].append((tmp / "a.ply").read_bytes())
        vertex = np.array(plyfile.PlyData.read(str(tmp / "a.ply"))["vertex"].data[:2])
        cam = np.zeros(1, [("fx", "f8"), ("id", "u1")])
        face = np.empty(2, [("idx", object)])
        face["idx"] = [np.array([1, 2], np.int32), np.array([3], np.int32)]
        elements = [plyfile.PlyElement.describe(cam, "camera"),
                    plyfile.PlyElement.describe(face, "face", val_types={"idx": "i4"}),
                    plyfile.PlyElement.describe(vertex, "vertex")]
        for text, order in ((True, "="), (False, ">")):
            plyfile.PlyData(elements, text=text, byte_order=order).write(str(tmp / "b.ply"))
            out["ply"].append((tmp / "b.ply").read_bytes())
        compressed_ply.write(random_cloud(20, 1, seed=2), tmp / "c.compressed.ply")
        out["compressed"].append((tmp / "c.compressed.ply").read_bytes())
        compressed_ply.write(random_cloud(300, 0, seed=3), tmp / "d.compressed.ply")
        out["compressed"].append((tmp / "d.compressed.ply").read_bytes())
        splat.write(random_cloud(4, 0, seed=4), tmp / "e.splat")
        out["splat"].append((tmp / "e.splat").read_bytes())
    if (SAMPLES / "minimal.splat").is_file():
        out["splat"].append((SAMPLES / "minimal.splat").read_bytes())
    return out


SEEDS = _seed_files()

HOSTILE_TOKENS = [b"0", b"1", b"2", b"3", b"255", b"256", b"65535", b"4294967295", b"99999999", b"-1", b"1e3",
                  b"float", b"double", b"uchar", b"char", b"int", b"list", b"ascii", b"binary_big_endian",
                  b"binary_little_endian", b"vertex", b"chunk", b"sh", b"element", b"property", b"end_header",
                  b"x", b"f_rest_0", b"packed_position", b"", b"\xff", b"ply"]

_TYPES = [b"char", b"uchar", b"short", b"ushort", b"int", b"uint", b"float", b"double", b"int8", b"float64",
          b"list uchar int", b"half"]
_COUNT_CHANGES = [lambda c: 0, lambda c: 1, lambda c: c - 1, lambda c: c + 1, lambda c: c // 2, lambda c: c * 2,
                  lambda c: c + 256, lambda c: 2**32 - 1, lambda c: 10**12, lambda c: -c]
_AT = st.integers(0, 1 << 20)

_OP = st.one_of(
    st.tuples(st.just("flip"), _AT, st.integers(1, 255)),
    st.tuples(st.just("truncate"), _AT),
    st.tuples(st.just("insert"), _AT, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), _AT, st.integers(1, 16)),
    st.tuples(st.just("token"), _AT, st.sampled_from(HOSTILE_TOKENS)),
    st.tuples(st.just("token"), _AT, st.integers(0, 1 << 33).map(lambda v: str(v).encode())),
    st.tuples(st.just("count"), _AT, st.sampled_from(_COUNT_CHANGES)),
    st.tuples(st.just("type"), _AT, st.sampled_from(_TYPES)),
)
MUTATIONS = st.lists(_OP, min_size=1, max_size=4)


def _header_matches(buf: bytearray, pattern: bytes) -> list[re.Match]:
    end = buf.find(b"end_header")
    return list(re.finditer(pattern, bytes(buf[: end if end > 0 else min(len(buf), 2048)])))


def _mutate(data: bytes, ops) -> bytes:
    """Apply mutations: byte flips, truncation, insertions, deletions, and
    header edits (any token, an element count, a property type)."""
    buf = bytearray(data)
    for op in ops:
        if not buf:
            break
        kind, at = op[0], op[1] % len(buf)
        if kind == "flip":
            buf[at] ^= op[2]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = op[2]
        elif kind == "delete":
            del buf[at:at + op[2]]
        else:
            pattern = {"token": rb"\S+", "count": rb"(?<=element )\S+ (\d+)",
                       "type": rb"(?<=property )(?:list \S+ \S+|\S+)"}[kind]
            found = _header_matches(buf, pattern)
            if not found:
                continue
            m = found[op[1] % len(found)]
            if kind == "count":
                value = str(op[2](int(m.group(1)))).encode()
                buf[m.start(1):m.end(1)] = value
            else:
                buf[m.start():m.end()] = op[2]
    return bytes(buf)


def _check(codec, path: Path) -> None:
    try:
        loaded = codec.read(path, None)
        check_finite(path, loaded.cloud)
    except FormatError as e:
        assert str(e) and "\n" not in str(e)
    else:
        cloud = loaded.cloud
        assert isinstance(cloud, SplatCloud)
        assert np.isfinite(cloud.positions).all()
        if len(cloud):
            np.testing.assert_allclose(np.linalg.norm(cloud.rotations, axis=1), 1.0, atol=1e-5)
    try:
        read_splats(path)
    except FormatError:
        pass


FUZZ = settings(max_examples=1000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.mark.filterwarnings("error")  # sloppy numerics (overflow, NaN casts) fail too
@FUZZ
@given(seed=st.integers(0, len(SEEDS["ply"]) - 1), ops=MUTATIONS)
def test_fuzz_ply(tmp_path, seed, ops):
    path = tmp_path / "fuzz.ply"
    path.write_bytes(_mutate(SEEDS["ply"][seed], ops))
    _check(ply.CODEC, path)


@pytest.mark.filterwarnings("error")  # sloppy numerics (overflow, NaN casts) fail too
@FUZZ
@given(seed=st.integers(0, len(SEEDS["compressed"]) - 1), ops=MUTATIONS)
def test_fuzz_compressed_ply(tmp_path, seed, ops):
    path = tmp_path / "fuzz.compressed.ply"
    path.write_bytes(_mutate(SEEDS["compressed"][seed], ops))
    _check(compressed_ply.CODEC, path)


@pytest.mark.filterwarnings("error")  # sloppy numerics (overflow, NaN casts) fail too
@FUZZ
@given(seed=st.integers(0, len(SEEDS["splat"]) - 1), ops=MUTATIONS)
def test_fuzz_splat(tmp_path, seed, ops):
    path = tmp_path / "fuzz.splat"
    path.write_bytes(_mutate(SEEDS["splat"][seed], ops))
    _check(splat.CODEC, path)
