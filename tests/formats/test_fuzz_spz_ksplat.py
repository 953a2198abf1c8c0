"""Property-based fuzzing of the SPZ and .ksplat readers.

Small valid files (real samples and files we build) are mutated: byte flips,
truncations, inserted and deleted bytes, and header/table fields set to
interesting values. For gzip SPZ the mutation hits either the compressed bytes
or the inner payload before re-gzipping (so the decoder behind the inflater is
fuzzed too); for v4 either the container or one decompressed stream. Reading
must either give a valid cloud or raise `FormatError`: nothing else, and no
unbounded allocation (a lying count that got through would show up as a
MemoryError or a very slow example).
"""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from editor.formats import ksplat, spz
from tests.formats.fuzzing import FUZZ, assert_cloud_or_format_error, mutated_bytes
from tests.formats.synth import random_cloud
from tests.formats.test_ksplat import build_ksplat
from tests.formats.test_spz import legacy_payload, v4_file


def _legacy_seeds():
    seeds = []
    for version, n, degree in ((3, 3, 1), (3, 2, 3), (3, 4, 0)):
        cloud = random_cloud(n, degree, seed=version * 10 + n)
        arrays = spz.encode_arrays(cloud, 12, 5, 4)
        seeds.append(legacy_payload(version, n, degree, 12, arrays))
    rng = np.random.default_rng(0)
    for version, n, degree in ((2, 3, 1), (1, 2, 0)):
        arrays = [
            rng.uniform(-3, 3, 3 * n).astype("<f2").tobytes() if version == 1
            else rng.integers(0, 256, n * 9, dtype=np.uint8).tobytes(),
            bytes(range(n)),
            bytes(3 * n),
            bytes([100] * 3 * n),
            bytes([128] * 3 * n),
            rng.integers(0, 256, n * 3 * ((degree + 1) ** 2 - 1), dtype=np.uint8).tobytes(),
        ]
        seeds.append(legacy_payload(version, n, degree, 8, arrays))
    ext = struct.pack("<III", spz.EXT_COORDINATE_SYSTEM, 4, 6)
    seeds.append(seeds[0][:14] + bytes([2]) + seeds[0][15:] + ext)  # flags: extensions at the end
    return seeds


def _v4_seeds():
    seeds = []
    for n, degree in ((3, 2), (2, 0), (1, 1)):
        arrays = spz.encode_arrays(random_cloud(n, degree, seed=40 + n), 12, 5, 4)
        seeds.append(v4_file(n, degree, 12, arrays))
    arrays = spz.encode_arrays(random_cloud(2, 1, seed=50), 12, 5, 4)
    ext = struct.pack("<III", spz.EXT_COORDINATE_SYSTEM, 4, 6) + struct.pack("<II", 0x12340001, 3) + b"abc"
    seeds.append(v4_file(2, 1, 12, arrays, flags=2, extensions=ext))
    return seeds


def _ksplat_seeds():
    seeds = []
    for level, degree, parts in ((0, 0, 1), (1, 1, 1), (2, 2, 1), (1, 0, 2), (0, 3, 1)):
        clouds = [random_cloud(5, degree, seed=60 + level + i) for i in range(parts)]
        for c in clouds:
            c.positions *= 0.3
        seeds.append(build_ksplat(clouds, level, bucket_size=2)[0])
    return seeds


LEGACY = _legacy_seeds()
V4 = _v4_seeds()
KSPLAT = _ksplat_seeds()

LEGACY_FIELDS = [(4, "<I"), (8, "<I"), (12, "<B"), (13, "<B"), (14, "<B")]
V4_FIELDS = LEGACY_FIELDS + [(15, "<B"), (16, "<I")] + [(32 + 16 * i + k, "<Q") for i in range(6) for k in (0, 8)]
KSPLAT_FIELDS = (
    [(0, "<B"), (1, "<B"), (4, "<I"), (8, "<I"), (12, "<I"), (16, "<I"), (20, "<H"), (36, "<f"), (40, "<f")]
    + [(4096 + o, "<I") for o in (0, 4, 8, 12, 24, 32, 36)]
    + [(4096 + 16, "<f"), (4096 + 20, "<H"), (4096 + 40, "<H"), (5120, "<I"), (5120 + 40, "<H")]
)


