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


# ---------------------------------------------------------------- photo -> splats
#: Files the app treats as photos to predict splats from (decided by extension;
#: `inference.image_io.load_photo` then validates the data).
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Longest side of the splat grid (one Gaussian per pixel), as the CLI's default.
PHOTO_MAX_SIDE = 256
PHOTO_FOV_DEG = 50.0

_model_cache: dict = {}
_model_lock = threading.Lock()


def is_photo(path: Path | str) -> bool:
    return Path(path).suffix.lower() in PHOTO_EXTENSIONS


@dataclass
class PredictedPhoto:
    """What a photo job hands back: the predicted cloud (input camera frame),
    the input camera, the layout proposal (None when nothing was found, with
    the reason in ``layout_note``) and what the panels show (``scene``)."""

    path: Path
    cloud: SplatCloud
    camera: Any  # editor.model.camera.Camera
    layout: Any  # editor.model.layout.Layout | None
    layout_note: str | None
    scene: LoadedScene


def _predictor_model(weights):
    """The predictor network, loaded once per weights file (read-only after)."""
    from inference.predictor import load_model

    key = str(weights) if weights is not None else None
    with _model_lock:
        if key not in _model_cache:
            _model_cache.clear()
            _model_cache[key] = load_model(weights)
        return _model_cache[key]


def predict_photo(path: Path, progress: Callable[[float], None], max_side: int = PHOTO_MAX_SIDE,
                  fov_deg: float = PHOTO_FOV_DEG, weights=None) -> PredictedPhoto:
    """Photo -> splats -> layout proposal (worker side). ``progress`` raises
    `Cancelled` between the steps once the job was cancelled. Bad photos and
    predictor problems raise `FormatError` (one line naming the file)."""
    from editor.geometry.layout_proposal import propose_layout
    from inference.image_io import PhotoError, load_photo
    from inference.predictor import PredictorError, predict

    start = time.perf_counter()
    path = Path(path)
    progress(0.02)
    try:
        rgb, mask = load_photo(path, max_side)
    except PhotoError as e:
        raise FormatError(e.path or path, e.message) from None
    progress(0.1)
    try:
        model = _predictor_model(weights)
        progress(0.2)
        cloud, camera = predict(rgb, mask, fov_deg, model=model)
    except PredictorError as e:
        raise FormatError(path, f"cannot predict splats: {' '.join(str(e).split())}") from None
    if len(cloud) == 0:
        raise FormatError(path, "the photo has no opaque pixels (its alpha mask is empty)")
    progress(0.7)
    layout, note = propose_layout(cloud)
    if note is not None or len(layout) == 0:
        layout = None
    progress(0.9)
    stats = cloud.statistics()
    lo, hi = robust_bounds(cloud.positions)
    scene = LoadedScene(path, LoadedSplats(cloud, "photo (predicted)", ""), stats, scene_histograms(cloud),
                        lo, hi, 0.0)
    progress(1.0)
    scene.seconds = time.perf_counter() - start
    return PredictedPhoto(path, cloud, camera, layout, note, scene)


def photo_job(path: Path, parent=None, **options) -> Job:
    """`predict_photo` on a worker thread (``options``: max_side, fov_deg, weights)."""
    return Job(f"predicting {Path(path).name}", lambda progress: predict_photo(Path(path), progress, **options),
               parent)
