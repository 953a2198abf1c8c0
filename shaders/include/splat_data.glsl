// splat_data.glsl: the per-splat source textures, uploaded once per cloud by
// app/render/splat_renderer.py. Splat i lives at texel (i % DATA_WIDTH,
// i / DATA_WIDTH) of every texture below (DATA_WIDTH = 1 << DATA_SHIFT).
//   u_src_pos    RGBA32F  world position xyz, w = opacity (sigmoid applied)
//   u_src_rot    RGBA32F  unit quaternion (w, x, y, z)
//   u_src_scale  RGBA32F  linear standard deviations xyz (world units)
//   u_src_sh     RGBA16F  SH_TEXELS texels per splat, starting at linear
//                         texel i * SH_TEXELS: the coefficients flattened
//                         coefficient-major, channel last, zero padded.
// Needs DATA_SHIFT, SH_TEXELS and SH_DEGREE (the bands evaluated, <= stored).

#include "common.glsl"
#include "sh.glsl"

#define SH_FETCH ((3 * SH_COEFFS + 3) / 4)

uniform sampler2D u_src_pos;
uniform sampler2D u_src_rot;
uniform sampler2D u_src_scale;
uniform sampler2D u_src_sh;

void fetch_sh(int i, out vec3 c[SH_COEFFS]) {
    float f[SH_FETCH * 4];
    int base = i * SH_TEXELS;
    for (int j = 0; j < SH_FETCH; ++j) {
        vec4 v = texelFetch(u_src_sh, data_texel(base + j), 0);
        f[4 * j] = v.x;
        f[4 * j + 1] = v.y;
        f[4 * j + 2] = v.z;
        f[4 * j + 3] = v.w;
    }
    for (int k = 0; k < SH_COEFFS; ++k) {
        c[k] = vec3(f[3 * k], f[3 * k + 1], f[3 * k + 2]);
    }
}
