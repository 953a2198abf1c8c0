"""The viewport's side of `app.render`: one moderngl context (Qt's, made
current by QOpenGLWidget), one `SplatRenderer`, one `InteractionBudget`.

Kept apart from the widget so the renderer's API is used in one place. Every
method must be called on the UI thread with the widget's context current
(inside ``paintGL`` or between ``makeCurrent``/``doneCurrent``).

The layout (block-out primitives) is drawn by `LayoutRenderer` over the
splats, as a translucent overlay (see `app.render.layout_renderer` for why
not under them); ``show_layout`` switches it off.

Selection highlight without touching `SplatRenderer`: the window hands the
bridge a *derived* cloud (`app.ui.document_view.display_cloud`: shown splats
only, selected ones tinted through their SH DC term) whenever the flags
change. That costs one re-upload per selection edit (tens of ms per million
splats on llvmpipe) instead of a per-splat flag texture in the renderer.

Render modes: "splats" is the renderer's normal output; "points" shrinks
every splat to the renderer's pixel-sized low-pass footprint (splat scale
1e-4), which shows the splat centres in their colours. "ellipses" needs a
renderer mode that does not exist yet, so it is offered only when
`SplatRenderer` grows a ``mode`` argument (see the report).
"""
from __future__ import annotations

import inspect

import numpy as np

from app.render.interaction import FramePlan, InteractionBudget
from app.ui.settings import Preferences
from editor.model.camera import Camera
from editor.model.splat_cloud import SplatCloud

POINT_SCALE = 1e-4
TARGET_FPS = 30.0
K_INITIAL_MAX = 30_000  # InteractionBudget's own default start


def _collect(ctx) -> None:
    """``ctx.gc()`` that tolerates objects released explicitly before Python
    dropped them: moderngl 5.13 queues their ``InvalidObject`` placeholder,
    which has no ``release`` and makes ``ctx.gc()`` raise AttributeError."""
    queue = ctx.objects
    while queue:
        obj = queue.popleft()
        release = getattr(obj, "release", None)
        if release is not None:
            release()


def render_kwargs(prefs: Preferences, has_modes: bool = False) -> dict:
    """`SplatRenderer.render` keyword arguments for the preferences (render
    mode, background, SH degree, splat scale)."""
    kw = {
        "background": tuple(float(c) for c in prefs.background),
        "sh_degree": prefs.sh_degree,
        "splat_scale": prefs.splat_scale,
    }
    if prefs.debug_view == "points":
        kw["splat_scale"] = POINT_SCALE
    elif prefs.debug_view == "ellipses" and has_modes:
        kw["mode"] = "ellipses"
    return kw