def mutated(data: bytes, fields):
    """``data`` with 1-4 random mutations (`tests.formats.fuzzing.mutated_bytes`)."""
    return mutated_bytes(data, fields)


def _check(codec, path, data: bytes) -> None:
    path.write_bytes(data)
    assert_cloud_or_format_error(lambda p: codec.read(p, None), path)


@settings(**FUZZ)
@given(data=st.data())
def test_fuzz_spz_gzip_and_raw_legacy(tmp_path, data):
    seed = data.draw(st.sampled_from(LEGACY))
    mode = data.draw(st.sampled_from(["inner", "outer", "raw"]))
    if mode == "inner":
        blob = gzip.compress(data.draw(mutated(seed, LEGACY_FIELDS)), compresslevel=1)
    elif mode == "outer":
        blob = data.draw(mutated(gzip.compress(seed, compresslevel=1), []))
    else:
        blob = data.draw(mutated(seed, LEGACY_FIELDS))
    _check(spz.CODEC, tmp_path / "f.spz", blob)


@settings(**FUZZ)
@given(data=st.data())
def test_fuzz_spz_v4(tmp_path, data):
    seed = data.draw(st.sampled_from(V4))
    if data.draw(st.booleans()):
        blob = data.draw(mutated(seed, V4_FIELDS))
    else:
        # mutate one decompressed stream and rebuild the container around it
        nstreams, toc = seed[15], struct.unpack_from("<I", seed, 16)[0]
        head, entries, offset = seed[:toc], [], toc + 16 * nstreams
        for i in range(nstreams):
            csize = struct.unpack_from("<Q", seed, toc + 16 * i)[0]
            entries.append(zstandard.ZstdDecompressor().decompress(seed[offset : offset + csize]))
            offset += csize
        k = data.draw(st.integers(0, nstreams - 1))
        entries[k] = data.draw(mutated(entries[k], []))
        keep_sizes = data.draw(st.booleans())
        chunks = [zstandard.ZstdCompressor(level=1).compress(e) for e in entries]
        blob = head
        for i, (e, c) in enumerate(zip(entries, chunks)):
            usize = struct.unpack_from("<Q", seed, toc + 16 * i + 8)[0] if keep_sizes else len(e)
            blob += struct.pack("<QQ", len(c), usize)
        blob += b"".join(chunks)
    _check(spz.CODEC, tmp_path / "f.spz", blob)


@settings(**FUZZ)
@given(data=st.data())
def test_fuzz_ksplat(tmp_path, data):
    seed = data.draw(st.sampled_from(KSPLAT))
    _check(ksplat.CODEC, tmp_path / "f.ksplat", data.draw(mutated(seed, KSPLAT_FIELDS)))


@pytest.mark.parametrize("seed", range(len(LEGACY)))
def test_legacy_seeds_are_valid(tmp_path, seed):
    path = tmp_path / "s.spz"
    path.write_bytes(gzip.compress(LEGACY[seed]))
    assert len(spz.CODEC.read(path, None).cloud) > 0


@pytest.mark.parametrize("seed", range(len(V4)))
def test_v4_seeds_are_valid(tmp_path, seed):
    path = tmp_path / "s.spz"
    path.write_bytes(V4[seed])
    assert len(spz.CODEC.read(path, None).cloud) > 0


@pytest.mark.parametrize("seed", range(len(KSPLAT)))
def test_ksplat_seeds_are_valid(tmp_path, seed):
    path = tmp_path / "s.ksplat"
    path.write_bytes(KSPLAT[seed])
    assert len(ksplat.CODEC.read(path, None).cloud) > 0
