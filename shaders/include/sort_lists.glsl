// sort_lists.glsl: the storage buffers the project and emit passes append to
// (compute shaders only; include after keys.glsl, which defines HIST_BINS).
// One definition, because both programs write the same buffers and the
// renderer binds them once (app/render/splat_renderer.py).
layout(std430, binding = 0) writeonly buffer Keys { uint keys[]; };
layout(std430, binding = 1) writeonly buffer Values { uint values[]; };
layout(std430, binding = 2) buffer Counters {
    uint visible_count;
    uint emitted_count;
    uint pad0;
    uint pad1;
    uint histogram[HIST_BINS];
};
