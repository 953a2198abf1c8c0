"""Screenshots (PNG) and videos (MP4).

Videos are normally rendered on a worker thread with a headless renderer
(`app.ui.jobs.video_job`), so the window stays interactive. Where no headless
(EGL) context can be made, `VideoRecorder` renders them on the UI thread
through the viewport's own context instead, one frame per event-loop turn so
the progress bar and the Cancel button stay live. Either way ffmpeg (from
imageio-ffmpeg) encodes in its own process, and `Mp4Writer` writes to a
temporary file that is renamed at the end, so a cancelled or failed
recording leaves nothing behind.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from editor.model.camera import Camera


def save_png(image: np.ndarray, path: os.PathLike | str) -> None:
    """Write an (H, W, 3) uint8 image as PNG, atomically."""
    from PIL import Image

    from editor.formats.base import write_atomic

    img = Image.fromarray(np.ascontiguousarray(image), "RGB")
    write_atomic(path, lambda tmp: img.save(tmp, format="PNG"))


class Mp4Writer:
    """Writes RGB frames to an H.264 MP4 (yuv420p) through imageio-ffmpeg.

    Used as a context manager: the video goes to a temporary file next to
    ``path`` and is renamed over ``path`` only when the block ends without an
    exception; otherwise the temporary file is deleted. Frames are (H, W, 3)
    uint8 with even W and H (yuv420p needs them).
    """

    def __init__(self, path: os.PathLike | str, fps: int):
        self.path = Path(path)
        self.fps = int(fps)
        self._writer = None
        self._tmp: Path | None = None
        self.frames = 0

    def __enter__(self) -> "Mp4Writer":
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise OSError(f"folder {folder} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".mp4", dir=folder)
        os.close(fd)
        self._tmp = Path(tmp)
        return self

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            import imageio_ffmpeg

            h, w = frame.shape[:2]
            self._writer = imageio_ffmpeg.write_frames(
                str(self._tmp), (w, h), fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", quality=8, macro_block_size=2, ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart"],
            )
            self._writer.send(None)
        self._writer.send(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                writer.close()
            if exc_type is None:
                if self.frames == 0:
                    raise ValueError("no frames were written")
                os.replace(self._tmp, self.path)
                self._tmp = None
        finally:
            if self._tmp is not None:
                try:
                    self._tmp.unlink()
                except FileNotFoundError:
                    pass
                self._tmp = None


class VideoRecorder(QObject):
    """UI-thread fallback: renders ``cameras`` with ``render(camera) ->
    (H, W, 3) uint8`` and encodes them to ``path`` (H.264 MP4) at ``fps``.

    Signals: ``progressed(fraction)``, then exactly one of
    ``succeeded(path)``, ``failed(message)``, ``cancelled()``; then ``done()``.
    """

    progressed = Signal(float)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, cameras: Sequence[Camera], render: Callable[[Camera], np.ndarray],
                 path: os.PathLike | str, fps: int = 30, parent: QObject | None = None):
        super().__init__(parent)
        if not cameras:
            raise ValueError("a video needs at least one frame")
        self.cameras = list(cameras)
        self.render = render
        self.path = Path(path)
        self.fps = int(fps)
        self.label = f"recording {self.path.name}"
        self.outcome: str | None = None
        self.error: str | None = None
        self._index = 0
        self._writer: Mp4Writer | None = None
        self._cancel = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)
        self.started_at = 0.0

    # Same surface as jobs.Job, so the main window can treat both alike.
    def start(self) -> None:
        self.started_at = time.monotonic()
        self._timer.start()

    def cancel(self) -> None:
        self._cancel = True

    def isRunning(self) -> bool:  # noqa: N802 - mirrors QThread
        return self.outcome is None

    def wait(self, *_args) -> bool:
        """Nothing runs in the background; a cancelled recording that will
        never get another event-loop turn (window closing) ends here."""
        if self.outcome is None and self._cancel:
            self._timer.stop()
            self._finish("cancelled")
        return True

    def _step(self) -> None:
        try:
            if self._cancel:
                self._finish("cancelled")
                return
            if self._writer is None:
                self._writer = Mp4Writer(self.path, self.fps).__enter__()
            self._writer.write(self.render(self.cameras[self._index]))
            self._index += 1
            self.progressed.emit(self._index / len(self.cameras))
            if self._index >= len(self.cameras):
                self._finish("succeeded")
            else:
                self._timer.start()
        except Exception as e:  # noqa: BLE001 - report, never crash
            self.error = f"{self.path}: video failed: {' '.join(str(e).split()) or type(e).__name__}"
            self._finish("failed", e)

    def _finish(self, outcome: str, exc: BaseException | None = None) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                if outcome == "succeeded":
                    writer.__exit__(None, None, None)
                else:
                    writer.__exit__(type(exc or RuntimeError), exc, None)
            except Exception as e:  # noqa: BLE001
                outcome = "failed"
                self.error = f"{self.path}: video failed: {' '.join(str(e).split()) or type(e).__name__}"
        self.outcome = outcome
        if outcome == "succeeded":
            self.succeeded.emit(self.path)
        elif outcome == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(self.error or f"{self.path}: video failed")
        self.done.emit()
