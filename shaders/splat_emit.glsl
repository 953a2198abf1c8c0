// splat_emit.glsl: second budget pass (GL >= 4.3). After splat_project ran
// with u_emit = 0 and the CPU chose the lowest importance bin to keep (the
// largest top set of bins holding at most K splats), append every visible
// splat whose importance bin is >= u_min_bin to the sort lists.

#include "common.glsl"
#include "packing.glsl"
#include "keys.glsl"

#if defined COMPUTE_SHADER
layout(local_size_x = 128) in;
uniform sampler2D u_proj_a;
uniform usampler2D u_proj_b;
uniform vec2 u_viewport;
#include "sort_lists.glsl"

uniform int u_count;
uniform int u_min_bin;
uniform int u_row_invocations;

void main() {
    int i = int(gl_GlobalInvocationID.x) + int(gl_GlobalInvocationID.y) * u_row_invocations;
    if (i >= u_count) return;
    ivec2 tc = data_texel(i);
    uvec4 b = texelFetch(u_proj_b, tc, 0);
    if (b.x == 0u) return;
    vec4 a = texelFetch(u_proj_a, tc, 0);
    if (importance_bin(splat_importance(a, b, u_viewport)) < u_min_bin) return;
    uint slot = atomicAdd(emitted_count, 1u);
    keys[slot] = depth_key(splat_depth(b));
    values[slot] = uint(i);
}
#endif
