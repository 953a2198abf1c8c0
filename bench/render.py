"""Renderer benchmark: frame times and sort times, as ratios measured in one run.

    python bench/render.py [--quick] [--sizes 50000,200000,1000000] [--json OUT]

Scenes are synthetic captures (a floor and spheres covered a few splats deep,
SH degree 3, anisotropic splats lying on the surfaces), with splat sizes
shrinking as the count grows so that the image coverage stays alike, seen at
1280x720. Targets (issue #4), on Mesa llvmpipe:

* a full-quality 1M-splat frame <= 1 s (a view change: preprocess, sort, draw);
* with the interaction budget, >= 30 fps while orbiting, at any scene size;
* the CPU fallback sort >= 3x faster than ``np.argsort`` on float32 depths at 1M.

Frame times include ``ctx.finish()`` (the GPU work done), not the readback.
Every figure is the median of several runs; the machine may be shared, so
compare ratios within one run rather than across runs. "cores" is process
CPU time / wall time of a full frame: llvmpipe keeps ~1.5-2 of 2 cores busy
when the machine is otherwise idle, so a figure near 1 means other processes
took half of it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from app.render.cpu_sort import camera_depths, sort_back_to_front_fast, sort_back_to_front_precise  # noqa: E402
from app.render.gl_context import create_headless_context, release_headless_context  # noqa: E402
from app.render.interaction import InteractionBudget  # noqa: E402
from app.render.radix_sort import RadixSorter  # noqa: E402
from app.render.splat_renderer import SplatRenderer  # noqa: E402
from editor.model.camera import Camera  # noqa: E402
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, quaternion_multiply  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def synthetic_scene(n: int, sh_degree: int = 3, seed: int = 0, coverage: float = 6.0) -> SplatCloud:
    """``n`` splats on a floor and five spheres; ``coverage`` is how many
    2-sigma discs cover each surface point on average."""
    rng = np.random.default_rng(seed)
    spheres = [((-1.5, 0.0, 1.0), 1.0), ((1.2, 0.3, 0.0), 0.7), ((0.0, -0.2, -1.5), 1.2),
               ((2.5, 0.5, 2.0), 0.5), ((-2.5, 0.4, -1.5), 0.6)]
    areas = np.array([64.0] + [4 * np.pi * r * r for _, r in spheres])
    which = rng.choice(len(areas), size=n, p=areas / areas.sum())
    pos = np.empty((n, 3))
    normal = np.empty((n, 3))
    floor = which == 0
    k = int(floor.sum())
    pos[floor] = np.stack([rng.uniform(-4, 4, k), np.full(k, 1.0), rng.uniform(-4, 4, k)], 1)
    normal[floor] = (0.0, -1.0, 0.0)
    for i, (centre, radius) in enumerate(spheres, start=1):
        m = which == i
        d = rng.normal(size=(int(m.sum()), 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        pos[m] = np.asarray(centre) + radius * d
        normal[m] = d
    sigma = math.sqrt(coverage * areas.sum() / (4 * math.pi * n))
    aniso = rng.uniform(1.0, 2.5, n)
    s = sigma * rng.lognormal(0.0, 0.3, n)
    scales = np.stack([s * aniso, s / aniso, s * 0.1], 1)
    # rotate +z onto the normal, then spin about it
    q_arc = np.concatenate([1.0 + normal[:, 2:3], np.cross(np.array([0.0, 0.0, 1.0]), normal)], 1)
    q_arc[q_arc[:, 0] < 1e-6] = (0.0, 1.0, 0.0, 0.0)
    q_arc /= np.linalg.norm(q_arc, axis=1, keepdims=True)
    spin = rng.uniform(0, np.pi, n)
    q_spin = np.stack([np.cos(spin / 2), np.zeros(n), np.zeros(n), np.sin(spin / 2)], 1)
    rot = quaternion_multiply(q_arc, q_spin)
    colour = 0.5 + 0.35 * np.sin(pos @ np.array([[1.3, 0.4, -0.7], [0.2, 1.9, 0.5], [-0.8, 0.3, 1.1]]))
    colour += rng.normal(0.0, 0.05, (n, 3))
    sh = np.zeros((n, (sh_degree + 1) ** 2, 3))
    sh[:, 0] = (colour - 0.5) / SH_C0
    sh[:, 1:] = rng.normal(0.0, 0.08, (n, sh.shape[1] - 1, 3))
    opacity = np.where(rng.random(n) < 0.7, rng.uniform(0.7, 1.0, n), rng.uniform(0.05, 0.5, n))
    return SplatCloud(pos, np.log(scales), rot, logit(opacity), sh)


def scene_camera(cloud: SplatCloud, width: int = 1280, height: int = 720) -> Camera:
    lo, hi = cloud.bounds()
    return Camera.framing(lo, hi, direction=(0.35, -0.45, -1.0), up=(0, -1, 0), width=width, height=height)


def orbit(camera: Camera, degrees: float) -> Camera:
    a = math.radians(degrees)
    axis = camera.up / np.linalg.norm(camera.up)
    off = camera.eye - camera.target
    off = off * math.cos(a) + np.cross(axis, off) * math.sin(a) + axis * np.dot(axis, off) * (1 - math.cos(a))
    return Camera(camera.target + off, camera.target, camera.up, camera.fov_y_deg, camera.width, camera.height)


def timed(ctx, fn, cpu: list | None = None) -> float:
    """Wall seconds of ``fn`` with the GL work finished; appends the process
    CPU seconds (all threads, llvmpipe's included) to ``cpu`` if given."""
    ctx.finish()
    c = time.process_time()
    t = time.perf_counter()
    fn()
    ctx.finish()
    if cpu is not None:
        cpu.append(time.process_time() - c)
    return time.perf_counter() - t


def bench_scene(ctx, name: str, cloud: SplatCloud, camera: Camera, frames: int, orbit_frames: int) -> dict:
    r = SplatRenderer(ctx, offscreen_dtype="f1")  # RGBA8, like the viewport's framebuffer
    try:
        upload = timed(ctx, lambda: r.set_cloud(cloud))
        r.render(camera)  # compile and warm up
        full, repaint, full_cpu = [], [], []
        for i in range(frames):
            cam = orbit(camera, 2.0 * (i + 1))
            full.append(timed(ctx, lambda: r.render(cam), full_cpu))
            repaint.append(timed(ctx, lambda: r.render(cam)))
        stats = r.render(camera)
        # orbit with the interaction budget, 1 degree a frame
        budget = InteractionBudget(target_fps=30.0)
        times, ks, scales = [], [], []
        for i in range(orbit_frames):
            cam = orbit(camera, 1.0 * i)
            plan = budget.plan(True, len(cloud))
            dt = timed(ctx, lambda: r.render(cam, budget=plan.budget, resolution_scale=plan.resolution_scale))
            budget.record(dt, len(cloud))
            times.append(dt)
            ks.append(plan.budget)
            scales.append(plan.resolution_scale)
        tail = np.array(times[len(times) // 2 :])
        return {
            "scene": name,
            "splats": len(cloud),
            "visible": stats.visible,
            "upload_s": upload,
            "full_frame_s": float(np.median(full)),
            "full_frame_best_s": float(np.min(full)),
            "full_frame_cpu_s": float(np.median(full_cpu)),
            "repaint_s": float(np.median(repaint)),
            "budget_fps_median": float(1.0 / np.median(tail)),
            "budget_fps_p10": float(1.0 / np.quantile(tail, 0.9)),
            "budget_k": int(np.median(ks[len(ks) // 2 :])),
            "budget_resolution_scale": float(np.median(scales[len(scales) // 2 :])),
        }
    finally:
        r.release()


def bench_sort(ctx, cloud: SplatCloud, camera: Camera, reps: int) -> dict:
    """Sort the scene's 1M camera depths: GPU radix sort (32- and 16-bit keys),
    the CPU fallback (fast and precise), and np.argsort on the float32 depths."""
    z = camera_depths(cloud.positions, camera.eye, camera.basis()[2])
    n = len(z)
    near, far = 0.2, float(z.max()) * 1.05
    sorter = RadixSorter(ctx)
    keys32 = ~z.view(np.uint32)
    t = np.clip((np.log(np.maximum(z, near)) - math.log(near)) / math.log(far / near), 0, 1)
    keys16 = ((1 - t) * 65535 + 0.5).astype(np.uint32)
    kb = ctx.buffer(reserve=4 * n)
    vb = ctx.buffer(reserve=4 * n)
    iota = np.arange(n, dtype=np.uint32).tobytes()

    def gpu(keys, bits):
        raw = keys.tobytes()
        out = []
        for _ in range(reps):
            kb.write(raw)
            vb.write(iota)
            out.append(timed(ctx, lambda: sorter.sort(kb, vb, n, bits)))
        return float(np.median(out))

    def cpu(fn):
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return float(np.median(out))

    try:
        res = {
            "count": n,
            "np_argsort_float32_s": cpu(lambda: np.argsort(z)),
            "cpu_fallback_fast_s": cpu(lambda: sort_back_to_front_fast(z, near, far)),
            "cpu_fallback_precise16_s": cpu(lambda: sort_back_to_front_precise(z, near, far)),
            "gpu_radix_32bit_s": gpu(keys32, 32),
            "gpu_radix_16bit_s": gpu(keys16, 16),
        }
    finally:
        kb.release()
        vb.release()
        sorter.release()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller run: 50k and 200k splats, fewer frames")
    ap.add_argument("--sizes", help="comma-separated splat counts (default 50000,200000,1000000)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [50_000, 200_000] if args.quick else [50_000, 200_000, 1_000_000])
    frames, orbit_frames, reps = (3, 40, 3) if args.quick else (5, 90, 7)

    ctx = create_headless_context()
    info = ctx.info
    print(f"GL: {info['GL_RENDERER']} | {info['GL_VERSION']} | {os.cpu_count()} CPU(s) | "
          f"load average {os.getloadavg()[0]:.2f} (other processes skew timings; compare within a run)")
    print(f"frames at 1280x720; budget target 30 fps; medians of {frames} view changes / {orbit_frames} orbit frames\n")
    rows = []
    clouds = {}
    for n in sizes:
        cloud = synthetic_scene(n)
        clouds[n] = cloud
        rows.append(bench_scene(ctx, f"synthetic {n // 1000}k SH3", cloud, scene_camera(cloud), frames, orbit_frames))
        _print_row(rows[-1])
    donut = SAMPLES / "donut.ply"
    if donut.exists():
        from editor.formats import read_splats

        cloud = read_splats(donut).cloud
        lo, hi = cloud.bounds()
        cam = Camera.framing(lo, hi, direction=(0.3, -0.5, 1.0), width=1280, height=720)
        rows.append(bench_scene(ctx, "donut.ply (fill-heavy)", cloud, cam, frames, orbit_frames))
        _print_row(rows[-1])

    n_sort = max(sizes)
    sort = bench_sort(ctx, clouds[n_sort], scene_camera(clouds[n_sort]), reps)
    base = sort["np_argsort_float32_s"]
    print(f"\nsorting {sort['count']:,} depths (median of {reps}); ratio = np.argsort(float32) time / this time")
    for key, label in (
        ("np_argsort_float32_s", "np.argsort(float32)            "),
        ("cpu_fallback_fast_s", "CPU fallback (packed uint32)   "),
        ("cpu_fallback_precise16_s", "CPU fallback (16-bit radix)    "),
        ("gpu_radix_32bit_s", "GPU radix sort, 32-bit keys    "),
        ("gpu_radix_16bit_s", "GPU radix sort, 16-bit keys    "),
    ):
        print(f"  {label} {sort[key] * 1000:8.1f} ms   x{base / sort[key]:5.2f}")

    big = [r for r in rows if r["splats"] >= 1_000_000]
    print("\ntargets:")
    print(f"  CPU fallback >= 3x np.argsort at {sort['count']:,}: x{base / sort['cpu_fallback_fast_s']:.2f} "
          f"({'met' if base / sort['cpu_fallback_fast_s'] >= 3 else 'NOT met'})")
    worst = min(r["budget_fps_median"] for r in rows)
    print(f"  budget >= 30 fps at 720p, every scene: lowest median {worst:.1f} fps "
          f"({'met' if worst >= 30 else 'NOT met'})")
    if big:
        t, best = big[0]["full_frame_s"], big[0]["full_frame_best_s"]
        print(f"  full-quality 1M frame <= 1 s: median {t:.2f} s, best {best:.2f} s "
              f"({'met' if t <= 1.0 else 'met at best' if best <= 1.0 else 'NOT met'})")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"scenes": rows, "sort": sort, "gl": info["GL_RENDERER"]}, indent=2))
    release_headless_context(ctx)
    return 0


def _print_row(r: dict) -> None:
    print(
        f"{r['scene']:<26} {r['splats']:>9,} splats | upload {r['upload_s']:6.2f} s | full frame "
        f"{r['full_frame_s'] * 1000:6.0f} ms (best {r['full_frame_best_s'] * 1000:5.0f}, "
        f"{r['full_frame_cpu_s'] / r['full_frame_s']:.1f} cores) | repaint {r['repaint_s'] * 1000:6.0f} ms | budget "
        f"{r['budget_fps_median']:5.1f} fps (p10 {r['budget_fps_p10']:5.1f}) at K={r['budget_k']:,}, "
        f"scale {r['budget_resolution_scale']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
