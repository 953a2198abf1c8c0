// blit.glsl: draw a (premultiplied) texture over the whole viewport with
// bilinear filtering; used to upscale the reduced-resolution splat layer.

#if defined VERTEX_SHADER
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
#endif

#if defined FRAGMENT_SHADER
uniform sampler2D u_image;
in vec2 v_uv;
layout(location = 0) out vec4 o_colour;
void main() {
    o_colour = texture(u_image, v_uv);
}
#endif
