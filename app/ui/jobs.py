"""Background jobs: loading, saving, video rendering on worker threads.

A `Job` runs ``work(progress)`` on its own QThread. ``progress(fraction)``
reports a fraction in [0, 1] (throttled to ~30 signals a second) and raises
`Cancelled` once `Job.cancel` was called, which is how long reads and writes
stop early. Whatever happens, exactly one of ``succeeded(result)``,
``failed(message)`` or ``cancelled()`` is emitted, then ``done()``; no
exception ever escapes the thread. Signals arrive on the UI thread (queued
connections), so slots may touch widgets.

Workers must not touch Qt widgets or the viewport's GL context: they get plain
data in and hand plain data back.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QThread, Signal

from editor.formats import Cancelled, FormatError, LoadedSplats, read_splats, write_splats
from editor.model.splat_cloud import SplatCloud

from app.ui.navigation import robust_bounds


class Job(QThread):
    """One unit of background work; see the module docstring."""

    progressed = Signal(float)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, label: str, work: Callable[[Callable[[float], None]], Any], parent=None):
        super().__init__(parent)
        self.label = label
        self._work = work
        self._cancel = threading.Event()
        self._last_emit = 0.0
        self.outcome: str | None = None  # "succeeded", "failed", "cancelled"
        self.error: str | None = None
        self.exception: BaseException | None = None  # what made it fail

    def cancel(self) -> None:
        """Ask the job to stop at its next progress report."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, fraction: float) -> None:
        """The progress callback handed to ``work``."""
        if self._cancel.is_set():
            raise Cancelled()
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last_emit > 0.033:
            self._last_emit = now
            self.progressed.emit(float(min(max(fraction, 0.0), 1.0)))

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            result = self._work(self.report)
            if self._cancel.is_set():
                raise Cancelled()
        except Cancelled:
            self.outcome = "cancelled"
            self.cancelled.emit()
        except FormatError as e:
            self.outcome, self.error, self.exception = "failed", str(e), e
            self.failed.emit(self.error)
        except MemoryError as e:
            self.outcome, self.error, self.exception = "failed", f"{self.label}: not enough memory", e
            self.failed.emit(self.error)
        except Exception as e:  # noqa: BLE001 - a worker must never take the app down
            if not isinstance(e, (OSError, ValueError)):
                traceback.print_exc()
            detail = " ".join(str(e).split()) or type(e).__name__
            self.outcome, self.error, self.exception = "failed", f"{self.label}: {detail}", e
            self.failed.emit(self.error)
        else:
            self.outcome = "succeeded"
            self.succeeded.emit(result)
        finally:
            self.done.emit()


# ---------------------------------------------------------------- loading
@dataclass
class Histogram:
    """Counts (B,) over bin edges (B + 1,) of one per-splat quantity."""

    edges: np.ndarray
    counts: np.ndarray
    label: str


@dataclass
class LoadedScene:
    """What a load job hands back to the UI thread."""

    path: Path
    loaded: LoadedSplats
    stats: dict
    histograms: dict[str, Histogram] = field(default_factory=dict)
    frame_lo: np.ndarray | None = None  # robust bounds for "frame all"
    frame_hi: np.ndarray | None = None
    seconds: float = 0.0

    @property
    def cloud(self) -> SplatCloud:
        return self.loaded.cloud


def scene_histograms(cloud: SplatCloud, bins: int = 64, max_samples: int = 500_000) -> dict[str, Histogram]:
    """Histograms for the statistics panel: opacity, log10 of the largest
    scale axis, and the R, G, B base colours within [0, 1]. A strided
    subsample keeps this to tens of milliseconds for millions of splats."""
    n = len(cloud)
    if n == 0:
        return {}
    step = max(1, n // max_samples)
    sub = slice(None, None, step)
    out: dict[str, Histogram] = {}
    op = cloud.opacities[sub]
    c, e = np.histogram(op, bins=bins, range=(0.0, 1.0))
    out["opacity"] = Histogram(e, c, "opacity")
    scale = cloud.log_scales[sub].max(axis=1) / np.log(10.0)
    scale = scale[np.isfinite(scale)]
    if scale.size:
        lo, hi = np.percentile(scale, [0.5, 99.5])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        c, e = np.histogram(np.clip(scale, lo, hi), bins=bins, range=(lo, hi))
        out["scale"] = Histogram(e, c, "log10 largest scale")
    colours = cloud.base_colors[sub]  # values outside [0, 1] (clamped when drawn) are left out
    for i, ch in enumerate("rgb"):
        c, e = np.histogram(colours[:, i], bins=bins, range=(0.0, 1.0))
        out[ch] = Histogram(e, c, f"colour {ch.upper()}")
    return out


def load_scene(path: Path, progress: Callable[[float], None]) -> LoadedScene:
    """Read a splat file and precompute what the panels show (worker side).
    Reading takes 90% of the bar, statistics the last 10%."""
    start = time.perf_counter()
    loaded = read_splats(path, progress=lambda f: progress(0.9 * f))
    cloud = loaded.cloud
    stats = cloud.statistics()
    progress(0.95)
    hists = scene_histograms(cloud)
    lo, hi = robust_bounds(cloud.positions)
    progress(1.0)
    return LoadedScene(Path(path), loaded, stats, hists, lo, hi, time.perf_counter() - start)


def load_job(path: Path, parent=None) -> Job:
    return Job(f"loading {Path(path).name}", lambda progress: load_scene(Path(path), progress), parent)


def save_job(cloud: SplatCloud, path: Path, parent=None) -> Job:
    """Write ``cloud`` to ``path`` in the format its extension names."""

    def work(progress):
        codec = write_splats(cloud, path, progress=progress)
        progress(1.0)
        return (Path(path), codec.name)

    return Job(f"saving {Path(path).name}", work, parent)


def video_job(cloud: SplatCloud, cameras: list, path: Path, fps: int, render_kwargs: dict, parent=None) -> Job:
    """Render ``cameras`` with a headless renderer (its own EGL context, made,
    used and released on the worker thread) and encode them to ``path``.
    Fails with `app.render.gl_context.HeadlessContextError` as ``exception``
    where no headless context can be made (the caller then falls back to
    rendering on the UI thread)."""
    from app.ui.capture import Mp4Writer

    def work(progress):
        from app.render.offscreen import OffscreenRenderer

        with OffscreenRenderer() as off:
            off.set_cloud(cloud)
            with Mp4Writer(path, fps) as writer:
                for i, cam in enumerate(cameras):
                    progress(i / len(cameras))
                    writer.write(off.render(cam, **render_kwargs))
                progress(1.0)
        return Path(path)

    return Job(f"recording {Path(path).name}", work, parent)
