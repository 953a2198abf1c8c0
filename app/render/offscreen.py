"""Render cameras to RGB numpy images headless (EGL): used by `splatforge
render`, the tests, and the app's screenshot comparisons.

`render_image` is the one-call form; `OffscreenRenderer` keeps the context,
the uploaded cloud and the target between frames (turntables, benchmarks).
The colour target is float32, so images match `editor.rendering.render_reference`
to float precision before the final rounding to uint8.
"""
from __future__ import annotations

import numpy as np

import contextlib

from app.render.gl_context import create_headless_context, release_headless_context
from app.render.splat_renderer import RenderStats, SplatRenderer
from editor.model.camera import Camera
from editor.model.splat_cloud import SplatCloud


class OffscreenRenderer:
    """A headless `SplatRenderer` with its own context (unless ``ctx`` is given).

    ``use_compute`` as in `SplatRenderer` (None: compute path when GL >= 4.3).
    Use as a context manager or call `release`. With its own context, every
    call makes that context current and leaves no context current after (so
    other GL users of the thread, e.g. Qt, are not disturbed); with a given
    ``ctx`` the caller keeps it current.
    """

    def __init__(self, ctx=None, use_compute: bool | None = None):
        self._own_ctx = ctx is None
        self.ctx = create_headless_context() if ctx is None else ctx
        with self._current():
            self.renderer = SplatRenderer(self.ctx, use_compute=use_compute, offscreen_dtype="f4")
        self.last_stats: RenderStats | None = None

    def _current(self):
        return self.ctx if self._own_ctx else contextlib.nullcontext()

    def set_cloud(self, cloud: SplatCloud | None) -> None:
        with self._current():
            self.renderer.set_cloud(cloud)

    def render(
        self,
        camera: Camera,
        background=(0.0, 0.0, 0.0),
        sh_degree: int | None = None,
        splat_scale: float = 1.0,
        budget: int | None = None,
        dtype=np.uint8,
    ) -> np.ndarray:
        """(H, W, 3) image, row 0 at the top: uint8, or float32 in [0, 1] with
        ``dtype=np.float32``."""
        with self._current():
            self.last_stats = self.renderer.render(
                camera, None, background=background, budget=budget, sh_degree=sh_degree, splat_scale=splat_scale
            )
            return self.renderer.read_image(dtype=dtype)

    def release(self) -> None:
        if self.ctx is None:
            return
        if self.renderer is not None:
            with self._current():
                self.renderer.release()
            self.renderer = None
        if self._own_ctx:
            release_headless_context(self.ctx)
        self.ctx = None

    def __enter__(self) -> "OffscreenRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def render_image(
    cloud: SplatCloud,
    camera: Camera,
    background=(0.0, 0.0, 0.0),
    sh_degree: int | None = None,
    splat_scale: float = 1.0,
    ctx=None,
    use_compute: bool | None = None,
    dtype=np.uint8,
) -> np.ndarray:
    """Render ``cloud`` seen by ``camera`` headless: (H, W, 3) uint8 (or float32
    in [0, 1] with ``dtype=np.float32``), row 0 at the top. Makes and frees
    an EGL context unless ``ctx`` is given."""
    with OffscreenRenderer(ctx, use_compute=use_compute) as off:
        off.set_cloud(cloud)
        return off.render(camera, background, sh_degree, splat_scale, dtype=dtype)
