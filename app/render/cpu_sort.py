"""CPU depth sorting for GL contexts without compute shaders (GL 3.3), and the
worker thread that runs it off the render thread.

Depths are quantised to integer keys on a log-like scale (the IEEE float bit
pattern of a positive float is piecewise linear in log2), so every depth
octave between ``near`` and ``far`` gets the same number of buckets. Two
orderings, both back to front (farthest first) with ties in index order:

* `sort_back_to_front_precise`: 16-bit keys, ``np.argsort(kind="stable")``
  (numpy's LSD radix sort for 16-bit integers). Used for full-quality frames.
* `sort_back_to_front_fast`: the key and the splat index packed into one
  uint32 (``key << index_bits | index``) and sorted with ``np.sort``
  (numpy's vectorised quicksort, no index array to carry). The key keeps
  ``min(16, 32 - index_bits)`` bits: 16 bits up to 65,536 splats, 12 bits at
  1M (0.03 % of the depth range's log per bucket). Ties fall back to index
  order, so the order is stable from frame to frame (no flicker). Used while
  the camera moves; above 2^24 splats it falls back to the precise sort.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

KEY_BITS = 16


def _float_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def _key_params(near: float, far: float, bits: int) -> tuple[float, float, int, int]:
    near = max(float(near), 1e-30)
    far = max(float(far), near * 1.0001)
    lo, hi = _float_bits(near), _float_bits(far)
    shift = max(0, (hi - lo).bit_length() - bits)  # so (hi - lo) >> shift < 2**bits
    return near, far, hi, shift


def quantize_depths(depths: np.ndarray, near: float, far: float, bits: int = KEY_BITS) -> np.ndarray:
    """Integer keys (N,) uint32 in [0, 2**bits) for float32 ``depths`` (N,),
    *decreasing* with depth (key 0 = farthest, so ascending keys draw back to
    front); depths at or below ``near`` get the top key, at or above ``far``
    key 0. Log-like spacing (float bit patterns)."""
    near, far, hi, shift = _key_params(near, far, bits)
    z = np.ascontiguousarray(depths, dtype=np.float32)
    keys = np.clip(z, near, far).view(np.uint32)  # clip copies, so the view is ours
    np.subtract(np.uint32(hi), keys, out=keys)
    keys >>= np.uint32(shift)
    return keys


def sort_back_to_front_precise(depths: np.ndarray, near: float, far: float) -> np.ndarray:
    """Indices (N,) uint32 of ``depths`` from farthest to nearest, 16-bit keys,
    stable radix sort."""
    keys = quantize_depths(depths, near, far, KEY_BITS).astype(np.uint16)
    return np.argsort(keys, kind="stable").astype(np.uint32)


def fast_key_bits(n: int) -> int:
    """Key bits `sort_back_to_front_fast` keeps for ``n`` splats."""
    index_bits = max(1, int(n - 1).bit_length())
    return min(KEY_BITS, 32 - index_bits)


def sort_back_to_front_fast(depths: np.ndarray, near: float, far: float) -> np.ndarray:
    """Indices (N,) uint32 from farthest to nearest: key and index packed in a
    uint32 and sorted by value (see the module docstring for the precision)."""
    n = len(depths)
    kbits = fast_key_bits(n)
    if kbits < 8:
        return sort_back_to_front_precise(depths, near, far)
    index_bits = 32 - kbits
    near, far, hi, shift = _key_params(near, far, kbits)
    packed = np.clip(np.ascontiguousarray(depths, dtype=np.float32), near, far).view(np.uint32)
    np.subtract(np.uint32(hi), packed, out=packed)  # farthest first
    # (v >> shift) << index_bits, as one shift and a mask
    if index_bits >= shift:
        packed <<= np.uint32(index_bits - shift)
    else:
        packed >>= np.uint32(shift - index_bits)
    index_mask = np.uint32((1 << index_bits) - 1)
    packed &= ~index_mask
    packed |= _arange_u32(n)
    packed.sort()
    packed &= index_mask
    return packed


_ARANGE = np.zeros(0, dtype=np.uint32)


def _arange_u32(n: int) -> np.ndarray:
    global _ARANGE
    if len(_ARANGE) < n:
        _ARANGE = np.arange(max(n, 2 * len(_ARANGE)), dtype=np.uint32)
    return _ARANGE[:n]


def camera_depths(positions: np.ndarray, eye: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Camera-space depth (N,) float32 of world ``positions`` (N, 3) float32:
    ``dot(p - eye, forward)`` with ``forward`` the unit viewing direction."""
    f = np.asarray(forward, dtype=np.float32)
    offset = np.float32(np.dot(np.asarray(eye, dtype=np.float64), np.asarray(forward, dtype=np.float64)))
    z = positions @ f
    z -= offset
    return z


