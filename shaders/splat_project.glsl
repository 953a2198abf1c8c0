// splat_project.glsl: the per-view preprocess (see include/project.glsl).
//
// COMPUTE_SHADER (GL >= 4.3): one invocation per splat in [0, u_count); writes
// the proj_* images and either appends every visible splat to the sort lists
// (u_emit = 1) or only counts the importance histogram (u_emit = 0, the first
// of the two budget passes; splat_emit.glsl is the second).
//
// VERTEX_SHADER / FRAGMENT_SHADER (GL 3.3): the same preprocess as a
// full-screen pass over the DATA_WIDTH x rows proj_* textures (two colour
// attachments), one fragment per splat; the CPU sorts.

#include "project.glsl"

#if defined COMPUTE_SHADER
#include "keys.glsl"

layout(local_size_x = 128) in;
layout(rgba32f, binding = 0) writeonly uniform image2D u_proj_a_img;
layout(rgba32ui, binding = 1) writeonly uniform uimage2D u_proj_b_img;
#include "sort_lists.glsl"

uniform int u_count;
uniform int u_emit;
uniform int u_row_invocations;  // invocations in one row of the 2D dispatch

void main() {
    int i = int(gl_GlobalInvocationID.x) + int(gl_GlobalInvocationID.y) * u_row_invocations;
    if (i >= u_count) return;
    vec4 a;
    uvec4 b;
    project_splat(i, a, b);
    ivec2 tc = data_texel(i);
    imageStore(u_proj_a_img, tc, a);
    imageStore(u_proj_b_img, tc, b);
    if (b.x == 0u) return;
    atomicAdd(visible_count, 1u);
    if (u_emit == 1) {
        uint slot = atomicAdd(emitted_count, 1u);
        keys[slot] = depth_key(splat_depth(b));
        values[slot] = uint(i);
    } else {
        atomicAdd(histogram[importance_bin(splat_importance(a, b, u_viewport))], 1u);
    }
}
#endif

#if defined VERTEX_SHADER
void main() {
    // one triangle covering the viewport
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
#endif

#if defined FRAGMENT_SHADER
uniform int u_count;
layout(location = 0) out vec4 o_proj_a;
layout(location = 1) out uvec4 o_proj_b;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    int i = (p.y << DATA_SHIFT) + p.x;
    if (i >= u_count) {
        o_proj_a = vec4(0.0);
        o_proj_b = uvec4(0u);
        return;
    }
    project_splat(i, o_proj_a, o_proj_b);
}
#endif
