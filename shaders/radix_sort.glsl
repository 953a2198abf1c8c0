// radix_sort.glsl: stable LSD radix sort of (uint key, uint value) pairs,
// RADIX_BITS bits per pass (app/render/radix_sort.py drives it).
// Define exactly one of RADIX_COUNT, RADIX_SCAN, RADIX_SCATTER.
//
// The input is cut into blocks of BLOCK = WG * ELEMS pairs; invocation t of a
// block owns ELEMS consecutive pairs, so the order (invocation, element) is
// the input order and a serial walk per invocation keeps the sort stable.
//   COUNT:   per-block digit histogram -> hist[digit * num_blocks + block]
//   SCAN:    exclusive prefix sum of hist in place (digit-major, so each
//            entry becomes the global output offset of (digit, block))
//   SCATTER: recount, offset each invocation within its block, write out.

#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1u)
#ifndef WG
#define WG 64
#endif
#ifndef ELEMS
#define ELEMS 16
#endif
#define BLOCK (WG * ELEMS)
#define SCAN_WG 256

#if defined COMPUTE_SHADER

uniform uint u_count;
uniform uint u_shift;
uniform uint u_num_blocks;

layout(std430, binding = 4) buffer Hist { uint hist[]; };

#if defined RADIX_SCAN
layout(local_size_x = SCAN_WG) in;
shared uint s_part[SCAN_WG];

void main() {
    uint t = gl_LocalInvocationID.x;
    uint total = uint(RADIX_SIZE) * u_num_blocks;
    uint per = (total + uint(SCAN_WG) - 1u) / uint(SCAN_WG);
    uint start = min(t * per, total);
    uint end = min(start + per, total);
    uint s = 0u;
    for (uint i = start; i < end; ++i) s += hist[i];
    s_part[t] = s;
    barrier();
    if (t == 0u) {
        uint acc = 0u;
        for (uint j = 0u; j < uint(SCAN_WG); ++j) {
            uint v = s_part[j];
            s_part[j] = acc;
            acc += v;
        }
    }
    barrier();
    uint acc = s_part[t];
    for (uint i = start; i < end; ++i) {
        uint v = hist[i];
        hist[i] = acc;
        acc += v;
    }
}

#else  // COUNT or SCATTER

layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer KeysIn { uint keys_in[]; };
layout(std430, binding = 1) readonly buffer ValuesIn { uint values_in[]; };
layout(std430, binding = 2) writeonly buffer KeysOut { uint keys_out[]; };
layout(std430, binding = 3) writeonly buffer ValuesOut { uint values_out[]; };
shared uint s_counts[RADIX_SIZE * WG];

void main() {
    uint block = gl_WorkGroupID.x;
    uint t = gl_LocalInvocationID.x;
    uint base = block * uint(BLOCK) + t * uint(ELEMS);
    uint n = u_count > base ? min(uint(ELEMS), u_count - base) : 0u;
    uint cnt[RADIX_SIZE];
    for (int d = 0; d < RADIX_SIZE; ++d) cnt[d] = 0u;
    for (uint e = 0u; e < n; ++e) cnt[(keys_in[base + e] >> u_shift) & RADIX_MASK] += 1u;
    for (int d = 0; d < RADIX_SIZE; ++d) s_counts[d * WG + int(t)] = cnt[d];
    barrier();
#if defined RADIX_COUNT
    for (uint d = t; d < uint(RADIX_SIZE); d += uint(WG)) {
        uint s = 0u;
        for (int j = 0; j < WG; ++j) s += s_counts[d * uint(WG) + uint(j)];
        hist[d * u_num_blocks + block] = s;
    }
#else  // RADIX_SCATTER
    for (uint d = t; d < uint(RADIX_SIZE); d += uint(WG)) {
        uint acc = hist[d * u_num_blocks + block];
        for (int j = 0; j < WG; ++j) {
            uint k = d * uint(WG) + uint(j);
            uint v = s_counts[k];
            s_counts[k] = acc;
            acc += v;
        }
    }
    barrier();
    for (int d = 0; d < RADIX_SIZE; ++d) cnt[d] = s_counts[d * WG + int(t)];
    for (uint e = 0u; e < n; ++e) {
        uint key = keys_in[base + e];
        uint d = (key >> u_shift) & RADIX_MASK;
        uint dst = cnt[d];
        cnt[d] = dst + 1u;
        keys_out[dst] = key;
        values_out[dst] = values_in[base + e];
    }
#endif
}
#endif
#endif
