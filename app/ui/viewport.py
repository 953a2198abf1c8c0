"""`Viewport`: the QOpenGLWidget that draws the scene with `app.render`.

Rendering is on demand: every change (camera, scene, settings) calls
``update()``, and Qt calls `paintGL` once; nothing redraws in a loop. While the
camera moves, frames draw only the most important splats (the interaction
budget, which adapts to the measured frame time); 200 ms after the last
movement one full-quality frame is drawn and `full_frame_ready` is emitted.

GL notes: moderngl attaches to the context Qt made current
(``moderngl.create_context()`` in `initializeGL`); Qt draws the widget into its
own framebuffer object, so each frame renders into
``ctx.detect_framebuffer()``, never framebuffer 0. GL objects are only made
and released on the UI thread with the context current (``context_gc``).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QSurfaceFormat
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QLabel, QWidget

from app.ui.navigation import OrbitNavigator
from app.ui.render_bridge import RenderBridge, release_current_egl_context
from app.ui.settings import Preferences
from app.ui.tools.base import ViewportTool
from editor.model.camera import Camera
from editor.model.splat_cloud import SplatCloud

SETTLE_MS = 200  # quiet time after the last movement before the full-quality frame
MAX_SETTLE_MS = 800  # ... stretched up to this for scenes whose full frames are slow
FLY_TICK_MS = 16
SWAP_TIMEOUT_MS = 100  # a frame not composed on screen by then counts as done
_FLY_KEYS = {
    Qt.Key.Key_W: (1, 0, 0), Qt.Key.Key_S: (-1, 0, 0),
    Qt.Key.Key_D: (0, 1, 0), Qt.Key.Key_A: (0, -1, 0),
    Qt.Key.Key_E: (0, 0, 1), Qt.Key.Key_Q: (0, 0, -1),
}


def surface_format() -> QSurfaceFormat:
    """OpenGL 3.3 core or newer (drivers hand out their newest compatible
    version, e.g. 4.5 on Mesa; the GPU sort needs 4.3), a 24-bit depth
    buffer (the renderer depth-tests splats against other layers), no MSAA."""
    fmt = QSurfaceFormat()
    fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
    fmt.setVersion(3, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(24)
    fmt.setStencilBufferSize(8)
    fmt.setSamples(0)
    fmt.setSwapInterval(0)
    return fmt


@dataclass
class FrameInfo:
    """What one drawn frame reports to the status bar."""

    ms: float  # render time in paintGL, ms (GPU work included: we wait for it)
    drawn: int  # splats drawn
    total: int  # splats in the scene
    full_quality: bool
    width: int
    height: int
    resolution_scale: float = 1.0  # of the splat layer (< 1 while moving on slow machines)
    total_ms: float = 0.0  # render + Qt's composition of the window, ms


class ViewportOverlay(QWidget):
    """A transparent child widget over the GL view on which the active tool
    paints its feedback with QPainter (Qt composes child widgets over a
    QOpenGLWidget; drawing here keeps QPainter out of the moderngl frame)."""

    def __init__(self, viewport: "Viewport"):
        super().__init__(viewport)
        self.setObjectName("viewportOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)

    def paintEvent(self, event) -> None:
        tool = self.parentWidget().active_tool
        if tool is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        try:
            tool.paint(painter)
        finally:
            painter.end()


class Viewport(QOpenGLWidget):
    """The 3D view. Mouse: left drag orbits, middle (or Shift+left) pans,
    wheel zooms to the cursor, right button held flies (WASD/QE + mouse look).

    Tools (`app.ui.tools`, registered with `add_tool`) take the left button
    instead; see `app.ui.tools.base` for the routing. The selection tools
    report through `select_rect` and `brush_dab`, in device pixels as
    `camera()` uses them."""

    frame_rendered = Signal(object)  # FrameInfo
    full_frame_ready = Signal()  # a full-quality frame of the current scene and view is on screen
    gl_failed = Signal(str)  # the GL context or renderer could not be set up
    gl_ready = Signal()  # the renderer is set up (available_views() is known)
    upload_failed = Signal(str)  # the renderer refused the scene (one line)
    select_rect = Signal(object, str)  # (x0, y0, x1, y1) device pixels, mode
    brush_dab = Signal(object, float, str, object)  # (K, 2) device-pixel polyline, radius px, mode, stroke id

    def __init__(self, prefs: Preferences, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("viewport")
        if sys.platform.startswith("linux"):
            release_current_egl_context()  # else Qt's GLX context cannot be made current
        self.setFormat(surface_format())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)
        self.setMinimumSize(160, 120)
        self.prefs = prefs
        self.nav = OrbitNavigator(fov_y_deg=prefs.fov_y_deg)
        self.bridge = RenderBridge()
        self.cloud: SplatCloud | None = None
        self._pending_cloud: SplatCloud | None = None
        self.gl_error: str | None = None
        self.interacting = False
        self.frames_drawn = 0
        self.full_frames = 0
        self.last_frame: FrameInfo | None = None

        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        self._pending_frame = None  # (start time, FrameInfo) until the frame is on screen
        self._swap_timeout = QTimer(self)
        self._swap_timeout.setSingleShot(True)
        self._swap_timeout.setInterval(SWAP_TIMEOUT_MS)
        self._swap_timeout.timeout.connect(self._frame_done)
        self.frameSwapped.connect(self._frame_done)
        self._fly_timer = QTimer(self)
        self._fly_timer.setInterval(FLY_TICK_MS)
        self._fly_timer.timeout.connect(self._fly_tick)
        self._fly_keys: set[int] = set()
        self._fly_last = 0.0
        self._buttons = Qt.MouseButton.NoButton
        self._last_pos = QPointF()
        self.tool = "navigate"
        self.tools: dict[str, ViewportTool] = {}
        self.active_tool: ViewportTool | None = None
        self._tool_drag = False  # the active tool took the current left press
        self._swallow_drag = False  # Esc cancelled the tool's drag: ignore the rest of it
        self.overlay = ViewportOverlay(self)
        self._pending_layout = None  # (layout, selected ids) to hand to the renderer

        self.hint = QLabel("Drop a splat file or a photo here, or use File > Open", self)
        self.hint.setObjectName("viewportHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet("color: #9aa0a6; font-size: 15px; background: transparent;")
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    # ------------------------------------------------------------ scene
    def set_scene(self, cloud: SplatCloud, lo, hi, frame_lo=None, frame_hi=None,
                  up: str | None = None, camera: Camera | None = None, keep_view: bool = False) -> None:
        """Show ``cloud``: bounds (full, and robust for framing), then the home
        view of the up-axis preset ``up``, or an explicit ``camera``, or (with
        ``keep_view``) the current view unchanged."""
        self.cloud = cloud
        self._pending_cloud = cloud
        self.nav.set_bounds(lo, hi, frame_lo, frame_hi)
        if keep_view:
            pass
        elif camera is not None:
            self.nav.set_camera(camera)
        else:
            self.nav.set_up_preset(up or self.nav.up_key)
            self.nav.frame(self._aspect())
        self.hint.hide()
        self.view_changed(full=True)

    def show_cloud(self, cloud: SplatCloud) -> None:
        """Draw ``cloud`` instead of the current one, keeping the view (edits)."""
        self.cloud = cloud
        self._pending_cloud = cloud
        self._scene_edited()
        self.update()

    def set_layout(self, layout, selected=frozenset()) -> None:
        """Draw ``layout``'s primitives (None: none); ``selected`` ids highlighted."""
        self._pending_layout = (layout, frozenset(selected))
        self._scene_edited()
        self.update()

    def _scene_edited(self) -> None:
        """The document (or the selection) changed under the active tool: its
        feedback (a gizmo on the selection) must follow, e.g. after an undo."""
        if self.active_tool is not None:
            self.active_tool.view_changed()
            self.overlay.update()

    def set_show_layout(self, show: bool) -> None:
        self.bridge.show_layout = bool(show)
        self.update()

    def add_tool(self, tool: ViewportTool) -> None:
        """Make ``tool`` available to `set_tool` under ``tool.key``."""
        self.tools[tool.key] = tool

    def set_tool(self, key: str) -> None:
        """Activate the tool ``key`` ("navigate": none, the left button orbits)."""
        if key != "navigate" and key not in self.tools:
            raise ValueError(f"tool must be one of {', '.join(('navigate', *self.tools))}")
        if self.active_tool is not None:
            self.active_tool.deactivate()
        self._tool_drag = False
        self.tool = key
        self.active_tool = self.tools.get(key)
        self.setMouseTracking(self.active_tool is not None)
        self.setCursor(Qt.CursorShape.ArrowCursor if self.active_tool is None else self.active_tool.cursor)
        if self.active_tool is not None:
            self.active_tool.activate()
        self.overlay.update()

    def clear_scene(self) -> None:
        self.cloud = None
        self._pending_cloud = SplatCloud.empty()
        self.hint.show()
        self.view_changed(full=True)

    def set_preferences(self, prefs: Preferences) -> None:
        fov_changed = abs(prefs.fov_y_deg - self.nav.fov_y_deg) > 1e-9
        self.prefs = prefs
        if fov_changed:
            self.nav.set_fov(prefs.fov_y_deg)
        self.view_changed(full=True)

    def available_views(self) -> set[str]:
        return self.bridge.available_views()

    # ------------------------------------------------------------ camera
    def _aspect(self) -> float:
        return max(self.width(), 1) / max(self.height(), 1)

    def pixel_size(self) -> tuple[int, int]:
        dpr = self.devicePixelRatioF()
        return max(1, int(round(self.width() * dpr))), max(1, int(round(self.height() * dpr)))

    def camera(self) -> Camera:
        """The current view at the viewport's pixel size."""
        return self.nav.camera(*self.pixel_size())

    def view_changed(self, full: bool = False) -> None:
        """Redraw after a camera or setting change; ``full`` skips the
        interaction budget (discrete jumps: frame all, preset views)."""
        if full:
            self.interacting = False
            self._settle.stop()
        else:
            self.interacting = True
            self._settle.start()
        if self.active_tool is not None:
            self.active_tool.view_changed()
            self.overlay.update()
        self.update()

    def _settled(self) -> None:
        self.interacting = False
        self.update()

    # ------------------------------------------------------------ GL
    def initializeGL(self) -> None:
        try:
            self.bridge.initialize()
        except Exception as e:  # noqa: BLE001 - no GL means no viewport, not a crash
            self.gl_error = f"OpenGL setup failed: {' '.join(str(e).split()) or type(e).__name__}"
            self.gl_failed.emit(self.gl_error)
            return
        self.gl_ready.emit()

    def _upload(self) -> None:
        """Hand a newly set scene to the renderer (context current). A scene
        the renderer refuses (e.g. over its size limit) is dropped with
        `upload_failed`; the viewport keeps working."""
        if self._pending_layout is not None:
            layout, selected = self._pending_layout
            self._pending_layout = None
            try:
                self.bridge.set_layout(layout, selected)
            except Exception as e:  # noqa: BLE001 - a layout that cannot be meshed must not kill the view
                print(f"splatforge: cannot draw the layout: {e}", file=sys.stderr)
        if self._pending_cloud is None:
            return
        cloud, self._pending_cloud = self._pending_cloud, None
        try:
            self.bridge.set_cloud(cloud)
        except Exception as e:  # noqa: BLE001
            self.cloud = None
            try:
                self.bridge.set_cloud(None)
            except Exception:  # noqa: BLE001 - already reporting the first problem
                pass
            self.hint.show()
            self.upload_failed.emit(f"cannot display this scene: {' '.join(str(e).split()) or type(e).__name__}")

    def paintGL(self) -> None:
        if self.gl_error:
            return
        try:
            self._upload()
            # Qt's framebuffer decides the size (device pixels).
            w, h = self.bridge.screen_size()
            t0 = time.perf_counter()
            drawn, scale = self.bridge.render_to_screen(self.nav.camera(w, h), self.prefs, moving=self.interacting)
            seconds = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - keep the app alive, say what broke
            self.gl_error = f"rendering failed: {' '.join(str(e).split()) or type(e).__name__}"
            self.gl_failed.emit(self.gl_error)
            return
        total = len(self.cloud) if self.cloud is not None else 0
        full = not self.interacting
        self.frames_drawn += 1
        self._pending_frame = (t0, FrameInfo(seconds * 1000.0, drawn, total, full, w, h, scale))
        # The frame is finished once Qt has composed the window with it
        # (frameSwapped); a window that is not on screen never swaps, so a
        # short timer finishes the frame anyway.
        self._swap_timeout.start()

    def _frame_done(self) -> None:
        """After Qt composed the frame: account for it and announce it."""
        self._swap_timeout.stop()
        if self._pending_frame is None:
            return
        t0, info = self._pending_frame
        self._pending_frame = None
        # What the interaction budget must fit in a frame is render + window
        # composition (~10 ms at 1280x800 on llvmpipe), not render alone.
        info.total_ms = (time.perf_counter() - t0) * 1000.0
        self.bridge.record_frame(info.total_ms / 1000.0, moving=not info.full_quality)
        if not info.full_quality:
            # Count the quiet time from the end of this frame: after a slow
            # frame the mouse moves queued meanwhile must get their turn
            # before the camera counts as stopped.
            self._settle.start()
        self.last_frame = info
        self.frame_rendered.emit(info)
        if info.full_quality and self.cloud is not None:
            self.full_frames += 1
            # A slow full-quality frame blocks input while it draws: wait a
            # little longer for the camera to really stop before the next one.
            self._settle.setInterval(int(min(max(SETTLE_MS, 0.5 * info.ms), MAX_SETTLE_MS)))
            self.full_frame_ready.emit()

    def render_image(self, width: int | None = None, height: int | None = None,
                     camera: Camera | None = None) -> np.ndarray:
        """A full-quality image (H, W, 3) uint8, top row first, of ``camera``
        (default: the current view) at ``width`` x ``height`` (default: the
        camera's size, or the viewport's)."""
        if camera is None:
            pw, ph = self.pixel_size()
            camera = self.nav.camera(width or pw, height or ph)
        elif width or height:
            camera = camera.with_size(width or camera.width, height or camera.height)
        if self.gl_error or not self.bridge.ready:
            raise RuntimeError(self.gl_error or "the viewport has no OpenGL context yet")
        self.makeCurrent()
        try:
            self._upload()
            return self.bridge.render_image(camera, self.prefs)
        finally:
            self.doneCurrent()

    def release_gl(self) -> None:
        """Free GL objects (call before the widget's context goes away)."""
        if self.bridge.ready:
            self.makeCurrent()
            try:
                self.bridge.release()
            finally:
                self.doneCurrent()

    # ------------------------------------------------------------ widget events
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.hint.setGeometry(self.rect())
        self.overlay.setGeometry(self.rect())
        self.view_changed(full=False)

    def _tool_takes(self, event) -> bool:
        return (self.active_tool is not None and event.button() == Qt.MouseButton.LeftButton
                and not (event.modifiers() & Qt.KeyboardModifier.AltModifier))

    def mousePressEvent(self, event) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._buttons = event.buttons()
        self._last_pos = event.position()
        if self._tool_takes(event) and self.active_tool.press(event):
            self._tool_drag = True
            event.accept()
            return
        if event.button() == Qt.MouseButton.RightButton:
            self._fly_last = time.monotonic()
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        tool = self.active_tool
        if self._swallow_drag and event.buttons() & Qt.MouseButton.LeftButton:
            self._last_pos = pos
            return
        if self._tool_drag and tool is not None and event.buttons() & Qt.MouseButton.LeftButton:
            tool.move(event)
            self._last_pos = pos
            event.accept()
            return
        if tool is not None and event.buttons() == Qt.MouseButton.NoButton:
            tool.hover(event)
            self._last_pos = pos
            return
        d = pos - self._last_pos
        self._last_pos = pos
        buttons = event.buttons()
        dpr = self.devicePixelRatioF()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if buttons & Qt.MouseButton.RightButton:
            self.nav.look(d.x(), d.y())
        elif buttons & Qt.MouseButton.MiddleButton or (buttons & Qt.MouseButton.LeftButton and shift):
            self.nav.pan(d.x() * dpr, d.y() * dpr, self.pixel_size()[1])
        elif buttons & Qt.MouseButton.LeftButton:
            self.nav.orbit(d.x(), d.y())
        else:
            return
        self.view_changed()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._swallow_drag = False
        if self._tool_drag and event.button() == Qt.MouseButton.LeftButton:
            self._tool_drag = False
            if self.active_tool is not None:
                self.active_tool.release(event)
        self._buttons = event.buttons()
        if not (event.buttons() & Qt.MouseButton.RightButton):
            self._fly_keys.clear()
            self._fly_timer.stop()
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        if self._tool_takes(event) and self.active_tool.double_click(event):
            event.accept()
            return
        # Qt sends press, release, double-click, release: treat it as a second press.
        self.mousePressEvent(event)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps:
            steps = event.pixelDelta().y() / 60.0
        if steps:
            dpr = self.devicePixelRatioF()
            p = event.position()
            w, h = self.pixel_size()
            self.nav.zoom(steps, p.x() * dpr, p.y() * dpr, w, h)
            self.view_changed()
        event.accept()

    def _flying(self) -> bool:
        return bool(self._buttons & Qt.MouseButton.RightButton)

    def event(self, event) -> bool:
        # Keys a window shortcut would otherwise take: fly keys while flying
        # (W/E/R are tool shortcuts), Esc while a tool interaction is under way,
        # and whatever the active tool asks for.
        if event.type() == QEvent.Type.ShortcutOverride:
            key, tool = event.key(), self.active_tool
            if ((key in _FLY_KEYS and self._flying())
                    or (tool is not None and ((key == Qt.Key.Key_Escape and tool.busy) or tool.wants_key(event)))):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        tool = self.active_tool
        if tool is not None and not self._flying():
            if key == Qt.Key.Key_Escape and tool.cancel():
                # The rest of a cancelled drag (the button is still down) does nothing.
                self._tool_drag = False
                self._swallow_drag = bool(self._buttons & Qt.MouseButton.LeftButton)
                event.accept()
                return
            if tool.key_press(event):
                event.accept()
                return
        if key in _FLY_KEYS and self._flying():
            if not event.isAutoRepeat():
                self._fly_keys.add(key)
                if not self._fly_timer.isActive():
                    self._fly_last = time.monotonic()
                    self._fly_timer.start()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        key = event.key()
        if key in _FLY_KEYS and not event.isAutoRepeat():
            self._fly_keys.discard(key)
            if not self._fly_keys:
                self._fly_timer.stop()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._fly_keys.clear()
        self._fly_timer.stop()
        super().focusOutEvent(event)

    def _fly_tick(self) -> None:
        now = time.monotonic()
        dt = min(now - self._fly_last, 0.1)
        self._fly_last = now
        if not self._fly_keys or not self._flying():
            self._fly_timer.stop()
            return
        f = r = u = 0.0
        for k in self._fly_keys:
            df, dr, du = _FLY_KEYS[k]
            f, r, u = f + df, r + dr, u + du
        fast = bool(self.window().isActiveWindow() and
                    (self._modifiers() & Qt.KeyboardModifier.ShiftModifier))
        self.nav.fly(f, r, u, dt, fast=fast)
        self.view_changed()

    @staticmethod
    def _modifiers():
        from PySide6.QtWidgets import QApplication

        return QApplication.queryKeyboardModifiers()