def approximate_importance(
    positions: np.ndarray,
    sigmas: np.ndarray,
    opacities: np.ndarray,
    eye: np.ndarray,
    forward: np.ndarray,
    focal: float,
    image_area: float,
) -> np.ndarray:
    """CPU estimate of the GPU's budget importance (opacity x 3-sigma ellipse
    area in px^2, capped to the image area) without the EWA projection: the
    two largest world standard deviations ``sigmas`` (N, 2) seen face-on at the
    splat's depth, with the 0.3 px^2 low-pass. Splats behind the camera get 0."""
    z = camera_depths(positions, eye, forward)
    np.maximum(z, 1e-6, out=z)
    scale = (focal / z) ** 2
    var_a = sigmas[:, 0] ** 2 * scale + 0.3
    var_b = sigmas[:, 1] ** 2 * scale + 0.3
    area = np.minimum(9.0 * np.pi * np.sqrt(var_a * var_b), image_area)
    imp = opacities * area
    imp[z <= 1e-6] = 0.0
    return imp.astype(np.float32)


@dataclass
class SortJob:
    """What the worker needs to order one view. ``positions`` (N, 3) float32
    are the candidates (GPU order); ``budget`` keeps only the top-``budget``
    by `approximate_importance` (then ``sigmas``, ``opacities``, ``focal`` and
    ``image_area`` are needed)."""

    positions: np.ndarray
    eye: np.ndarray
    forward: np.ndarray
    near: float
    far: float
    precise: bool = False
    budget: int | None = None
    sigmas: np.ndarray | None = None
    opacities: np.ndarray | None = None
    focal: float = 1.0
    image_area: float = 1.0
    tag: object = None
    result: np.ndarray | None = field(default=None, repr=False)
    boost: float = 1.0  # coverage boost of a budget job (see interaction.coverage_boost)


def run_job(job: SortJob) -> np.ndarray:
    """Candidate indices (uint32) to draw, back to front."""
    pos = job.positions
    if job.budget is not None and job.budget < len(pos):
        from app.render.interaction import boost_factor, select_top_k

        imp = approximate_importance(
            pos, job.sigmas, job.opacities, job.eye, job.forward, job.focal, job.image_area
        )
        keep = select_top_k(imp, job.budget)
        job.boost = boost_factor(float(imp.sum(dtype=np.float64)), float(imp[keep].sum(dtype=np.float64)),
                                 job.image_area)
        z = camera_depths(pos[keep], job.eye, job.forward)
        sorter = sort_back_to_front_precise if job.precise else sort_back_to_front_fast
        return keep[sorter(z, job.near, job.far)].astype(np.uint32)
    z = camera_depths(pos, job.eye, job.forward)
    sorter = sort_back_to_front_precise if job.precise else sort_back_to_front_fast
    return sorter(z, job.near, job.far)


class CpuSorter:
    """Runs `SortJob`s on one worker thread, newest request wins.

    `submit` replaces any request not yet started; `poll` returns the newest
    finished job (or None); `run_now` sorts synchronously on the caller's
    thread (for full-quality frames). Numpy releases the GIL while sorting,
    so the render thread keeps drawing with the previous order meanwhile.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._pending: SortJob | None = None
        self._done: SortJob | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="splat-cpu-sort", daemon=True)
        self._thread.start()

    def submit(self, job: SortJob) -> None:
        with self._cond:
            self._pending = job
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy or self._pending is not None

    def poll(self) -> SortJob | None:
        with self._cond:
            done, self._done = self._done, None
            return done

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running (the result stays for
        `poll`); False if ``timeout`` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and self._pending is None, timeout)

    @staticmethod
    def run_now(job: SortJob) -> SortJob:
        job.result = run_job(job)
        return job

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, self._pending = self._pending, None
                self._busy = True
            try:
                job.result = run_job(job)
            except Exception:  # noqa: BLE001 - a failed sort just leaves the old order
                job.result = None
            with self._cond:
                self._busy = False
                if job.result is not None:
                    self._done = job
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
        self._thread.join(timeout=5.0)
