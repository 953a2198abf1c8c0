"""Benchmark of the differentiable torch rasterizer (`inference.rasterizer`).

Times forward (no grad) and forward + backward of `rasterize` at 20k and 100k
Gaussians, 256^2 and 512^2, on a synthetic SH-3 scene whose splat sizes shrink
with the count like a trained capture's (a few pixels each). The baseline is
the plain autograd twin `rasterize_reference_torch`, measured in the same run
at a size it can handle; the ratio printed is twin time / tiled time there.
Times are the best of ``--repeat`` runs (this machine is shared and noisy).

    .venv/bin/python bench/raster.py [--quick] [--tile 16] [--repeat 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from editor.model.camera import Camera  # noqa: E402
from inference import rasterizer as R  # noqa: E402


def scene(n: int, seed: int = 0) -> list[torch.Tensor]:
    """n splats filling a 2.4 x 2.4 x 1 box seen from 3 units away; median
    scale 1.5 * sqrt(4 / n) (a few pixels), anisotropic, SH degree 3."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-1, 1, (n, 3)) * [1.2, 1.2, 0.5]
    ls = np.log(1.5 * np.sqrt(4.0 / n)) + rng.normal(0, 0.5, (n, 1)) + rng.normal(0, 0.3, (n, 3))
    q = rng.normal(size=(n, 4))
    op = rng.normal(1.0, 1.5, n)
    sh = rng.normal(0, 0.2, (n, 16, 3))
    sh[:, 0] = rng.normal(0, 1.0, (n, 3))
    return [torch.tensor(x, dtype=torch.float32) for x in (pos, ls, q, op, sh)]


def camera(size: int) -> Camera:
    return Camera([0, 0, -3], [0, 0, 0], [0, -1, 0], 50, size, size)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def forward_backward(render, ts, cam, **kw):
    leaves = [t.detach().requires_grad_(True) for t in ts]
    img = render(*leaves, cam, **kw)
    img.square().mean().backward()


def forward(render, ts, cam, **kw):
    with torch.no_grad():
        render(*ts, cam, **kw)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20k at 256^2 only")
    ap.add_argument("--tile", type=int, default=None, help="tile edge in pixels (default: the rasterizer's)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args(argv)
    torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)
    kw = {} if args.tile is None else {"tile": args.tile}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, tile {kw.get('tile', 'default')}")

    # Baseline: the plain twin against the tiled path on a size the twin can hold.
    n0, size0 = 2000, 64
    ts, cam = scene(n0, seed=1), camera(size0)
    forward_backward(R.rasterize, ts, cam, **kw)  # warm up
    twin_f = best(lambda: forward(R.rasterize_reference_torch, ts, cam), args.repeat)
    twin_fb = best(lambda: forward_backward(R.rasterize_reference_torch, ts, cam), args.repeat)
    tiled_f = best(lambda: forward(R.rasterize, ts, cam, **kw), args.repeat)
    tiled_fb = best(lambda: forward_backward(R.rasterize, ts, cam, **kw), args.repeat)
    print(
        f"baseline {n0 // 1000}k Gaussians {size0}^2: plain twin fwd {twin_f * 1e3:7.1f} ms  "
        f"fwd+bwd {twin_fb * 1e3:7.1f} ms | tiled fwd {tiled_f * 1e3:6.1f} ms  fwd+bwd {tiled_fb * 1e3:6.1f} ms"
        f" | tiled is x{twin_f / tiled_f:.0f} / x{twin_fb / tiled_fb:.0f} faster"
    )
    print("  (below: 'vs twin' = the twin's time scaled by pixels x Gaussians, which it is linear in, over ours)")

    cases = [(20_000, 256)] if args.quick else [(20_000, 256), (20_000, 512), (100_000, 256), (100_000, 512)]
    for n, size in cases:
        ts, cam = scene(n), camera(size)
        with torch.no_grad():
            p = R.project(*ts, cam)
            plan = R._bin(p, cam, kw.get("tile", R.DEFAULT_TILE), R.DEFAULT_BUDGET, 0.0)
        f = best(lambda: forward(R.rasterize, ts, cam, **kw), args.repeat)
        fb = best(lambda: forward_backward(R.rasterize, ts, cam, **kw), args.repeat)
        scale = (n * size * size) / (n0 * size0 * size0)
        print(
            f"{n // 1000:4d}k Gaussians {size}^2: fwd {f:6.3f} s  fwd+bwd {fb:6.3f} s  "
            f"(vs twin x{twin_f * scale / f:.0f} / x{twin_fb * scale / fb:.0f}; "
            f"{plan.n_intersections / n:.1f} tiles per Gaussian)"
        )

if __name__ == "__main__":
    main()
