// sh.glsl: view-dependent colour from spherical harmonics, the 3DGS real basis
// with the same constants and signs as editor/model/sh.py.
// Needs SH_DEGREE (0..3) defined. c[k] is coefficient k (RGB), coefficient-major.
// dir: unit vector from the eye to the splat centre, world coordinates.

#define SH_COEFFS ((SH_DEGREE + 1) * (SH_DEGREE + 1))

const float SH_C0 = 0.28209479177387814;
const float SH_C1 = 0.4886025119029199;
const float SH_C2_0 = 1.0925484305920792;
const float SH_C2_1 = -1.0925484305920792;
const float SH_C2_2 = 0.31539156525252005;
const float SH_C2_3 = -1.0925484305920792;
const float SH_C2_4 = 0.5462742152960396;
const float SH_C3_0 = -0.5900435899266435;
const float SH_C3_1 = 2.890611442640554;
const float SH_C3_2 = -0.4570457994644658;
const float SH_C3_3 = 0.3731763325901154;
const float SH_C3_4 = -0.4570457994644658;
const float SH_C3_5 = 1.445305721320277;
const float SH_C3_6 = -0.5900435899266435;

// RGB before the +0.5 offset and the clamp.
vec3 sh_eval(vec3 dir, vec3 c[SH_COEFFS]) {
    vec3 r = SH_C0 * c[0];
#if SH_DEGREE >= 1
    float x = dir.x, y = dir.y, z = dir.z;
    r += -SH_C1 * y * c[1] + SH_C1 * z * c[2] - SH_C1 * x * c[3];
#endif
#if SH_DEGREE >= 2
    float xx = x * x, yy = y * y, zz = z * z;
    r += SH_C2_0 * x * y * c[4]
       + SH_C2_1 * y * z * c[5]
       + SH_C2_2 * (2.0 * zz - xx - yy) * c[6]
       + SH_C2_3 * x * z * c[7]
       + SH_C2_4 * (xx - yy) * c[8];
#endif
#if SH_DEGREE >= 3
    r += SH_C3_0 * y * (3.0 * xx - yy) * c[9]
       + SH_C3_1 * x * y * z * c[10]
       + SH_C3_2 * y * (4.0 * zz - xx - yy) * c[11]
       + SH_C3_3 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * c[12]
       + SH_C3_4 * x * (4.0 * zz - xx - yy) * c[13]
       + SH_C3_5 * z * (xx - yy) * c[14]
       + SH_C3_6 * x * (xx - 3.0 * yy) * c[15];
#endif
    return r;
}
