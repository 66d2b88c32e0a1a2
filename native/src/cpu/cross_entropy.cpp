// Softmax, softmax backward, label-smoothed cross-entropy and pseudo-label selection on the CPU.
// The per-row arithmetic is shared with cuda-kernels/cross_entropy.cu (supcon_math.cuh).
#include <cmath>
#include <vector>

#include "comix/cross_entropy.h"
#include "parallel.h"
#include "supcon_math.cuh"

namespace {
int threads_for(int64_t rows, int64_t C, int threads) { return rows * C < (1 << 16) ? 1 : threads; }
}  // namespace

extern "C" int comix_softmax_f32_cpu(const float* x, int64_t rows, int64_t C, float* out, int threads) {
  if (!x || !out || rows < 0 || C < 1) return COMIX_ERR_ARGUMENT;
  comix::parallel_for(rows, 64, threads_for(rows, C, threads), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) comix::softmax_row(x + i * C, C, out + i * C);
  });
  return COMIX_OK;
}

extern "C" int comix_softmax_backward_f32_cpu(const float* p, const float* g, int64_t rows, int64_t C, int accumulate,
                                              float* dx, int threads) {
  if (!p || !g || !dx || rows < 0 || C < 1) return COMIX_ERR_ARGUMENT;
  comix::parallel_for(rows, 64, threads_for(rows, C, threads), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) comix::softmax_backward_row(p + i * C, g + i * C, C, accumulate != 0, dx + i * C);
  });
  return COMIX_OK;
}

extern "C" int comix_ce_smooth_f32_cpu(const float* logits, int64_t B, int64_t C, const int64_t* labels, float eps,
                                       float grad_scale, int accumulate, double* loss, float* grad, int threads) {
  if (!logits || !labels || !loss || B < 1 || C < 1 || !(eps >= 0.0f && eps <= 1.0f)) return COMIX_ERR_ARGUMENT;
  for (int64_t i = 0; i < B; ++i)
    if (labels[i] < 0 || labels[i] >= C) return COMIX_ERR_ARGUMENT;
  std::vector<double> rowloss((size_t)B);
  const float gs = grad_scale / (float)B;
  comix::parallel_for(B, 64, threads_for(B, C, threads), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i)
      rowloss[(size_t)i] = comix::ce_smooth_row(logits + i * C, C, labels[i], eps, gs, accumulate != 0,
                                                grad ? grad + i * C : nullptr);
  });
  double s = 0.0;
  for (double v : rowloss) s += v;
  *loss = s / (double)B;
  return COMIX_OK;
}

extern "C" int comix_pseudo_labels_f32_cpu(const float* a, const float* b, int64_t B, int64_t C, float threshold,
                                           int64_t* labels, uint8_t* mask) {
  if (!a || !b || !labels || !mask || B < 0 || C < 1) return COMIX_ERR_ARGUMENT;
  for (int64_t i = 0; i < B; ++i) {
    float conf;
    labels[i] = comix::pseudo_label_row(a + i * C, b + i * C, C, &conf);
    mask[i] = conf >= threshold ? 1 : 0;
  }
  return COMIX_OK;
}