def release_current_egl_context() -> bool:
    """Unbind an EGL context left current on this thread (e.g. by a headless
    `app.render` context made earlier in the process). With libglvnd a thread
    cannot make a GLX context current while an EGL one is, and Qt's xcb
    windows use GLX: every QOpenGLWidget would fail with "Failed to make
    context current". Returns True when one was unbound; harmless without
    libEGL."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("EGL") or "libEGL.so.1"
    try:
        egl = ctypes.CDLL(name)
    except OSError:
        return False
    egl.eglGetCurrentContext.restype = ctypes.c_void_p
    egl.eglGetCurrentDisplay.restype = ctypes.c_void_p
    egl.eglMakeCurrent.argtypes = [ctypes.c_void_p] * 4
    egl.eglMakeCurrent.restype = ctypes.c_uint
    if not egl.eglGetCurrentContext():
        return False
    return bool(egl.eglMakeCurrent(egl.eglGetCurrentDisplay(), None, None, None))


class RenderBridge:
    def __init__(self):
        self.ctx = None
        self.renderer = None
        self.budget = InteractionBudget(target_fps=TARGET_FPS)
        self._seeded = False
        self.count = 0
        self._last_plan: FramePlan | None = None
        self._render_params: set[str] = set()
        self.layout_renderer = None
        self.show_layout = True

    @property
    def ready(self) -> bool:
        return self.renderer is not None

    def initialize(self) -> None:
        """Attach moderngl to the current (Qt) context and build the renderer."""
        import moderngl

        from app.render.splat_renderer import SplatRenderer

        ctx = moderngl.create_context()
        ctx.gc_mode = "context_gc"
        self.ctx = ctx
        self.renderer = SplatRenderer(ctx)
        from app.render.layout_renderer import LayoutRenderer

        self.layout_renderer = LayoutRenderer(ctx)
        self._render_params = set(inspect.signature(self.renderer.render).parameters)

    def info(self) -> dict:
        if self.ctx is None:
            return {}
        i = self.ctx.info
        return {"renderer": i.get("GL_RENDERER", ""), "version": i.get("GL_VERSION", ""),
                "compute": bool(getattr(self.renderer, "use_compute", False))}

    def available_views(self) -> set[str]:
        views = {"splats", "points"}
        if "mode" in self._render_params:
            views.add("ellipses")
        return views

    def set_cloud(self, cloud: SplatCloud | None) -> None:
        _collect(self.ctx)
        self.renderer.set_cloud(cloud)
        self.count = 0 if cloud is None else len(cloud)
        self.budget = InteractionBudget(target_fps=TARGET_FPS)
        self._seeded = False

    def set_layout(self, layout, selected=frozenset()) -> None:
        """Mesh ``layout`` (None clears) for drawing; ``selected`` ids highlighted."""
        _collect(self.ctx)
        self.layout_renderer.set_layout(layout, set(selected))

    def _draw_layout(self, fbo, camera: Camera) -> None:
        if self.show_layout and self.layout_renderer is not None and not self.layout_renderer.empty:
            near, far = self.renderer.depth_range(camera)
            self.layout_renderer.draw(fbo, camera, near, far)

    def _kwargs(self, prefs: Preferences) -> dict:
        return render_kwargs(prefs, "mode" in self._render_params)

    def screen_size(self) -> tuple[int, int]:
        """Size in pixels of the framebuffer Qt bound for this paint."""
        return tuple(self.ctx.detect_framebuffer().size)

    def render_to_screen(self, camera: Camera, prefs: Preferences, moving: bool) -> tuple[int, float]:
        """Draw into the framebuffer Qt bound for this paint. Returns (splats
        drawn, resolution scale). While ``moving`` the interaction budget
        applies (a fixed one when ``prefs.interaction_budget`` > 0)."""
        _collect(self.ctx)
        fbo = self.ctx.detect_framebuffer()
        plan = self.budget.plan(moving, self.count)
        if moving and prefs.interaction_budget > 0:
            plan = FramePlan(min(prefs.interaction_budget, self.count), 1.0)
        self._last_plan = plan
        stats = self.renderer.render(camera, fbo=fbo, budget=plan.budget, resolution_scale=plan.resolution_scale,
                                     **self._kwargs(prefs))
        self._draw_layout(fbo, camera)
        self.ctx.finish()  # so the measured time is the real frame time
        return stats.drawn, stats.resolution_scale

    def record_frame(self, seconds: float, moving: bool = True) -> None:
        """Feed a frame's measured time to the interaction budget. The first
        full-quality frame of a scene seeds the budget's starting K: about the
        share of the scene one 30 fps frame could draw at that speed (halved:
        the splats a budget keeps first are the large ones), so the first
        moving frames of a slow scene do not take a second each."""
        if moving:
            self.budget.record(seconds, self.count)
            self._seeded = True
        elif not self._seeded and seconds > 0 and self.count:
            b = self.budget
            k0 = int(0.5 * self.count * b.target_seconds / seconds)
            self.budget = InteractionBudget(target_fps=TARGET_FPS, k_initial=min(max(k0, b.k_min), K_INITIAL_MAX))
            self._seeded = True

    def render_image(self, camera: Camera, prefs: Preferences) -> np.ndarray:
        """A full-quality (H, W, 3) uint8 image of ``camera``, top row first,
        through the renderer's own offscreen target (as `splatforge render`)."""
        _collect(self.ctx)
        self.renderer.render(camera, fbo=None, budget=None, **self._kwargs(prefs))
        self._draw_layout(self.renderer.offscreen_fbo, camera)
        return self.renderer.read_image()

    def release(self) -> None:
        if self.layout_renderer is not None:
            self.layout_renderer.release()
            self.layout_renderer = None
        if self.renderer is not None:
            self.renderer.release()
            self.renderer = None
        if self.ctx is not None:
            _collect(self.ctx)
