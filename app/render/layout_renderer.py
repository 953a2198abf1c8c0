"""`LayoutRenderer`: the layout's primitives as translucent shaded meshes with
a wireframe of their feature edges (moderngl, no Qt).

Meshes come from `editor.geometry.meshing` (the same closed meshes the
colliders export). Faces are flat-shaded with a head light and drawn with
straight alpha blending, back faces culled; edges (where the two faces' normals
differ by more than ~18 degrees, so the diagonals of triangulated quads stay
hidden) are drawn as lines over them.

Composition with `SplatRenderer` (see `draw`): the layout is drawn **after**
the splats, as an overlay. The splat renderer tests depth but never writes it
(its target's depth stays at the cleared 1.0), so splats cannot hide a mesh
in any order; drawing the layout first with depth writes would instead hide
every splat behind a face, and fitted floors and walls lie *on* the splat
surfaces, so they would z-fight with (and hide) the very splats they were
fitted to. As an overlay the layout is depth-tested against itself only:
nearer faces hide farther ones, splats stay visible through the translucent
faces.

Frame: world space is the scene's (3DGS) frame; clip space is
`app.render.projection`'s.
"""
from __future__ import annotations

import moderngl
import numpy as np

from app.render.projection import view_projection_matrix
from editor.geometry.meshing import primitive_mesh
from editor.model.camera import Camera
from editor.model.layout import Layout, Plane, Wall

_VERTEX = """
#version 330
uniform mat4 u_mvp;
in vec3 in_pos;
in vec3 in_normal;
in vec4 in_colour;
out vec3 v_normal;
out vec3 v_pos;
out vec4 v_colour;
void main() {
    gl_Position = u_mvp * vec4(in_pos, 1.0);
    v_normal = in_normal;
    v_pos = in_pos;
    v_colour = in_colour;
}
"""

_FRAGMENT = """
#version 330
uniform vec3 u_eye;
uniform float u_shade;   // 1: head-light shading (faces), 0: flat (edges)
uniform float u_alpha;   // multiplies the vertex alpha
in vec3 v_normal;
in vec3 v_pos;
in vec4 v_colour;
out vec4 f_colour;
void main() {
    vec3 to_eye = normalize(u_eye - v_pos);
    float light = mix(1.0, 0.45 + 0.55 * abs(dot(normalize(v_normal), to_eye)), u_shade);
    f_colour = vec4(v_colour.rgb * light, v_colour.a * u_alpha);
}
"""

#: RGBA of faces by kind; edges use the same RGB, opaque.
COLOURS = {
    "floor": (0.30, 0.62, 1.00, 0.28),
    "ceiling": (0.55, 0.55, 0.95, 0.22),
    "wall": (1.00, 0.72, 0.30, 0.28),
    "box": (0.40, 1.00, 0.55, 0.30),
    "other": (0.85, 0.55, 1.00, 0.30),
    "selected": (1.00, 0.95, 0.25, 0.42),
}
FEATURE_COS = 0.95  # edges between faces whose normals' cosine is below this are drawn


def _kind(prim) -> str:
    if isinstance(prim, Plane):
        return "ceiling" if prim.role == "ceiling" else "floor"
    if isinstance(prim, Wall):
        return "wall"
    return "box" if prim.TYPE == "box" else "other"


