// packing.glsl: the second per-splat texel of the projected data (RGBA32UI),
// written by the preprocess and read by the emit, gather and draw passes.
//   x: sigma2 in px as float bits (0 = culled)   y: camera depth, float bits
//   z: red | green << 16 (unorm16)               w: blue | opacity << 16

uint pack_unorm16x2(float lo, float hi) {
    return uint(clamp(lo, 0.0, 1.0) * 65535.0 + 0.5) | (uint(clamp(hi, 0.0, 1.0) * 65535.0 + 0.5) << 16);
}

vec2 unpack_unorm16x2(uint v) {
    return vec2(float(v & 0xFFFFu), float(v >> 16)) * (1.0 / 65535.0);
}

uvec4 pack_splat(float sigma2, float depth, vec4 colour) {
    return uvec4(floatBitsToUint(sigma2), floatBitsToUint(depth),
                 pack_unorm16x2(colour.r, colour.g), pack_unorm16x2(colour.b, colour.a));
}

float splat_sigma2(uvec4 b) { return uintBitsToFloat(b.x); }
float splat_depth(uvec4 b) { return uintBitsToFloat(b.y); }
vec4 splat_colour(uvec4 b) { return vec4(unpack_unorm16x2(b.z), unpack_unorm16x2(b.w)); }

// What the interaction budget ranks splats by: opacity x area of the 3-sigma
// ellipse in px^2, capped to the image area.
float splat_importance(vec4 a, uvec4 b, vec2 viewport) {
    float area = min(28.274334 * length(a.zw) * splat_sigma2(b), viewport.x * viewport.y);
    return splat_colour(b).a * area;
}
