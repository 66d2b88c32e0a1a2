// Per-element arithmetic shared by the CPU code (native/src/cpu) and the CUDA kernels, so CI
// (which has no GPU) runs the same formulas the GPU runs.
#ifndef COMIX_MATH_CUH
#define COMIX_MATH_CUH
#include <stdint.h>

#if defined(__CUDACC__)
#define COMIX_HD __host__ __device__ __forceinline__
#else
#define COMIX_HD inline
#endif

namespace comix {

// numpy.median for an even count: mean of the two middle values, then .astype(uint8) truncates.
COMIX_HD uint8_t median_even(uint32_t lo, uint32_t hi) { return (uint8_t)((lo + hi) >> 1); }

// Ranks (0-based) of the two middle values of T sorted values; equal when T is odd.
COMIX_HD int64_t median_rank_lo(int64_t T) { return (T - 1) / 2; }
COMIX_HD int64_t median_rank_hi(int64_t T) { return T / 2; }

// One step of the bitwise search for the k-th smallest value: with `below` values strictly
// under `cand` (= prefix | bit), the k-th smallest is >= cand exactly when below <= k.
// Templated on the value and count types so the CPU loop over uint8 values and uint32 counts
// vectorises (int64 compares and uint32 values kept it scalar: ~5x slower at T = 16).
template <class Value, class Count>
COMIX_HD Value select_step(Value prefix, Value cand, Count below, Count k) {
  return below <= k ? cand : prefix;
}

// Background mixing in [-1, 1] space. Folded as a*x + c with a = (1-g)*2/255 and
// c = g*(bg*2/255 - 1) - (1-g), so the inner loop is one multiply-add per element.
struct MixCoeffs {
  float a;      // (1 - gamma) * 2 / 255
  float g2;     // gamma * 2 / 255
  float base;   // -(1 - gamma) - gamma = -1
};

COMIX_HD MixCoeffs mix_coeffs(float gamma) {
  MixCoeffs m;
  m.a = (1.0f - gamma) * (2.0f / 255.0f);
  m.g2 = gamma * (2.0f / 255.0f);
  m.base = -1.0f;
  return m;
}
// Per-background-element offset: gamma*(bg*2/255) - 1.
COMIX_HD float mix_offset(const MixCoeffs& m, uint8_t bg) { return m.g2 * (float)bg + m.base; }
COMIX_HD float mix_value(const MixCoeffs& m, uint8_t x, float offset) { return m.a * (float)x + offset; }

// float -> bfloat16 bits, round to nearest even (NaN stays NaN).
COMIX_HD uint16_t f32_to_bf16(float f) {
  union { float f; uint32_t u; } v;
  v.f = f;
  uint32_t u = v.u;
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

}  // namespace comix
#endif