def feature_edges(vertices: np.ndarray, faces: np.ndarray, cos_limit: float = FEATURE_COS) -> np.ndarray:
    """(E, 2) vertex index pairs of the edges where the two adjacent faces
    (F, 3) of a closed mesh meet at an angle (normals' cosine < ``cos_limit``),
    plus boundary edges (one face)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    owner = np.tile(np.arange(len(faces)), 3)
    key = np.sort(e, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    key, owner = key[order], owner[order]
    out = []
    i = 0
    m = len(key)
    while i < m:
        j = i + 1
        while j < m and key[j, 0] == key[i, 0] and key[j, 1] == key[i, 1]:
            j += 1
        if j - i != 2 or float(n[owner[i]] @ n[owner[i + 1]]) < cos_limit:
            out.append(key[i])
        i = j
    return np.asarray(out, np.int64).reshape(-1, 2)


class LayoutRenderer:
    """Draws a `Layout` into a framebuffer. Call `set_layout` when the layout
    (or which primitives are selected) changes and `draw` every frame; all on
    the thread that owns ``ctx``, with it current."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.prog = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self._faces = None  # (vbo, vao, vertex count)
        self._edges = None
        self.bounds: tuple[np.ndarray, np.ndarray] | None = None
        self.primitive_count = 0

    @property
    def empty(self) -> bool:
        return self._faces is None and self._edges is None

    def set_layout(self, layout: Layout | None, selected: set[str] | frozenset[str] = frozenset()) -> None:
        """Mesh the visible solids of ``layout`` (None clears); primitives in
        ``selected`` are drawn highlighted."""
        self._release_buffers()
        self.bounds = None
        self.primitive_count = 0
        if layout is None:
            return
        tris, edges = [], []
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for prim in layout.solids(visible_only=True):
            mesh = primitive_mesh(prim)
            if mesh is None:
                continue
            self.primitive_count += 1
            v, f = mesh.vertices, mesh.faces
            lo, hi = np.minimum(lo, v.min(axis=0)), np.maximum(hi, v.max(axis=0))
            rgba = COLOURS["selected" if prim.id in selected else _kind(prim)]
            p = v[f].reshape(-1, 3)
            n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
            n = np.repeat(n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30), 3, axis=0)
            tris.append(np.hstack([p, n, np.tile(rgba, (len(p), 1))]))
            fe = feature_edges(v, f)
            if len(fe):
                q = v[fe].reshape(-1, 3)
                edges.append(np.hstack([q, np.zeros_like(q), np.tile((*rgba[:3], 1.0), (len(q), 1))]))
        if self.primitive_count:
            self.bounds = (lo, hi)
        self._faces = self._upload(tris)
        self._edges = self._upload(edges)

    def _upload(self, parts: list[np.ndarray]):
        if not parts:
            return None
        data = np.concatenate(parts).astype("f4")
        vbo = self.ctx.buffer(data.tobytes())
        vao = self.ctx.vertex_array(self.prog, [(vbo, "3f 3f 4f", "in_pos", "in_normal", "in_colour")])
        return vbo, vao, len(data)

    def depth_range(self, camera: Camera, near: float, far: float) -> tuple[float, float]:
        """``(near, far)`` widened so the layout's box fits (primitives may
        reach past the splats' bounds)."""
        if self.bounds is None:
            return near, far
        lo, hi = self.bounds
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        reach = float(np.max(np.linalg.norm(corners - camera.eye, axis=1)))
        return near, max(far, reach * 1.05 + near)

    def draw(self, fbo: moderngl.Framebuffer, camera: Camera, near: float, far: float) -> None:
        """Draw over what ``fbo`` holds: the splats, rendered with ``clear``,
        so its depth is still the cleared 1.0 (splats never write depth). Leaves the GL state as `SplatRenderer`
        expects it: blending and culling off, depth writes on, depth func '<'."""
        if self.empty:
            return
        ctx = self.ctx
        fbo.use()
        near, far = self.depth_range(camera, near, far)
        mvp = view_projection_matrix(camera, near, far)
        self.prog["u_mvp"].write(np.ascontiguousarray(mvp.T, dtype="f4").tobytes())
        if "u_eye" in self.prog:
            self.prog["u_eye"].value = tuple(float(c) for c in camera.eye)
        ctx.enable(moderngl.BLEND | moderngl.DEPTH_TEST)
        # "Over" for the alpha channel too: the framebuffer stays opaque, as Qt
        # composes the widget with its alpha (translucent alpha showed the
        # window through the scene in garish colours).
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.depth_func = "<"
        try:
            if self._faces is not None:
                ctx.enable(moderngl.CULL_FACE)
                ctx.front_face = "ccw"
                ctx.cull_face = "back"
                ctx.polygon_offset = 1.0, 1.0  # edges drawn later win over their own faces
                fbo.depth_mask = True
                self._set("u_shade", 1.0)
                self._set("u_alpha", 1.0)
                self._faces[1].render(moderngl.TRIANGLES, vertices=self._faces[2])
                ctx.polygon_offset = 0.0, 0.0
                ctx.disable(moderngl.CULL_FACE)
            if self._edges is not None:
                fbo.depth_mask = False
                self._set("u_shade", 0.0)
                # Hidden edges faintly (X-ray), visible ones fully.
                ctx.depth_func = ">"
                self._set("u_alpha", 0.25)
                self._edges[1].render(moderngl.LINES, vertices=self._edges[2])
                ctx.depth_func = "<="
                self._set("u_alpha", 0.95)
                self._edges[1].render(moderngl.LINES, vertices=self._edges[2])
        finally:
            fbo.depth_mask = True
            ctx.depth_func = "<"
            ctx.polygon_offset = 0.0, 0.0
            ctx.disable(moderngl.BLEND | moderngl.CULL_FACE)

    def _set(self, name: str, value) -> None:
        member = self.prog.get(name, None)
        if member is not None:
            member.value = value

    def _release_buffers(self) -> None:
        for part in (self._faces, self._edges):
            if part is not None:
                part[1].release()
                part[0].release()
        self._faces = self._edges = None

    def release(self) -> None:
        self._release_buffers()
        self.prog.release()
