"""Splat file I/O benchmark: ``python bench/io.py [--splats N]``.

Generates an N-splat (default 1M) SH-degree-3 3DGS PLY in a temp folder and
reports, all measured in this one run (these machines are shared and noisy,
so compare the ratios, not the absolute times):

* our PLY reader (`editor.formats.ply.read`) vs plyfile, best of 3:
  plyfile producing the same SplatCloud (`read_ply_plyfile`: memory-mapped
  PlyData + per-property columns, the usual way to use it) and plyfile's bare
  load (PlyData.read + np.array of the vertex rows, no conversion), plus one
  structured np.fromfile of the vertex block (the floor for any reader);
* our PLY writer;
* peak memory of a load in a fresh subprocess (growth of its peak RSS, VmHWM)
  against the bytes of the decoded arrays;
* SPZ write/read throughput when `editor.formats.spz` is available.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from editor.formats import ply  # noqa: E402
from editor.model.splat_cloud import SplatCloud, normalize_quaternions  # noqa: E402


def make_cloud(n: int, degree: int = 3, seed: int = 0) -> SplatCloud:
    """Random splats with trainer-like value ranges (see tests/formats/synth.py)."""
    rng = np.random.default_rng(seed)
    k = (degree + 1) ** 2
    sh = rng.uniform(-0.3, 0.3, (n, k, 3)).astype(np.float32)
    sh[:, 0] = rng.uniform(-2, 2, (n, 3))
    return SplatCloud(
        rng.uniform(-5, 5, (n, 3)).astype(np.float32),
        rng.uniform(-4, 0, (n, 3)).astype(np.float32),
        normalize_quaternions(rng.standard_normal((n, 4), dtype=np.float32)) * 1.7,  # unnormalised, as trainers write
        rng.uniform(-4, 4, n).astype(np.float32),
        sh,
    )


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def plyfile_bare(path: Path) -> np.ndarray:
    import plyfile

    return np.array(plyfile.PlyData.read(str(path))["vertex"].data)


def fromfile_floor(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        header = ply.read_header(path, f)
        vertex = header.element("vertex")
        f.seek(header.data_offset)
        return np.fromfile(f, vertex.dtype(header.endian), vertex.count)


_MEMORY_PROBE = """
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from editor.formats import ply

def high_water():
    # VmHWM is this process's own peak RSS; ru_maxrss would include the parent's
    # peak, which Linux carries across fork + exec.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

base = high_water()
cloud = ply.read(Path(sys.argv[1])).cloud
print(base, high_water(), cloud.nbytes)
"""


def memory_probe(path: Path) -> tuple[int, int, int]:
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path), str(ROOT)],
                         check=True, capture_output=True, text=True).stdout.split()
    return tuple(int(v) for v in out)  # type: ignore[return-value]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splats", type=int, default=1_000_000, help="number of splats (default 1M)")
    args = parser.parse_args(argv)
    n = args.splats
    mib = 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ply"
        cloud = make_cloud(n)
        t = time.perf_counter()
        ply.write(cloud, path)
        t_write = time.perf_counter() - t
        size = path.stat().st_size
        print(f"PLY {n} splats SH3: {size / mib:.1f} MiB; decoded arrays {cloud.nbytes / mib:.1f} MiB")
        print(f"  write (ours)                    {t_write * 1e3:8.1f} ms")
        del cloud

        t_ours, loaded = best_of(lambda: ply.read(path))
        t_floor, _ = best_of(lambda: fromfile_floor(path))
        t_bare, _ = best_of(lambda: plyfile_bare(path))
        t_plyfile, ref = best_of(lambda: ply.read_ply_plyfile(path))
        same = loaded.cloud.equals(ref)
        del loaded, ref
        print(f"  read, ours -> SplatCloud        {t_ours * 1e3:8.1f} ms  (best of 3)")
        print(f"  read, plyfile -> SplatCloud     {t_plyfile * 1e3:8.1f} ms  -> ours is {t_plyfile / t_ours:5.1f}x faster"
              f"  (identical arrays: {same})")
        print(f"  read, plyfile bare rows only    {t_bare * 1e3:8.1f} ms  -> ours is {t_bare / t_ours:5.1f}x faster")
        print(f"  floor: one np.fromfile of rows  {t_floor * 1e3:8.1f} ms")

        base, peak, decoded = memory_probe(path)
        grown = peak - base
        print(f"  peak memory of a load (fresh process): +{grown / mib:.1f} MiB for {decoded / mib:.1f} MiB "
              f"of arrays = {grown / decoded:.2f}x")

        try:
            from editor.formats import spz
        except ImportError:
            print("spz: not available")
        else:
            cloud = ply.read(path).cloud
            spz_path = Path(tmp) / "bench.spz"
            t_w, _ = best_of(lambda: spz.CODEC.write(cloud, spz_path, None), repeat=1)
            t_r, _ = best_of(lambda: spz.CODEC.read(spz_path, None))
            print(f"SPZ: {spz_path.stat().st_size / mib:.1f} MiB; write {t_w * 1e3:.0f} ms "
                  f"({n / t_w / 1e6:.2f} M splats/s), read {t_r * 1e3:.0f} ms ({n / t_r / 1e6:.2f} M splats/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
