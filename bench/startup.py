"""Desktop-app benchmarks: cold start and orbiting frame rate.

1. Cold start: wall time from launching ``splatforge view DEMO --screenshot``
   to the first full-quality frame of the demo scene on screen (goal <= 2 s),
   median of a few runs, next to a baseline measured in the same run: the
   time to start Python and import Qt widgets.
2. Orbit: a generated 1M-splat scene (SH degree 0) opened in the real window;
   the camera orbits for a few seconds with the interaction budget on, and
   we report the frame times while moving, the budget the viewport settled
   on, and the time of the full-quality frame when it stops.

Needs an X display; without DISPLAY it re-runs itself under xvfb-run.
Usage: ``python bench/startup.py [--quick] [--splats N] [--runs R]``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "demo" / "donut.ply"


def _ensure_display() -> None:
    if os.environ.get("DISPLAY"):
        return
    xvfb = shutil.which("xvfb-run")
    if not xvfb:
        sys.exit("bench/startup.py needs an X display or xvfb-run")
    os.execvp(xvfb, [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv])


def _env(tmp: Path) -> dict:
    return {**os.environ, "QT_QPA_PLATFORM": "xcb", "OPENBLAS_NUM_THREADS": "1",
            "SPLATFORGE_SETTINGS": str(tmp / "settings.ini"), "SPLATFORGE_TIMING": "1"}


def cold_start(runs: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    env = _env(tmp)
    baseline, first, total = [], [], []
    for _ in range(runs):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets, PySide6.QtOpenGLWidgets"], env=env,
                       check=True)
        baseline.append(time.time() - t0)
    for i in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, str(ROOT / "main.py"), "view", str(DEMO), "--screenshot",
                              str(tmp / f"shot{i}.png")], env=env, capture_output=True, text=True)
        t1 = time.time()
        if out.returncode != 0:
            raise SystemExit(f"view --screenshot failed ({out.returncode}): {out.stderr.strip()[-500:]}")
        stamp = [line for line in out.stdout.splitlines() if line.startswith("first_full_frame_unix=")]
        if stamp:
            first.append(float(stamp[0].split("=", 1)[1]) - t0)
        total.append(t1 - t0)
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "baseline_qt_import_s": statistics.median(baseline),
        "first_full_frame_s": statistics.median(first) if first else float("nan"),
        "process_total_s": statistics.median(total),
    }


def orbit_fps(n: int, seconds: float) -> dict:
    """In-process: open a generated n-splat scene and orbit it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    import numpy as np

    from app.bootstrap import create_application, create_window
    from app.ui.settings import AppSettings
    from editor.formats import write_splats
    from editor.model.splat_cloud import SplatCloud, normalize_quaternions

    tmp = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    rng = np.random.default_rng(0)
    # A noisy spherical shell with some interior: a typical object capture.
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pos = d * rng.uniform(0.6, 1.0, (n, 1))
    cloud = SplatCloud(pos, rng.uniform(-5.5, -3.5, (n, 3)), normalize_quaternions(rng.normal(size=(n, 4))),
                       rng.uniform(-2, 4, n), rng.uniform(-1.5, 1.5, (n, 1, 3)))
    path = tmp / "bench_1m.ply"
    write_splats(cloud, path)
    del cloud

    app = create_application()
    window = create_window(AppSettings(tmp / "settings.ini"))
    window.resize(1280, 800)
    window.show()
    t_load = time.perf_counter()
    job = window.open_file(path)
    while window.scene is None:
        app.processEvents()
        if job.outcome == "failed":
            raise SystemExit(f"loading failed: {job.error}")
        time.sleep(0.005)
    load_s = time.perf_counter() - t_load
    vp = window.viewport
    frames = []
    vp.frame_rendered.connect(lambda info: frames.append(info))
    # First full frame (upload + full quality).
    t = time.perf_counter()
    vp.repaint()
    first_full_s = time.perf_counter() - t
    frames.clear()
    # Orbit: one step per event-loop turn, like a mouse drag delivering moves.
    t0 = time.perf_counter()
    steps = 0
    while time.perf_counter() - t0 < seconds:
        vp.nav.orbit(4.0, 0.5)
        vp.view_changed()
        vp.repaint()
        app.processEvents()
        steps += 1
    wall = time.perf_counter() - t0
    moving = [f for f in frames if not f.full_quality]
    # Let it settle and time the full-quality frame.
    frames.clear()
    t = time.perf_counter()
    while not any(f.full_quality for f in frames) and time.perf_counter() - t < 120:
        app.processEvents()
        time.sleep(0.002)
    full = [f for f in frames if f.full_quality]
    window.close()
    shutil.rmtree(tmp, ignore_errors=True)
    ms = [f.ms for f in moving]
    tail = ms[len(ms) // 3:] or ms  # after the budget has adapted
    return {
        "splats": n,
        "viewport": f"{vp.pixel_size()[0]}x{vp.pixel_size()[1]}",
        "load_s": load_s,
        "first_full_frame_s": first_full_s,
        "moving_frames": len(moving),
        "orbit_fps_wall": steps / wall if wall else float("nan"),
        "moving_frame_ms_median": statistics.median(tail) if tail else float("nan"),
        "moving_fps_from_render_time": 1000.0 / statistics.median(tail) if tail else float("nan"),
        "budget_drawn_median": int(statistics.median([f.drawn for f in moving[len(moving) // 3:]])) if moving else 0,
        "full_frame_ms": full[0].ms if full else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, 200k splats, shorter orbit")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--splats", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    args = ap.parse_args()
    _ensure_display()
    runs = args.runs or (2 if args.quick else 3)
    n = args.splats or (200_000 if args.quick else 1_000_000)
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    c = cold_start(runs)
    print(f"cold start, demo scene ({runs} runs, median):")
    print(f"  python + Qt import baseline   {c['baseline_qt_import_s']:.2f} s")
    print(f"  launch -> first full frame    {c['first_full_frame_s']:.2f} s  "
          f"({c['first_full_frame_s'] / c['baseline_qt_import_s']:.1f}x baseline; goal <= 2 s)")
    print(f"  whole --screenshot process    {c['process_total_s']:.2f} s")
    o = orbit_fps(n, seconds)
    print(f"orbit, {o['splats']:,} splats at {o['viewport']}:")
    print(f"  load (worker thread)          {o['load_s']:.2f} s")
    print(f"  first full-quality frame      {o['first_full_frame_s']:.2f} s (includes GPU upload)")
    print(f"  moving frames                 {o['moving_frames']} in {seconds:.0f} s = {o['orbit_fps_wall']:.1f} fps (wall)")
    print(f"  moving frame render time      {o['moving_frame_ms_median']:.1f} ms median "
          f"({o['moving_fps_from_render_time']:.1f} fps), {o['budget_drawn_median']:,} splats drawn")
    print(f"  full-quality frame when still {o['full_frame_ms']:.0f} ms")


if __name__ == "__main__":
    main()
