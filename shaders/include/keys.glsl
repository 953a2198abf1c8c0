// keys.glsl: sort keys and importance bins, shared by the project and emit
// passes (the Python side mirrors both: app/render/splat_renderer.py and
// app/render/interaction.py).
//
// Sort keys put the farthest splat first (ascending key = back to front):
//   32 bits: the complement of the float bits of the depth (exact order);
//   16 bits: log depth quantised between u_key_range.x = log(near) and
//            log(far), u_key_range.y = 1 / (log(far) - log(near)).
uniform int u_key_bits;
uniform vec2 u_key_range;

uint depth_key(float z) {
    if (u_key_bits == 32) return ~floatBitsToUint(z);
    float t = clamp((log(z) - u_key_range.x) * u_key_range.y, 0.0, 1.0);
    return uint((1.0 - t) * 65535.0 + 0.5);
}

// Importance histogram: HIST_BINS bins of log2(importance) from HIST_LOG2_MIN,
// HIST_PER_OCTAVE bins per octave.
#define HIST_BINS 1024
#define HIST_LOG2_MIN -8.0
#define HIST_PER_OCTAVE 32.0

int importance_bin(float importance) {
    float b = floor((log2(max(importance, 1e-30)) - HIST_LOG2_MIN) * HIST_PER_OCTAVE);
    return int(clamp(b, 0.0, float(HIST_BINS - 1)));
}
