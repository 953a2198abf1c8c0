"""What the format fuzz tests share: hypothesis settings, byte-level
mutations of a seed file, and the one property every reader must keep.

The property: reading a mutated file either gives a valid `SplatCloud`
(consistent shapes, finite values, unit rotations, SH degree 0-3) or raises
`FormatError` with a one-line message -- never another exception, never a
hang or an unbounded allocation. Format-specific mutations (PLY header
tokens, SOG meta fields, glTF JSON paths, SPZ streams) stay in their test
files and feed these helpers.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, event
from hypothesis import strategies as st

from editor.formats.base import FormatError
from editor.model.splat_cloud import SplatCloud

#: ``@settings(**FUZZ)``: 1,000 examples per test, no deadline (machines are shared).
FUZZ = dict(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Integers that break lazy bounds checks: zero, one-offs, powers of two, type maxima.
INTERESTING_INTS = [0, 1, 2, 3, 4, 5, 7, 8, 12, 16, 24, 255, 256, 4095, 4096, 65535, 2**24, 2**31 - 1, 2**31,
                    2**32 - 1]
#: Floats that break lazy numerics.
INTERESTING_FLOATS = [0.0, -0.0, -1.0, 1.0, 0.5, 2.0, 1e-30, 1e-40, 1e6, 1e30, -1e30, float("nan"), float("inf"),
                      float("-inf")]


@st.composite
def mutated_bytes(draw, data: bytes, fields=(), any_u32: bool = False, max_ops: int = 4) -> bytes:
    """``data`` with 1..``max_ops`` mutations applied in turn: a flipped byte,
    a truncation, 1-8 inserted bytes, 1-16 deleted bytes, one of ``fields``
    ((offset, struct format) pairs: header and table fields) set to an
    interesting value, or with ``any_u32`` a little-endian uint32 anywhere."""
    out = bytearray(data)
    kinds = ["flip", "truncate", "insert", "delete"] + ["field"] * (2 if fields else 0) + (["u32"] if any_u32 else [])
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(kinds))
        if kind == "field":
            offset, fmt = draw(st.sampled_from(list(fields)))
            if offset + struct.calcsize(fmt) > len(out):
                continue
            if fmt[-1] in "fd":
                value = draw(st.sampled_from(INTERESTING_FLOATS))
            else:
                top = 2 ** (8 * struct.calcsize(fmt)) - 1
                value = draw(st.one_of(st.sampled_from([v for v in INTERESTING_INTS if v <= top]), st.integers(0, top)))
            struct.pack_into(fmt, out, offset, value)
        elif kind == "u32" and len(out) >= 4:
            struct.pack_into("<I", out, draw(st.integers(0, len(out) - 4)), draw(st.sampled_from(INTERESTING_INTS)))
        elif kind == "flip" and out:
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del out[draw(st.integers(0, len(out))):]
        elif kind == "insert":
            i = draw(st.integers(0, len(out)))
            out[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and out:
            i = draw(st.integers(0, len(out) - 1))
            del out[i:i + draw(st.integers(1, 16))]
    return bytes(out)


def assert_valid_cloud(cloud: SplatCloud, min_count: int = 0) -> None:
    """Consistent shapes, finite values, unit rotations, SH degree 0-3."""
    assert isinstance(cloud, SplatCloud)
    n = len(cloud)
    assert n >= min_count
    assert cloud.positions.shape == (n, 3) and cloud.log_scales.shape == (n, 3)
    assert cloud.rotations.shape == (n, 4) and cloud.opacity_logits.shape == (n,) and cloud.sh.shape[0] == n
    assert 0 <= cloud.sh_degree <= 3
    for name in ("positions", "log_scales", "rotations", "opacity_logits", "sh"):
        assert np.isfinite(getattr(cloud, name)).all(), name
    if n:
        np.testing.assert_allclose(np.linalg.norm(cloud.rotations, axis=1), 1.0, atol=1e-3)


def assert_cloud_or_format_error(read: Callable[[Path], object], path: Path, min_count: int = 0):
    """Run ``read(path)`` (returning `LoadedSplats`): a valid cloud or a
    one-line `FormatError`. Returns the loaded result, or None when refused."""
    try:
        loaded = read(path)
    except FormatError as e:
        assert str(e) and "\n" not in str(e)
        event("refused")
        return None
    event("read")
    assert_valid_cloud(loaded.cloud, min_count)
    return loaded
