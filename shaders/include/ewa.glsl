// ewa.glsl: 3D Gaussian -> 2D screen ellipse (EWA splatting, 3DGS maths; the
// numpy twin is editor/rendering/reference.py, which documents every rule).

#include "common.glsl"

// Camera uniforms (camera space: x right, y down, z forward; pixels from the
// top-left corner, pixel centres at integer + 0.5):
uniform mat3 u_view_rot;    // world -> camera rotation (rows: right, down, forward)
uniform vec3 u_eye;         // camera centre, world
uniform vec4 u_intrinsics;  // fx, fy, cx, cy in pixels
uniform vec2 u_viewport;    // image width, height in pixels
uniform vec2 u_jac_clamp;   // 1.3 * tan(half fov) in x and y (3DGS clamp)
uniform float u_near;       // near plane: centres need depth > u_near

// Rotation matrix of a unit quaternion q = (w, x, y, z).
mat3 quat_to_mat(vec4 q) {
    float w = q.x, x = q.y, y = q.z, z = q.w;
    return mat3(
        1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),   // column 0
        2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x),   // column 1
        2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)    // column 2
    );
}

// Camera-space point of a world point.
vec3 to_camera(vec3 p) {
    return u_view_rot * (p - u_eye);
}

// Project a Gaussian (centre t in camera space, rotation, standard deviations)
// to the screen. Outputs the pixel centre, the 2D covariance (xx, xy, yy) with
// the low-pass, and the ellipse axes: unit major axis e1 and standard
// deviations (sigma1 >= sigma2), low-pass included. Needs t.z > 0.
//
// cov2d = A A^T + 0.3 I with A = J W M (2x3), M = R diag(s): its determinant
// before the low-pass is |a0 x a1|^2 (Lagrange's identity), which keeps thin
// splats thin in float32 where ac - b^2 would cancel.
void ewa_project(vec3 t, mat3 rot, vec3 sigma,
                 out vec2 centre, out vec3 cov2d, out vec2 e1, out vec2 sig) {
    float fx = u_intrinsics.x, fy = u_intrinsics.y;
    float iz = 1.0 / t.z;
    centre = vec2(fx * t.x * iz + u_intrinsics.z, fy * t.y * iz + u_intrinsics.w);
    float tx = clamp(t.x * iz, -u_jac_clamp.x, u_jac_clamp.x) * t.z;
    float ty = clamp(t.y * iz, -u_jac_clamp.y, u_jac_clamp.y) * t.z;
    vec3 j0 = vec3(fx * iz, 0.0, -fx * tx * iz * iz);
    vec3 j1 = vec3(0.0, fy * iz, -fy * ty * iz * iz);
    mat3 m = mat3(rot[0] * sigma.x, rot[1] * sigma.y, rot[2] * sigma.z);
    // rows of A = J W M, as vectors: a = M^T W^T j
    vec3 a0 = transpose(m) * (transpose(u_view_rot) * j0);
    vec3 a1 = transpose(m) * (transpose(u_view_rot) * j1);
    float a = dot(a0, a0), b = dot(a0, a1), c = dot(a1, a1);
    vec3 cr = cross(a0, a1);
    float det = dot(cr, cr);
    cov2d = vec3(a + LOW_PASS, b, c + LOW_PASS);
    float mid = 0.5 * (a + c);
    float disc = sqrt(0.25 * (a - c) * (a - c) + b * b);
    float l1 = mid + disc;
    float l2 = l1 > 0.0 ? det / l1 : 0.0;
    sig = sqrt(vec2(l1, max(l2, 0.0)) + LOW_PASS);
    // eigenvector of l1: the better conditioned of (b, l1 - a) and (l1 - c, b)
    vec2 v1 = vec2(b, l1 - a);
    vec2 v2 = vec2(l1 - c, b);
    vec2 v = dot(v1, v1) > dot(v2, v2) ? v1 : v2;
    float n = length(v);
    e1 = n > 1e-20 * max(l1, 1e-30) ? v / n : vec2(1.0, 0.0);
}
