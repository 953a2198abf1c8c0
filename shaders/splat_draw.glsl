// splat_draw.glsl: draw the sorted splats back to front in one indexed
// GL_TRIANGLES draw: 4 vertices and 6 indices (2 triangles) a splat, so
// draw slot = gl_VertexID / 4 (the vertex cache runs each vertex once).
//
// Per-splat data (include/packing.glsl): with GATHERED (GL >= 4.3) the
// u_draw_* textures already hold them in slot order; otherwise (GL 3.3) the
// slot's splat index comes from the R32UI texture u_order and the data from
// u_proj_*. Both are DATA_WIDTH wide.
//
// Footprint: every pixel the splat can touch lies in the ellipse of radius R
// sigmas along its axes, R = 3 (the reference's cut) or less for faint
// splats (beyond power = log(255 * opacity) alpha < 1/255, and the fragment
// would be discarded anyway). Small splats get one triangle circumscribing
// that ellipse (vertices 0-2; vertex 3 repeats vertex 1, so the second
// triangle is degenerate and dropped): on llvmpipe a triangle's setup costs
// as much as ~40 fragments. Big ones get the rectangle around the ellipse,
// which wastes fewer fragments. Enormous splats are clipped to a size that
// still covers the image. The fragment evaluates the Gaussian in sigma
// units, 0.5 * |local|^2, which equals 0.5 * d^T cov2d^-1 d.
//
// Output is premultiplied alpha for glBlendFunc(ONE, ONE_MINUS_SRC_ALPHA);
// depth test on, depth writes off, depth of the splat centre.

#include "common.glsl"
#include "packing.glsl"

#if defined VERTEX_SHADER
uniform vec2 u_viewport;   // pixels
uniform vec2 u_depth_map;  // z_ndc = x - y / depth (the GL perspective matrix's z row)
uniform float u_boost;     // > 1 enlarges the splats of a budget frame (1 = exact)
uniform int u_mode;        // 0: splats; 1: ellipses (2-sigma outlines, a debug view)

#if defined GATHERED
uniform sampler2D u_draw_a;
uniform usampler2D u_draw_b;
#else
uniform sampler2D u_draw_a;   // the proj_* textures, read through u_order
uniform usampler2D u_draw_b;
uniform usampler2D u_order;
#endif

out vec2 v_local;
flat out vec4 v_colour;

const float QUAD_MIN_AREA = 32.0;  // px^2 of ext.x * ext.y above which a quad is cheaper
const vec2 QUAD[4] = vec2[4](vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(-1.0, 1.0), vec2(1.0, 1.0));
// equilateral triangle around the unit circle; the 4th vertex repeats the 2nd
const vec2 TRI[4] = vec2[4](vec2(0.0, 2.0), vec2(-1.7320508, -1.0), vec2(1.7320508, -1.0), vec2(-1.7320508, -1.0));

void main() {
    int slot = gl_VertexID >> 2;
    int corner_id = gl_VertexID & 3;
#if defined GATHERED
    ivec2 tc = data_texel(slot);
#else
    ivec2 tc = data_texel(int(texelFetch(u_order, data_texel(slot), 0).x));
#endif
    uvec4 b = texelFetch(u_draw_b, tc, 0);
    float s2 = splat_sigma2(b);
    if (s2 == 0.0) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // culled: outside the clip volume
        v_local = vec2(0.0);
        v_colour = vec4(0.0);
        return;
    }
    vec4 a = texelFetch(u_draw_a, tc, 0);
    v_colour = splat_colour(b);
    float s1 = length(a.zw);
    vec2 e1 = a.zw / s1;
    vec2 e2 = vec2(-e1.y, e1.x);
    vec2 sig = vec2(s1, s2) * u_boost;
    float max_power = u_mode == 1 ? MAX_POWER : min(MAX_POWER, log(255.0 * v_colour.a) + 1e-3);
    vec2 ext = sqrt(2.0 * max(max_power, 0.0)) * sig;  // ellipse semi-axes, px
    // Every image point lies within `reach` of the centre. If an axis is longer,
    // clip both to reach * sqrt(2): that ellipse still holds the image part.
    float reach = length(max(abs(a.xy), abs(u_viewport - a.xy))) + 1.0;
    if (max(ext.x, ext.y) > reach) ext = min(ext, vec2(reach)) * 1.4142136;
    vec2 corner = ext.x * ext.y > QUAD_MIN_AREA ? QUAD[corner_id] : TRI[corner_id];
    vec2 px = a.xy + corner.x * ext.x * e1 + corner.y * ext.y * e2;
    v_local = corner * ext / sig;
    float zndc = clamp(u_depth_map.x - u_depth_map.y / splat_depth(b), -1.0, 1.0);
    gl_Position = vec4(px.x * 2.0 / u_viewport.x - 1.0, 1.0 - px.y * 2.0 / u_viewport.y, zndc, 1.0);
}
#endif

#if defined FRAGMENT_SHADER
in vec2 v_local;
flat in vec4 v_colour;
uniform int u_mode;
layout(location = 0) out vec4 o_colour;

void main() {
    if (u_mode == 1) {  // the 2-sigma contour, about 2 px wide, opaque
        float d = length(v_local);
        if (abs(d - 2.0) > fwidth(d)) discard;
        o_colour = vec4(v_colour.rgb, 1.0);
        return;
    }
    float power = 0.5 * dot(v_local, v_local);
    if (power > MAX_POWER) discard;
    float alpha = min(ALPHA_MAX, v_colour.a * exp(-power));
    if (alpha < ALPHA_MIN) discard;
    o_colour = vec4(v_colour.rgb * alpha, alpha);
}
#endif
