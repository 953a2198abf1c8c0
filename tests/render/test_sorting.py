"""GPU radix sort and the CPU depth sorts."""
import threading

import numpy as np
import pytest

from app.render.cpu_sort import (
    CpuSorter,
    SortJob,
    fast_key_bits,
    quantize_depths,
    sort_back_to_front_fast,
    sort_back_to_front_precise,
)


@pytest.fixture(scope="module")
def sorter(gl_ctx):
    from app.render.radix_sort import RadixSorter

    with gl_ctx:  # module fixtures run before the per-test fixture makes gl_ctx current
        s = RadixSorter(gl_ctx)
    yield s
    with gl_ctx:
        s.release()


@pytest.mark.parametrize("n", [0, 1, 2, 1023, 1024, 1025, 70_001])
def test_radix_sort_equals_stable_argsort_32bit(sorter, n):
    rng = np.random.default_rng(n)
    keys = rng.integers(0, 2**32, n, dtype=np.uint32)
    keys[: n // 3] = keys[n // 3 : 2 * (n // 3)]  # plenty of equal keys: stability matters
    sk, sv = sorter.sort_arrays(keys, key_bits=32)
    expect = np.argsort(keys, kind="stable")
    assert np.array_equal(sv, expect)
    assert np.array_equal(sk, keys[expect])


def test_radix_sort_16bit_keys_and_custom_values(sorter):
    rng = np.random.default_rng(7)
    n = 50_000
    keys = rng.integers(0, 2**16, n, dtype=np.uint32)
    values = rng.permutation(n).astype(np.uint32)
    sk, sv = sorter.sort_arrays(keys, values, key_bits=16)
    order = np.argsort(keys, kind="stable")
    assert np.array_equal(sv, values[order]) and np.array_equal(sk, keys[order])


def test_radix_sort_only_looks_at_key_bits(sorter):
    keys = np.array([0x10002, 0x20001, 0x00003, 0x30000], np.uint32)
    _, sv = sorter.sort_arrays(keys, key_bits=16)
    assert sv.tolist() == [3, 1, 0, 2]
    with pytest.raises(ValueError):
        sorter.sort_arrays(keys, key_bits=12 + 1)


def test_radix_sort_float_depth_keys(sorter):
    """The renderer's 32-bit key (complement of the float bits) sorts positive
    depths far to near, exactly like np.argsort on the floats."""
    rng = np.random.default_rng(3)
    z = rng.uniform(0.2, 100.0, 40_000).astype(np.float32)
    _, sv = sorter.sort_arrays(~z.view(np.uint32), key_bits=32)
    assert np.array_equal(sv, np.argsort(-z, kind="stable"))


def test_quantize_depths_is_monotone_and_clipped():
    z = np.array([0.01, 0.2, 0.5, 1.0, 10.0, 50.0, 1e6], np.float32)
    keys = quantize_depths(z, near=0.2, far=50.0, bits=16)
    assert keys.dtype == np.uint32 and keys.max() < 2**16
    assert np.all(np.diff(keys.astype(np.int64)) <= 0)  # farther -> smaller key
    assert keys[0] == keys[1] and keys[-1] == keys[-2] == 0
    # log-like: every octave gets about the same number of keys
    octaves = quantize_depths(np.array([1, 2, 4, 8], np.float32), 0.2, 50.0)
    steps = -np.diff(octaves.astype(np.int64))
    assert steps.max() - steps.min() <= 1


@pytest.mark.parametrize("n", [0, 1, 5000, 70_000, 300_000])
def test_cpu_sorts_are_back_to_front_permutations(n):
    rng = np.random.default_rng(n)
    z = rng.uniform(0.3, 30.0, n).astype(np.float32)
    for sort in (sort_back_to_front_precise, sort_back_to_front_fast):
        order = sort(z, 0.2, 40.0)
        assert order.dtype == np.uint32 and len(order) == n
        assert np.array_equal(np.sort(order), np.arange(n))
        if n > 1:
            # back to front up to the key resolution (16 bits, or fewer for the fast sort above 65,536)
            bits = 16 if sort is sort_back_to_front_precise else fast_key_bits(n)
            rel = 2.0 ** (np.log2(np.log2(40.0 / 0.2) * 2**23) - bits) / 2**23 * np.log(2)  # relative depth per key
            zs = z[order].astype(np.float64)
            assert np.all(zs[1:] <= zs[:-1] * (1 + 2.5 * rel))


def test_precise_sort_is_exact_when_depths_are_far_apart():
    z = np.array([3.0, 1.0, 2.0, 5.0, 4.0], np.float32)
    assert sort_back_to_front_precise(z, 0.2, 10.0).tolist() == [3, 4, 0, 2, 1]
    assert sort_back_to_front_fast(z, 0.2, 10.0).tolist() == [3, 4, 0, 2, 1]
    # ties (same key) keep index order: stable, so the order does not flicker
    same = np.full(6, 2.0, np.float32)
    assert sort_back_to_front_precise(same, 0.2, 10.0).tolist() == list(range(6))
    assert sort_back_to_front_fast(same, 0.2, 10.0).tolist() == list(range(6))


def test_fast_sort_key_bits():
    assert fast_key_bits(10) == 16 and fast_key_bits(65_536) == 16
    assert fast_key_bits(65_537) == 15 and fast_key_bits(1_000_000) == 12


def test_cpu_sorter_worker_runs_off_thread_and_newest_wins():
    rng = np.random.default_rng(0)
    pos = rng.uniform(-1, 1, (20_000, 3)).astype(np.float32)
    sorter = CpuSorter()
    try:
        jobs = [SortJob(pos, np.array([0.0, 0.0, -3.0 - i]), np.array([0.0, 0.0, 1.0]), 0.2, 10.0, tag=i)
                for i in range(5)]
        for job in jobs:
            sorter.submit(job)
        assert sorter.wait(timeout=30)
        done = sorter.poll()
        assert done is not None and done.tag == 4  # the newest request wins
        assert sorter.poll() is None
        z = pos[:, 2] + 7.0
        assert np.array_equal(np.sort(done.result), np.arange(len(pos)))
        assert np.all(np.diff(z[done.result]) <= 1e-3)
        assert sorter._thread is not threading.current_thread()
    finally:
        sorter.close()


def test_cpu_budget_job_keeps_the_most_important():
    rng = np.random.default_rng(1)
    n = 5000
    pos = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    sig = np.sort(rng.uniform(0.001, 0.05, (n, 2)), axis=1)[:, ::-1].astype(np.float32)
    opac = rng.uniform(0.05, 1, n).astype(np.float32)
    job = SortJob(pos, np.array([0.0, 0.0, -3.0]), np.array([0.0, 0.0, 1.0]), 0.2, 10.0, budget=500,
                  sigmas=np.ascontiguousarray(sig), opacities=opac, focal=100.0, image_area=128 * 96)
    result = CpuSorter.run_now(job).result
    assert len(result) == 500
    imp = opac * sig[:, 0] * sig[:, 1] / (pos[:, 2] + 3.0) ** 2  # the same ranking, up to the low-pass
    kept = np.zeros(n, bool)
    kept[result] = True
    assert np.quantile(imp[kept], 0.1) > np.quantile(imp[~kept], 0.9)
