// common.glsl: constants shared by every splat program, and the texel layout
// of per-splat textures: splat i lives at texel (i % DATA_WIDTH, i / DATA_WIDTH)
// with DATA_WIDTH = 1 << DATA_SHIFT (DATA_SHIFT is defined by the loader).

#define DATA_WIDTH (1 << DATA_SHIFT)

const float LOW_PASS = 0.3;      // px^2 on the 2D covariance diagonal
const float MAX_POWER = 4.5;     // 3-sigma ellipse: 0.5 * 3^2
const float ALPHA_MIN = 1.0 / 255.0;
const float ALPHA_MAX = 0.99;

ivec2 data_texel(int i) {
    return ivec2(i & (DATA_WIDTH - 1), i >> DATA_SHIFT);
}
