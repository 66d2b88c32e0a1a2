/* Softmax, its backward, label-smoothed cross-entropy (CoMix spec section 4.1) and the
 * pseudo-label selection of the TPL term (section 4.3), on rows of C logits.
 *
 * softmax:      out[i] = softmax(x[i])  (max-shifted)
 * backward:     dx[i] = (accumulate ? dx[i] : 0) + p[i] * (g[i] - sum_c p[i][c] g[i][c])
 * CE (smoothed): y = (1 - eps) onehot(label) + eps / C,
 *   loss = mean_i -sum_c y_c log softmax(x_i)_c,
 *   grad = (accumulate ? grad : 0) + grad_scale * (softmax(x_i) - y) / B   (grad may be NULL)
 * pseudo labels: p = softmax((a + b) / 2) per row, label = argmax p (first maximum),
 *   mask = (max p >= threshold).
 * Labels must lie in [0, C) (COMIX_ERR_ARGUMENT on the CPU; CUDA clamps nothing and writes NaN
 * loss for a bad label, so validate on the host first). */
#ifndef COMIX_CROSS_ENTROPY_H
#define COMIX_CROSS_ENTROPY_H
#include "comix/common.h"

#ifdef __cplusplus
extern "C" {
#endif

int comix_softmax_f32_cpu(const float* x, int64_t rows, int64_t C, float* out, int threads);
int comix_softmax_backward_f32_cpu(const float* p, const float* g, int64_t rows, int64_t C, int accumulate,
                                   float* dx, int threads);
int comix_ce_smooth_f32_cpu(const float* logits, int64_t B, int64_t C, const int64_t* labels, float eps,
                            float grad_scale, int accumulate, double* loss, float* grad, int threads);
int comix_pseudo_labels_f32_cpu(const float* a, const float* b, int64_t B, int64_t C, float threshold,
                                int64_t* labels, uint8_t* mask);

/* CUDA: device pointers, asynchronous on stream; loss is one device float. One launch each. */
int comix_softmax_cuda(const float* x, int64_t rows, int64_t C, float* out, void* stream);
int comix_softmax_backward_cuda(const float* p, const float* g, int64_t rows, int64_t C, int accumulate, float* dx,
                                void* stream);
int comix_ce_smooth_cuda(const float* logits, int64_t B, int64_t C, const int64_t* labels, float eps,
                         float grad_scale, int accumulate, float* loss, float* grad, void* stream);
int comix_pseudo_labels_cuda(const float* a, const float* b, int64_t B, int64_t C, float threshold, int64_t* labels,
                             uint8_t* mask, void* stream);

#ifdef __cplusplus
}
#endif
#endif
