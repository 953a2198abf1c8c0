// splat_gather.glsl (GL >= 4.3): after the sort, copy each drawn splat's
// projected data into draw slot order, so the draw pass reads its vertices'
// data sequentially instead of through the sorted index list.

#include "common.glsl"

#if defined COMPUTE_SHADER
layout(local_size_x = 128) in;
uniform sampler2D u_proj_a;
uniform usampler2D u_proj_b;
layout(rgba32f, binding = 0) writeonly uniform image2D u_draw_a_img;
layout(rgba32ui, binding = 1) writeonly uniform uimage2D u_draw_b_img;
layout(std430, binding = 1) readonly buffer Values { uint values[]; };
uniform int u_count;
uniform int u_row_invocations;

void main() {
    int slot = int(gl_GlobalInvocationID.x) + int(gl_GlobalInvocationID.y) * u_row_invocations;
    if (slot >= u_count) return;
    ivec2 src = data_texel(int(values[slot]));
    ivec2 dst = data_texel(slot);
    imageStore(u_draw_a_img, dst, texelFetch(u_proj_a, src, 0));
    imageStore(u_draw_b_img, dst, texelFetch(u_proj_b, src, 0));
}
#endif
