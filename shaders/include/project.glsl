// project.glsl: the per-view preprocess of one splat, shared by the compute
// pass (GL >= 4.3) and the fragment-pass fallback (GL 3.3). Output (what the
// draw pass reads; see include/packing.glsl):
//   proj_a (RGBA32F):  pixel centre xy, major axis e1 * sigma1 (px)
//   proj_b (RGBA32UI): sigma2 (float bits, px; 0 = culled), camera depth
//                      (float bits), colour RGB and opacity as unorm16 pairs.

#include "ewa.glsl"
#include "splat_data.glsl"
#include "packing.glsl"

uniform float u_splat_scale;

void project_splat(int i, out vec4 proj_a, out uvec4 proj_b) {
    proj_a = vec4(0.0);
    proj_b = uvec4(0u);
    ivec2 tc = data_texel(i);
    vec4 pos = texelFetch(u_src_pos, tc, 0);
    float opacity = pos.w;
    vec3 t = to_camera(pos.xyz);
    if (!(t.z > u_near) || !(opacity >= ALPHA_MIN)) return;
    vec4 q = texelFetch(u_src_rot, tc, 0);
    vec3 sigma = texelFetch(u_src_scale, tc, 0).xyz * u_splat_scale;
    vec2 centre, e1, sig;
    vec3 cov;
    ewa_project(t, quat_to_mat(q), sigma, centre, cov, e1, sig);
    // cull when the 3-sigma bounding box holds no pixel centre of the image
    vec2 r = 3.0 * sqrt(cov.xz);
    vec2 lo = max(ceil(centre - r - 0.5), vec2(0.0));
    vec2 hi = min(floor(centre + r - 0.5), u_viewport - 1.0);
    if (!(lo.x <= hi.x && lo.y <= hi.y)) return;
    if (any(isnan(e1)) || any(isinf(sig)) || any(isnan(sig))) return;

    vec3 c[SH_COEFFS];
    fetch_sh(i, c);
    vec3 raw = sh_eval(normalize(pos.xyz - u_eye), c);
    if (any(isnan(raw))) return;
    vec3 colour = clamp(raw + 0.5, 0.0, 1.0);
    proj_a = vec4(centre, e1 * sig.x);
    proj_b = pack_splat(sig.y, t.z, vec4(colour, opacity));
}
