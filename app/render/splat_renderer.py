"""`SplatRenderer`: real-time Gaussian splat rendering with moderngl (no Qt).

Pipeline per view change (the numpy twin of the maths is
`editor.rendering.render_reference`; images agree within the tests' PSNR):

1. **Preprocess** (``shaders/splat_project.glsl``): per splat, the EWA
   projection, culling (near plane, opacity < 1/255, off-screen or covering no
   pixel centre), SH colour along eye -> splat, and the budget importance;
   written to two per-splat textures (``proj_a``: centre and major axis,
   ``proj_b``: minor sigma, depth, colour and opacity). GL >= 4.3 runs it as a
   compute pass that also appends the visible splats' depth keys; GL 3.3 runs
   the same code as a full-screen fragment pass.
2. **Sort** back to front: `RadixSorter` on the GPU (GL >= 4.3; 32-bit exact
   keys for full-quality frames, 16-bit log-depth keys under a budget; then a
   gather pass copies the projected data into draw order), or
   `app.render.cpu_sort` on a worker thread (GL 3.3).
3. **Draw** (``shaders/splat_draw.glsl``): one indexed draw, 4 vertices and 2
   triangles a splat (the rectangle around its 3-sigma ellipse, or for small
   splats one triangle around it: on llvmpipe instancing costs ~60 ns an
   instance and each triangle's setup as much as ~40 fragments, so neither
   instanced quads nor point sprites win). Gaussian falloff, premultiplied
   alpha ``(ONE, ONE_MINUS_SRC_ALPHA)``, depth test on and depth writes off,
   so layout meshes drawn first (with the depth range of
   `app.render.projection`) occlude splats correctly.

Nothing is recomputed when `render` is called again with the same view (a
repaint). Sort trigger: on the GPU path every view change re-projects and
re-sorts (the sort is part of the same GPU work, so the order is never stale
and nothing pops). On the CPU path the projection is redone every view
change but the order is recomputed only when the view moved enough since the
last sort request (viewing direction > 0.5 degrees, or the eye by > 0.5 % of
the eye-target distance, or the budget by > 10 %); the worker sorts while the
render thread keeps drawing with the previous order, and a full-quality frame
(``budget=None``) always gets an exact 16-bit sort of its own view.

Data layout on the GPU: splats are stored in a view-independent importance
order (opacity x world area, `interaction.static_importance`), so a budget
frame only has to look at a prefix; `splat_order` maps GPU slots back to
cloud indices. Positions, rotations and scales are float32 textures, SH
coefficients RGBA16F (half floats: < 1e-3 colour error), all 4096 texels wide
so no single buffer comes near llvmpipe's 128 MiB SSBO cap (only the sort's
key/value buffers are SSBOs: 4 bytes a splat each).

GL state: `render` enables blending and the depth test and restores
``BLEND`` off, depth writes on and ``depth_func '<'`` when done.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import moderngl
import numpy as np

from app.render.cpu_sort import CpuSorter, SortJob
from app.render.interaction import HIST_BINS, candidate_count, coverage_boost, cut_bin, static_importance
from app.render.projection import depth_range
from app.render.radix_sort import RadixSorter
from app.render.shader_loader import load_compute, load_program, set_uniform
from editor.model.camera import Camera
from editor.model.splat_cloud import SplatCloud, normalize_quaternions
from editor.rendering.reference import JACOBIAN_CLAMP, near_plane, resolve_sh_degree

DATA_SHIFT = 12
DATA_WIDTH = 1 << DATA_SHIFT
MAX_ROWS = 16384
HALF_MAX = 65504.0
LOCAL_SIZE = 128  # splat_project / splat_emit local_size_x
DRAW_MODES = ("splats", "ellipses")


@dataclass
class RenderStats:
    """What one `SplatRenderer.render` call did.

    splats: splats in the cloud; candidates: splats the preprocess looked at;
    visible: candidates that passed culling (GPU path; on the CPU path, the
    candidates in the sorted list); drawn: instances drawn; budget: the K
    asked for (None: full quality); resolution_scale: of the splat layer;
    reprojected / resorted: whether this frame redid the preprocess / the
    depth order; sort_backend: "gpu" or "cpu"; near, far: depth range used;
    cpu_seconds: wall time spent in `render` (GL work may still be queued).
    """

    splats: int = 0
    candidates: int = 0
    visible: int = 0
    drawn: int = 0
    budget: int | None = None
    resolution_scale: float = 1.0
    reprojected: bool = False
    resorted: bool = False
    sort_backend: str = "gpu"
    near: float = 0.0
    far: float = 0.0
    splat_boost: float = 1.0
    cpu_seconds: float = 0.0


class SplatRenderer:
    """Draws one `SplatCloud` into a moderngl framebuffer.

    ``ctx``: a moderngl Context (GL 3.3 core or newer; the caller owns it).
    ``use_compute``: None picks the compute path when the context is GL >= 4.3;
    False forces the GL 3.3 path (fragment-pass preprocess, CPU sort).
    ``offscreen_dtype``: colour format of the internal target used when
    `render` gets no ``fbo`` ("f4" float32, "f2" half, "f1" RGBA8).
    """

    def __init__(self, ctx: moderngl.Context, use_compute: bool | None = None, offscreen_dtype: str = "f4"):
        self.ctx = ctx
        can_compute = ctx.version_code >= 430
        if use_compute and not can_compute:
            raise RuntimeError(f"compute shaders need OpenGL 4.3; this context is {ctx.version_code}")
        self.use_compute = can_compute if use_compute is None else bool(use_compute)
        self.glsl_version = 430 if self.use_compute else 330
        self.offscreen_dtype = offscreen_dtype
        self._defines = {"DATA_SHIFT": DATA_SHIFT}
        self._programs: dict = {}
        draw_defines = {**self._defines, "GATHERED": None} if self.use_compute else self._defines
        self._draw_prog = load_program(ctx, "splat_draw", self.glsl_version, draw_defines)
        self._index_buffer = None  # 6 indices a splat: two triangles over its 4 vertices
        self._index_capacity = 0
        self._draw_vao = None
        self._blit_prog = load_program(ctx, "blit", self.glsl_version)
        self._blit_vao = ctx.vertex_array(self._blit_prog, [])
        self._sorter = RadixSorter(ctx) if self.use_compute else None
        self._cpu_sorter = None if self.use_compute else CpuSorter()
        self._gl_objects: list = []  # per-cloud objects, released on set_cloud/release
        self._offscreen = None  # (size, dtype, fbo, colour, depth)
        self._layer = None  # reduced-resolution splat layer, same tuple
        self._n = 0
        self._sh_degree = 0
        self._sh_texels = 1
        self._version = 0
        self._view_key = None
        self._drawn = 0
        self._visible = 0
        self._candidates = 0
        self._projected = 0
        self._boost = 1.0
        self._last_budget = None
        self._mode = 0
        self._bounds = None
        self._cpu_job_key = None  # view of the last CPU sort request
        self._cpu_order_key = None  # view of the order in the draw buffer
        self.splat_order = np.zeros(0, dtype=np.uint32)
        self._cpu_order = np.zeros(0, dtype=np.uint32)

    # ------------------------------------------------------------------ cloud
    @property
    def splat_count(self) -> int:
        return self._n

    def set_cloud(self, cloud: SplatCloud | None) -> None:
        """Upload ``cloud`` (replacing the previous one; None or empty clears)."""
        self._release_cloud()
        self._version += 1
        self._view_key = None
        self._cpu_job_key = self._cpu_order_key = None
        self._candidates = self._projected = 0
        if cloud is None or len(cloud) == 0:
            self._n = 0
            self.splat_order = np.zeros(0, dtype=np.uint32)
            return
        n = len(cloud)
        rows = -(-n // DATA_WIDTH)
        k = cloud.sh.shape[1]
        sh_texels = -(-3 * k // 4)
        sh_rows = -(-n * sh_texels // DATA_WIDTH)
        if sh_rows > MAX_ROWS:
            cap = MAX_ROWS * DATA_WIDTH // sh_texels
            raise ValueError(f"{n} splats with SH degree {cloud.sh_degree} exceed the renderer's limit of {cap}")
        opac = cloud.opacities
        order = np.argsort(-static_importance(opac, cloud.log_scales)).astype(np.uint32)
        self.splat_order = order
        self._n = n
        self._sh_degree = cloud.sh_degree
        self._sh_texels = sh_texels
        lo, hi = cloud.bounds()
        self._bounds = (np.asarray(lo, float), np.asarray(hi, float))

        padded = rows * DATA_WIDTH
        pos = np.zeros((padded, 4), np.float32)
        pos[:n, :3] = cloud.positions[order]
        pos[:n, 3] = opac[order]
        rot = np.zeros((padded, 4), np.float32)
        rot[:, 0] = 1.0
        rot[:n] = normalize_quaternions(cloud.rotations[order])
        scale = np.zeros((padded, 4), np.float32)
        with np.errstate(over="ignore"):
            scale[:n, :3] = np.exp(cloud.log_scales[order])
        sh = np.zeros((sh_rows * DATA_WIDTH * 4,), np.float16)
        coeffs = cloud.sh[order].reshape(n, 3 * k)
        np.clip(coeffs, -HALF_MAX, HALF_MAX, out=coeffs)
        sh[: n * 4 * sh_texels].reshape(n, 4 * sh_texels)[:, : 3 * k] = coeffs

        ctx = self.ctx
        self._src = [
            self._texture((DATA_WIDTH, rows), pos, "f4"),
            self._texture((DATA_WIDTH, rows), rot, "f4"),
            self._texture((DATA_WIDTH, rows), scale, "f4"),
            self._texture((DATA_WIDTH, sh_rows), sh, "f2"),
        ]
        self._proj = [self._texture((DATA_WIDTH, rows), None, "f4"), self._texture((DATA_WIDTH, rows), None, "u4")]
        if self.use_compute:
            self._draw_data = [self._texture((DATA_WIDTH, rows), None, "f4"), self._texture((DATA_WIDTH, rows), None, "u4")]
            self._keys = self._keep(ctx.buffer(reserve=4 * n))
            self._values = self._keep(ctx.buffer(reserve=4 * n))
            self._counters = self._keep(ctx.buffer(reserve=4 * (4 + HIST_BINS)))
        else:
            self._proj_fbo = self._keep(ctx.framebuffer(color_attachments=self._proj))
            self._order_tex = self._texture((DATA_WIDTH, rows), None, "u4", components=1)
            self._project_vaos = {}  # SH degree -> attribute-less VAO of the project program
            # CPU-side copies the sort worker reads (GPU order)
            self._cpu_positions = np.ascontiguousarray(pos[:n, :3])
            ls = np.sort(cloud.log_scales[order], axis=1)
            with np.errstate(over="ignore"):
                self._cpu_sigmas = np.exp(ls[:, :0:-1]).astype(np.float32)  # two largest, descending
            self._cpu_opacities = np.ascontiguousarray(pos[:n, 3])

    def _keep(self, obj):
        self._gl_objects.append(obj)
        return obj

    def _texture(self, size, data, dtype, components=4):
        raw = None if data is None else memoryview(np.ascontiguousarray(data)).cast("B")
        tex = self.ctx.texture(size, components, raw, dtype=dtype)
        tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        tex.repeat_x = tex.repeat_y = False
        return self._keep(tex)

    def _release_cloud(self) -> None:
        for obj in reversed(self._gl_objects):
            if isinstance(obj, moderngl.Framebuffer):
                _unbind(self.ctx, obj)
            obj.release()
        self._gl_objects = []
        if self._cpu_sorter is not None:
            self._cpu_sorter.wait()

    # --------------------------------------------------------------- programs
    def _project_program(self, degree: int):
        key = ("project", degree, self._sh_texels)
        prog = self._programs.get(key)
        if prog is None:
            defines = {**self._defines, "SH_DEGREE": degree, "SH_TEXELS": self._sh_texels}
            if self.use_compute:
                prog = load_compute(self.ctx, "splat_project", defines)
            else:
                prog = load_program(self.ctx, "splat_project", 330, defines)
            self._programs[key] = prog
        return prog

    def _compute_program(self, name: str):
        prog = self._programs.get(name)
        if prog is None:
            prog = self._programs[name] = load_compute(self.ctx, name, self._defines)
        return prog

    # ----------------------------------------------------------------- render
    def depth_range(self, camera: Camera) -> tuple[float, float]:
        """(near, far) of the depth buffer mapping for ``camera`` and this cloud
        (`app.render.projection.depth_range`); layout meshes must use the same."""
        lo, hi = self._bounds if self._bounds is not None else (None, None)
        return depth_range(camera, lo, hi)

    def render(
        self,
        camera: Camera,
        fbo: moderngl.Framebuffer | None = None,
        background=(0.0, 0.0, 0.0),
        budget: int | None = None,
        sh_degree: int | None = None,
        splat_scale: float = 1.0,
        resolution_scale: float = 1.0,
        clear: bool = True,
        mode: str = "splats",
    ) -> RenderStats:
        """Draw the cloud seen by ``camera`` into ``fbo`` (None: an internal
        float target of the camera's size, read back with `read_image`).

        ``fbo`` must be ``camera.width`` x ``camera.height``. ``clear``: fill
        it with ``background`` (RGB in [0, 1]) and depth 1 first; pass False
        to draw over what is there (e.g. layout meshes, drawn first with
        `depth_range`). ``budget``: draw at most that many splats, the most
        important for this view (see `app.render.interaction`).
        ``sh_degree`` caps the SH bands; ``splat_scale`` multiplies every
        splat's standard deviations. ``resolution_scale`` < 1 renders the splat
        layer smaller and upscales it (over any meshes, without depth test).
        ``mode``: "splats", or "ellipses" (each splat's 2-sigma outline in its
        colour, opaque: a debug view).
        """
        t0 = time.perf_counter()
        if mode not in DRAW_MODES:
            raise ValueError(f"mode must be one of {', '.join(DRAW_MODES)}, got {mode!r}")
        self._mode = DRAW_MODES.index(mode)
        if budget is not None:
            budget = max(0, int(budget))
        degree = resolve_sh_degree(self._sh_degree, sh_degree)
        target = fbo if fbo is not None else self._offscreen_fbo(camera.width, camera.height)
        if target.size != (camera.width, camera.height):
            raise ValueError(f"framebuffer is {target.size[0]}x{target.size[1]}, camera is {camera.width}x{camera.height}")
        near, far = self.depth_range(camera)
        stats = RenderStats(
            splats=self._n,
            budget=budget,
            near=near,
            far=far,
            sort_backend="gpu" if self.use_compute else "cpu",
        )
        target.use()
        bg = tuple(float(c) for c in background)
        if clear:
            target.clear(bg[0], bg[1], bg[2], 1.0, depth=1.0)
        scale = float(resolution_scale)
        if self._n == 0 or budget == 0:
            stats.cpu_seconds = time.perf_counter() - t0
            return stats
        if scale < 1.0:
            w = max(1, int(round(camera.width * scale)))
            h = max(1, int(round(camera.height * scale)))
            view = camera.with_size(w, h)
            layer = self._layer_fbo(w, h)
            layer.use()
            if clear:  # the target holds only the background: copy over it, no blending
                layer.clear(bg[0], bg[1], bg[2], 1.0, depth=1.0)
            else:  # premultiplied layer, blended over what the caller drew
                layer.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            stats.resolution_scale = w / camera.width
        else:
            view, layer = camera, target
        self._last_budget = budget
        self._prepare(view, budget, degree, float(splat_scale), stats)
        self._draw(view, layer, near, far)
        if layer is not target:
            self._composite(layer, target, blend=not clear)
        stats.candidates, stats.visible, stats.drawn = self._candidates, self._visible, self._drawn
        stats.splat_boost = self._boost if budget is not None else 1.0
        stats.cpu_seconds = time.perf_counter() - t0
        return stats

    def _prepare(self, camera: Camera, budget, degree: int, splat_scale: float, stats: RenderStats) -> None:
        key = (
            self._version,
            tuple(camera.eye),
            tuple(camera.target),
            tuple(camera.up),
            camera.fov_y_deg,
            camera.width,
            camera.height,
            budget,
            degree,
            splat_scale,
        )
        if self.use_compute:
            if key != self._view_key:
                self._preprocess_gpu(camera, budget, degree, splat_scale)
                stats.reprojected = stats.resorted = True
                self._view_key = key
        else:
            stats.resorted = self._order_cpu(camera, budget, key)
            # project the candidates of this budget and of the order being drawn
            # (which may come from a sort requested with another budget)
            rows = max(self._n if budget is None else candidate_count(budget, self._n), self._candidates)
            if key != self._view_key or rows > self._projected:
                self._preprocess_fragment(camera, degree, splat_scale, rows)
                stats.reprojected = True
                self._view_key = key
                self._projected = rows

    def _set_camera_uniforms(self, prog, camera: Camera, splat_scale: float) -> None:
        basis = camera.basis().astype(np.float32)
        member = prog.get("u_view_rot", None)
        if member is not None:
            member.write(np.ascontiguousarray(basis.T).tobytes())
        set_uniform(prog, "u_eye", tuple(float(v) for v in camera.eye))
        set_uniform(prog, "u_intrinsics", (camera.fx, camera.fy, camera.cx, camera.cy))
        set_uniform(prog, "u_viewport", (float(camera.width), float(camera.height)))
        set_uniform(
            prog,
            "u_jac_clamp",
            (JACOBIAN_CLAMP * 0.5 * camera.width / camera.fx, JACOBIAN_CLAMP * 0.5 * camera.height / camera.fy),
        )
        set_uniform(prog, "u_near", near_plane(camera))
        set_uniform(prog, "u_splat_scale", splat_scale)
        for unit, name in enumerate(("u_src_pos", "u_src_rot", "u_src_scale", "u_src_sh")):
            self._src[unit].use(location=unit)
            set_uniform(prog, name, unit)

    def _dispatch(self, prog, count: int) -> None:
        groups = -(-count // LOCAL_SIZE)
        gx = min(groups, 32768)
        gy = -(-groups // gx)
        set_uniform(prog, "u_row_invocations", gx * LOCAL_SIZE)
        set_uniform(prog, "u_count", count)
        prog.run(gx, gy, 1)

    def _preprocess_gpu(self, camera: Camera, budget, degree: int, splat_scale: float) -> None:
        ctx = self.ctx
        n = self._n
        m = n if budget is None else candidate_count(budget, n)
        limited = budget is not None and budget < m
        key_bits = 32 if budget is None else 16
        near, far = self.depth_range(camera)
        self._counters.write(np.zeros(4 + HIST_BINS, np.uint32).tobytes())
        prog = self._project_program(degree)
        self._set_camera_uniforms(prog, camera, splat_scale)
        set_uniform(prog, "u_emit", 0 if limited else 1)
        set_uniform(prog, "u_key_bits", key_bits)
        log_near = math.log(near)
        set_uniform(prog, "u_key_range", (log_near, 1.0 / max(math.log(far) - log_near, 1e-6)))
        for unit, tex in enumerate(self._proj):
            tex.bind_to_image(unit, read=False, write=True)
        self._keys.bind_to_storage_buffer(0)
        self._values.bind_to_storage_buffer(1)
        self._counters.bind_to_storage_buffer(2)
        self._dispatch(prog, m)
        ctx.memory_barrier()
        self._proj[0].use(location=0)
        self._proj[1].use(location=1)
        if limited:
            data = np.frombuffer(self._counters.read(), dtype=np.uint32)
            visible = int(data[0])
            hist = data[4 : 4 + HIST_BINS]
            min_bin = 0 if visible <= budget else cut_bin(hist, budget)
            self._boost = coverage_boost(hist, min_bin, float(camera.width * camera.height))
            emit = self._compute_program("splat_emit")
            set_uniform(emit, "u_min_bin", min_bin)
            set_uniform(emit, "u_key_bits", key_bits)
            set_uniform(emit, "u_key_range", (log_near, 1.0 / max(math.log(far) - log_near, 1e-6)))
            set_uniform(emit, "u_viewport", (float(camera.width), float(camera.height)))
            set_uniform(emit, "u_proj_a", 0)
            set_uniform(emit, "u_proj_b", 1)
            self._dispatch(emit, m)
            ctx.memory_barrier()
        else:
            self._boost = 1.0
        counts = np.frombuffer(self._counters.read(8), dtype=np.uint32)
        self._visible, self._drawn, self._candidates = int(counts[0]), int(counts[1]), m
        self._sorter.sort(self._keys, self._values, self._drawn, key_bits)
        if self._drawn:
            gather = self._compute_program("splat_gather")
            set_uniform(gather, "u_proj_a", 0)
            set_uniform(gather, "u_proj_b", 1)
            for unit, tex in enumerate(self._draw_data):
                tex.bind_to_image(unit, read=False, write=True)
            self._values.bind_to_storage_buffer(1)
            self._dispatch(gather, self._drawn)
            ctx.memory_barrier()

    def _preprocess_fragment(self, camera: Camera, degree: int, splat_scale: float, count: int) -> None:
        """GL 3.3 preprocess of splats [0, count): one fragment each, over the
        first rows of the proj textures."""
        ctx = self.ctx
        prog = self._project_program(degree)
        vao = self._project_vaos.get(degree)
        if vao is None:
            vao = self._project_vaos[degree] = self._keep(ctx.vertex_array(prog, []))
        self._set_camera_uniforms(prog, camera, splat_scale)
        set_uniform(prog, "u_count", count)
        ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
        self._proj_fbo.use()
        self._proj_fbo.viewport = (0, 0, DATA_WIDTH, -(-count // DATA_WIDTH))
        vao.render(moderngl.TRIANGLES, vertices=3)

    def _order_cpu(self, camera: Camera, budget, key) -> bool:
        """Make sure the draw buffer holds an order for (about) this view;
        returns True when a new order was uploaded."""
        n = self._n
        m = n if budget is None else candidate_count(budget, n)
        precise = budget is None

        def job() -> SortJob:
            near, far = self.depth_range(camera)
            return SortJob(
                positions=self._cpu_positions[:m],
                eye=camera.eye.copy(),
                forward=camera.basis()[2].copy(),
                near=near_plane(camera),
                far=far,
                precise=precise,
                budget=budget if budget is not None and budget < m else None,
                sigmas=self._cpu_sigmas[:m],
                opacities=self._cpu_opacities[:m],
                focal=camera.fy,
                image_area=float(camera.width * camera.height),
                tag=(key, camera),
            )

        if precise:
            if self._cpu_order_key == key:
                return False
            return self._upload_order(CpuSorter.run_now(job()))
        done = self._cpu_sorter.poll()
        uploaded = False
        if done is not None and done.tag[0][0] == self._version:
            uploaded = self._upload_order(done)
        stale = self._cpu_order_key is None or self._cpu_order_key[0] != self._version
        # e.g. the first moving frame after a full-quality one: do not draw the
        # whole cloud while the worker sorts the budget's subset
        over_budget = budget is not None and self._drawn > 1.1 * budget + 16
        if stale or over_budget:
            self._cpu_sorter.wait()
            uploaded = self._upload_order(CpuSorter.run_now(job()))
            self._cpu_job_key = (key, camera)
        elif self._cpu_job_key is None or _moved_enough(self._cpu_job_key, key, camera):
            self._cpu_sorter.submit(job())
            self._cpu_job_key = (key, camera)
        return uploaded

    def drawn_indices(self) -> np.ndarray:
        """Cloud indices (uint32) of the splats the last frame drew, in draw
        order (back to front). Reads a GPU buffer: for tests and tools, not
        for every frame."""
        if self._n == 0 or self._drawn == 0:
            return np.zeros(0, dtype=np.uint32)
        if self.use_compute:
            slots = np.frombuffer(self._values.read(4 * self._drawn), dtype=np.uint32)
        else:
            slots = self._cpu_order
        return self.splat_order[slots]

    def _upload_order(self, job: SortJob) -> bool:
        order = np.ascontiguousarray(job.result, dtype=np.uint32)
        self._cpu_order = order
        if len(order):
            rows = -(-len(order) // DATA_WIDTH)
            padded = np.zeros(rows * DATA_WIDTH, np.uint32)
            padded[: len(order)] = order
            self._order_tex.write(padded.tobytes(), viewport=(0, 0, DATA_WIDTH, rows))
        self._drawn = self._visible = len(order)
        self._candidates = len(job.positions)
        self._boost = job.boost
        self._cpu_order_key = job.tag[0]
        return True

    def _draw(self, camera: Camera, target, near: float, far: float) -> None:
        ctx = self.ctx
        if self._drawn == 0:
            return
        target.use()
        ctx.enable(moderngl.BLEND | moderngl.DEPTH_TEST)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.depth_func = "<="
        target.depth_mask = False
        prog = self._draw_prog
        data = self._draw_data if self.use_compute else self._proj
        for unit, name in enumerate(("u_draw_a", "u_draw_b")):
            data[unit].use(location=unit)
            set_uniform(prog, name, unit)
        if not self.use_compute:
            self._order_tex.use(location=2)
            set_uniform(prog, "u_order", 2)
        set_uniform(prog, "u_viewport", (float(camera.width), float(camera.height)))
        set_uniform(prog, "u_depth_map", ((far + near) / (far - near), 2.0 * far * near / (far - near)))
        set_uniform(prog, "u_boost", self._boost if self._last_budget is not None else 1.0)
        set_uniform(prog, "u_mode", self._mode)
        self._draw_vertex_array(self._drawn).render(moderngl.TRIANGLES, vertices=6 * self._drawn)
        target.depth_mask = True
        ctx.depth_func = "<"
        ctx.disable(moderngl.BLEND)

    def _draw_vertex_array(self, count: int):
        if count > self._index_capacity or self._draw_vao is None:
            cap = max(count, 2 * self._index_capacity, 4096)
            idx = np.arange(cap, dtype=np.uint32)[:, None] * 4 + np.array([0, 1, 2, 2, 1, 3], np.uint32)
            for obj in (self._draw_vao, self._index_buffer):
                if obj is not None:
                    obj.release()
            self._index_buffer = self.ctx.buffer(idx.astype(np.uint32).tobytes())
            self._draw_vao = self.ctx.vertex_array(
                self._draw_prog, [], index_buffer=self._index_buffer, index_element_size=4
            )
            self._index_capacity = cap
        return self._draw_vao

    def _composite(self, layer, target, blend: bool) -> None:
        ctx = self.ctx
        target.use()
        ctx.disable(moderngl.DEPTH_TEST)
        if blend:
            ctx.enable(moderngl.BLEND)
            ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        else:
            ctx.disable(moderngl.BLEND)
        tex = layer.color_attachments[0]
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        tex.use(location=0)
        set_uniform(self._blit_prog, "u_image", 0)
        self._blit_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.disable(moderngl.BLEND)

    # ------------------------------------------------------------- targets
    def _make_target(self, w: int, h: int, dtype: str):
        colour = self.ctx.texture((w, h), 4, dtype=dtype)
        depth = self.ctx.depth_renderbuffer((w, h))
        fbo = self.ctx.framebuffer(color_attachments=[colour], depth_attachment=depth)
        return ((w, h), dtype, fbo, colour, depth)

    def _offscreen_fbo(self, w: int, h: int):
        if self._offscreen is None or self._offscreen[0] != (w, h) or self._offscreen[1] != self.offscreen_dtype:
            _release_target(self._offscreen)
            self._offscreen = self._make_target(w, h, self.offscreen_dtype)
        return self._offscreen[2]

    def _layer_fbo(self, w: int, h: int):
        if self._layer is None or self._layer[0] != (w, h):
            _release_target(self._layer)
            self._layer = self._make_target(w, h, "f2")
        return self._layer[2]

    @property
    def offscreen_fbo(self):
        """The internal target of the last `render` without ``fbo`` (or None)."""
        return None if self._offscreen is None else self._offscreen[2]

    def read_image(self, fbo: moderngl.Framebuffer | None = None, dtype=np.uint8) -> np.ndarray:
        """(H, W, 3) image of ``fbo`` (None: the internal target), row 0 at the
        top: uint8 (rounded) or float32 in [0, 1] for ``dtype=np.float32``."""
        fbo = fbo if fbo is not None else self.offscreen_fbo
        if fbo is None:
            raise RuntimeError("nothing rendered yet")
        w, h = fbo.size
        raw = fbo.read(components=3, dtype="f4", alignment=1)
        # nan_to_num: a NaN written by any pass must not become an undefined uint8.
        img = np.nan_to_num(np.frombuffer(raw, dtype=np.float32).reshape(h, w, 3)[::-1], nan=0.0)
        if np.dtype(dtype) == np.float32:
            return np.ascontiguousarray(np.clip(img, 0.0, 1.0))
        return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def release(self) -> None:
        """Free every GL object this renderer made (the context stays)."""
        self._release_cloud()
        if self._cpu_sorter is not None:
            self._cpu_sorter.close()
            self._cpu_sorter = None
        for prog in self._programs.values():
            prog.release()
        self._programs = {}
        _release_target(self._offscreen)
        _release_target(self._layer)
        self._offscreen = self._layer = None
        if self._sorter is not None:
            self._sorter.release()
            self._sorter = None
        for obj in (self._blit_vao, self._blit_prog, self._draw_vao, self._index_buffer, self._draw_prog):
            if obj is not None:
                obj.release()
        self._draw_vao = self._index_buffer = None
        self._n = 0


def _unbind(ctx, fbo) -> None:
    """Bind framebuffer 0 if ``fbo`` is the bound one: moderngl rebinds its
    remembered framebuffer after creating another, and a released one is a
    GL_INVALID_OPERATION."""
    if ctx.fbo is fbo:
        ctx.detect_framebuffer(0).use()


def _release_target(target) -> None:
    if target is not None:
        _unbind(target[2].ctx, target[2])
        for obj in target[2:]:
            obj.release()


def _moved_enough(previous, key, camera: Camera) -> bool:
    """The CPU-path sort trigger (see the module docstring)."""
    (old_key, old_cam) = previous
    if old_key[0] != key[0] or old_key[5:7] != key[5:7] or old_key[8:] != key[8:]:
        return True
    ob, nb = old_key[7], key[7]
    if (ob is None) != (nb is None) or (ob is not None and abs(nb - ob) > 0.1 * max(ob, 1)):
        return True
    f0, f1 = old_cam.basis()[2], camera.basis()[2]
    if float(np.dot(f0, f1)) < math.cos(math.radians(0.5)):
        return True
    dist = max(float(np.linalg.norm(camera.target - camera.eye)), 1e-9)
    return float(np.linalg.norm(camera.eye - old_cam.eye)) > 0.005 * dist
