// Per-row and per-element arithmetic of the contrastive and cross-entropy losses, shared by the
// CPU code (native/src/cpu/supcon.cpp, cross_entropy.cpp) and the CUDA kernels
// (cuda-kernels/supcon.cu, cross_entropy.cu), so CI without a GPU runs the formulas the GPU runs.
#ifndef COMIX_SUPCON_MATH_CUH
#define COMIX_SUPCON_MATH_CUH
#include <math.h>
#include <stdint.h>

#include "comix_math.cuh"

namespace comix {

// Row r of the flattened [M = N*V] rows lives at this element offset (row r = v*N + n).
COMIX_HD int64_t supcon_row_offset(int64_t r, int64_t N, int64_t V, int64_t D, bool view_major) {
  if (view_major) return r * D;
  const int64_t v = r / N, n = r - v * N;
  return (n * V + v) * D;
}

// Online log-sum-exp: fold one value s into (running max m, running sum l of exp(x - m)).
// Start from m = -INFINITY, l = 0.
COMIX_HD void lse_push(float s, float& m, float& l) {
  if (s > m) {
    l = l * expf(m - s) + 1.0f;  // m = -inf at the start: expf(-inf) = 0
    m = s;
  } else {
    l += expf(s - m);
  }
}

// Merges two partial (max, sum) pairs into (m, l).
COMIX_HD void lse_merge(float& m, float& l, float m2, float l2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) { m = m2; l = l2; return; }
  if (m2 > m) { l = l * expf(m - m2) + l2; m = m2; }
  else        { l += l2 * expf(m2 - m); }
}

// Per-anchor results after the row statistics: a row is a valid anchor when it is active and
// has at least one positive. lse = log sum_{k != a} exp(s_ak), rowloss = lse - possum / npos.
struct SupconRow {
  float lse;      // 0 for invalid anchors (never used then)
  float inv_npos; // 1/|P(a)|, 0 for invalid anchors
  float rowloss;  // 0 for invalid anchors
  int valid;
};

COMIX_HD SupconRow supcon_finish_row(float m, float l, float possum, int64_t npos, bool active) {
  SupconRow r;
  r.valid = active && npos > 0 && l > 0.0f;
  if (!r.valid) { r.lse = 0.0f; r.inv_npos = 0.0f; r.rowloss = 0.0f; return r; }
  r.lse = m + logf(l);
  r.inv_npos = 1.0f / (float)npos;
  r.rowloss = r.lse - possum * r.inv_npos;
  return r;
}

// The gradient weight of the pair (a, k), k != a, both active, before the factor c = (tau/tau_b)/A
// and 1/tau:  G_ak + G_ka = (p_ak + p_ka) - [same label] (1/|P(a)| + 1/|P(k)|),
// with p_ak = exp(s_ak - lse_a) (0 when a is not a valid anchor). dz_a = c/tau sum_k W_ak z_k.
COMIX_HD float supcon_pair_weight(float s, const SupconRow& a, const SupconRow& k, bool positive) {
  float w = 0.0f;
  if (a.valid) w += expf(s - a.lse);
  if (k.valid) w += expf(s - k.lse);
  if (positive) w -= a.inv_npos + k.inv_npos;
  return w;
}

// F.normalize backward for one element: y = x / max(||x||, eps), dy given; dot = y.dy.
// inv = 1 / max(||x||, eps); when ||x|| > eps: dx = (dy - y * dot) * inv, else dx = dy * inv.
COMIX_HD float l2norm_backward(float dy, float y, float dot, float inv, bool clamped) {
  return clamped ? dy * inv : (dy - y * dot) * inv;
}

// ---- rows of logits (cross-entropy family); C is small (classes) ----

// softmax of one row into out (may alias nothing).
COMIX_HD void softmax_row(const float* x, int64_t C, float* out) {
  float m = -INFINITY;
  for (int64_t c = 0; c < C; ++c) m = x[c] > m ? x[c] : m;
  float s = 0.0f;
  for (int64_t c = 0; c < C; ++c) { out[c] = expf(x[c] - m); s += out[c]; }
  const float inv = 1.0f / s;
  for (int64_t c = 0; c < C; ++c) out[c] *= inv;
}

// dx = (acc ? dx : 0) + p * (g - sum p g)
COMIX_HD void softmax_backward_row(const float* p, const float* g, int64_t C, bool acc, float* dx) {
  float dot = 0.0f;
  for (int64_t c = 0; c < C; ++c) dot += p[c] * g[c];
  for (int64_t c = 0; c < C; ++c) {
    const float v = p[c] * (g[c] - dot);
    dx[c] = acc ? dx[c] + v : v;
  }
}

// Label-smoothed CE of one row: returns -sum_c y_c log softmax(x)_c with
// y = (1-eps) onehot(label) + eps/C; writes (acc ? grad : 0) + gscale * (softmax - y) if grad.
COMIX_HD float ce_smooth_row(const float* x, int64_t C, int64_t label, float eps, float gscale, bool acc,
                             float* grad) {
  float m = -INFINITY;
  for (int64_t c = 0; c < C; ++c) m = x[c] > m ? x[c] : m;
  float s = 0.0f;
  for (int64_t c = 0; c < C; ++c) s += expf(x[c] - m);
  const float lse = m + logf(s);
  const float off = eps / (float)C, on = 1.0f - eps + off;
  float loss = 0.0f;
  for (int64_t c = 0; c < C; ++c) {
    const float y = c == label ? on : off;
    loss -= y * (x[c] - lse);
    if (grad) {
      const float v = gscale * (expf(x[c] - lse) - y);
      grad[c] = acc ? grad[c] + v : v;
    }
  }
  return loss;
}

// Pseudo label of one row: softmax((a+b)/2), argmax (first maximum) and its probability.
COMIX_HD int64_t pseudo_label_row(const float* a, const float* b, int64_t C, float* conf) {
  float m = -INFINITY;
  int64_t arg = 0;
  for (int64_t c = 0; c < C; ++c) {
    const float f = 0.5f * (a[c] + b[c]);
    if (f > m) { m = f; arg = c; }
  }
  float s = 0.0f;
  for (int64_t c = 0; c < C; ++c) s += expf(0.5f * (a[c] + b[c]) - m);
  *conf = 1.0f / s;  // exp(m - m) / s
  return arg;
}

}  // namespace comix
#endif
