// Background mixing with normalisation, CPU. One multiply-add per element: the per-background
// offset gamma*(bg*2/255) - 1 is computed once per background element and row.
#include "comix/background_mix.h"

#include "comix_math.cuh"
#include "parallel.h"

extern "C" int comix_background_mix_cpu(const uint8_t* x, const uint8_t* bg, int64_t B, int64_t F, int64_t n,
                                        float gamma, int out_dtype, void* out, int threads) {
  if (!x || !bg || !out || B < 0 || F < 0 || n < 0) return COMIX_ERR_ARGUMENT;
  if (out_dtype != COMIX_DTYPE_F32 && out_dtype != COMIX_DTYPE_BF16) return COMIX_ERR_ARGUMENT;
  if (!(gamma >= 0.0f && gamma <= 1.0f)) return COMIX_ERR_ARGUMENT;
  const comix::MixCoeffs m = comix::mix_coeffs(gamma);
  constexpr int64_t kChunk = 4096;
  const int64_t chunks_per_row = (n + kChunk - 1) / kChunk;
  // Work unit: (video b, element chunk c) covering all F frames, so the chunk's offsets are
  // computed once and reused F times.
  comix::parallel_for(B * chunks_per_row, 1, threads, [&](int64_t ub, int64_t ue, int) {
    float offset[kChunk];
    for (int64_t u = ub; u < ue; ++u) {
      const int64_t b = u / chunks_per_row, i0 = (u % chunks_per_row) * kChunk;
      const int64_t w = n - i0 < kChunk ? n - i0 : kChunk;
      const uint8_t* g = bg + b * n + i0;
      for (int64_t i = 0; i < w; ++i) offset[i] = comix::mix_offset(m, g[i]);
      for (int64_t f = 0; f < F; ++f) {
        const int64_t base = (b * F + f) * n + i0;
        const uint8_t* xs = x + base;
        if (out_dtype == COMIX_DTYPE_F32) {
          float* o = static_cast<float*>(out) + base;
          for (int64_t i = 0; i < w; ++i) o[i] = comix::mix_value(m, xs[i], offset[i]);
        } else {
          uint16_t* o = static_cast<uint16_t*>(out) + base;
          for (int64_t i = 0; i < w; ++i) o[i] = comix::f32_to_bf16(comix::mix_value(m, xs[i], offset[i]));
        }
      }
    }
  });
  return COMIX_OK;
}
