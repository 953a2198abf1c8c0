"""`RadixSorter`: stable GPU radix sort of (uint32 key, uint32 value) pairs in
compute shaders (GL >= 4.3), ``shaders/radix_sort.glsl``.

LSD radix sort, 4 bits per pass: 16-bit keys take 4 passes, 32-bit keys 8.
Each pass is three dispatches (per-block digit counts, one-workgroup
exclusive scan, stable scatter). Equal keys keep their input order, so the
result equals ``np.argsort(keys, kind="stable")``.
"""
from __future__ import annotations

import numpy as np

from app.render.shader_loader import load_compute, set_uniform

RADIX_BITS = 4
BLOCK = 64 * 16  # WG * ELEMS in radix_sort.glsl
MAX_BLOCKS = 65535  # one dispatch dimension


class RadixSorter:
    """Sorts key/value buffers in place on the GPU.

    ``sort(keys, values, count, key_bits)`` sorts the first ``count`` uint32
    pairs of two moderngl Buffers by the low ``key_bits`` bits of the keys
    (a multiple of 4, at most 32). Scratch buffers grow as needed and are
    kept until `release`.
    """

    def __init__(self, ctx):
        if ctx.version_code < 430:
            raise RuntimeError(f"GPU radix sort needs OpenGL 4.3 compute shaders; this context is {ctx.version_code}")
        self.ctx = ctx
        defines = {"RADIX_BITS": RADIX_BITS}
        self._count = load_compute(ctx, "radix_sort", {**defines, "RADIX_COUNT": None})
        self._scan = load_compute(ctx, "radix_sort", {**defines, "RADIX_SCAN": None})
        self._scatter = load_compute(ctx, "radix_sort", {**defines, "RADIX_SCATTER": None})
        self._capacity = 0
        self._tmp_keys = self._tmp_values = self._hist = None

    @staticmethod
    def max_count() -> int:
        return BLOCK * MAX_BLOCKS

    def _reserve(self, count: int) -> None:
        if count <= self._capacity:
            return
        cap = max(1024, 1 << int(np.ceil(np.log2(count))))
        for b in (self._tmp_keys, self._tmp_values, self._hist):
            if b is not None:
                b.release()
        self._tmp_keys = self.ctx.buffer(reserve=4 * cap)
        self._tmp_values = self.ctx.buffer(reserve=4 * cap)
        blocks = (cap + BLOCK - 1) // BLOCK
        self._hist = self.ctx.buffer(reserve=4 * (1 << RADIX_BITS) * blocks)
        self._capacity = cap

    def sort(self, keys, values, count: int, key_bits: int = 32) -> None:
        """Sort ``count`` pairs of the Buffers ``keys`` / ``values`` in place."""
        if count <= 1:
            return
        if count > self.max_count():
            raise ValueError(f"cannot sort {count} pairs on the GPU (at most {self.max_count()})")
        if key_bits % RADIX_BITS or not 0 < key_bits <= 32:
            raise ValueError(f"key_bits must be a multiple of {RADIX_BITS} in 4..32, got {key_bits}")
        self._reserve(count)
        blocks = (count + BLOCK - 1) // BLOCK
        for cs in (self._count, self._scan, self._scatter):
            set_uniform(cs, "u_count", count)
            set_uniform(cs, "u_num_blocks", blocks)
        self._hist.bind_to_storage_buffer(4)
        src = (keys, values)
        dst = (self._tmp_keys, self._tmp_values)
        passes = key_bits // RADIX_BITS
        for p in range(passes):
            shift = p * RADIX_BITS
            src[0].bind_to_storage_buffer(0)
            src[1].bind_to_storage_buffer(1)
            dst[0].bind_to_storage_buffer(2)
            dst[1].bind_to_storage_buffer(3)
            self._count["u_shift"] = shift
            self._scatter["u_shift"] = shift
            self._count.run(blocks)
            self.ctx.memory_barrier()
            self._scan.run(1)
            self.ctx.memory_barrier()
            self._scatter.run(blocks)
            self.ctx.memory_barrier()
            src, dst = dst, src
        if passes % 2:  # result is in the scratch buffers
            self.ctx.copy_buffer(keys, src[0], 4 * count)
            self.ctx.copy_buffer(values, src[1], 4 * count)
            self.ctx.memory_barrier()

    def sort_arrays(self, keys: np.ndarray, values: np.ndarray | None = None, key_bits: int = 32):
        """Convenience for tests and benchmarks: sort numpy arrays through the
        GPU; returns (sorted keys, values) as uint32 arrays. ``values``
        defaults to ``arange(len(keys))``, i.e. the stable argsort."""
        keys = np.ascontiguousarray(keys, dtype=np.uint32)
        n = len(keys)
        if values is None:
            values = np.arange(n, dtype=np.uint32)
        values = np.ascontiguousarray(values, dtype=np.uint32)
        if n == 0:
            return keys.copy(), values.copy()
        kb = self.ctx.buffer(keys.tobytes())
        vb = self.ctx.buffer(values.tobytes())
        try:
            self.sort(kb, vb, n, key_bits)
            return (
                np.frombuffer(kb.read(4 * n), dtype=np.uint32).copy(),
                np.frombuffer(vb.read(4 * n), dtype=np.uint32).copy(),
            )
        finally:
            kb.release()
            vb.release()

    def release(self) -> None:
        for obj in (self._tmp_keys, self._tmp_values, self._hist, self._count, self._scan, self._scatter):
            if obj is not None:
                obj.release()
        self._tmp_keys = self._tmp_values = self._hist = None
        self._capacity = 0
