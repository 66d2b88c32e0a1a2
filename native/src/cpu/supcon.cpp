// Fused SupCon / InfoNCE forward + backward on the CPU; also the path every other backend is
// checked against (itself checked against a plain float64 oracle in tests/test_supcon_cpu.cpp).
//
// Plan (M active rows of D values, tau = temperature, c = (tau/tau_b)/A, A = valid anchors):
//   1. gather the active rows (normalised if asked) into two panel-packed copies of Z for the
//      micro-kernel (no row-major copy); group rows by label:
//      npos_a = V*count(label_a) - 1, and the per-label sums of z give, in O(M*D),
//        sum_{p in P(a)} s_ap = z_a.(S_label - z_a)/tau  and  sum_{p in P(a)} z_p = S_label - z_a,
//      so no label test is needed in the O(M^2) loops (labels of at most 8 rows, e.g. NT-Xent's
//      pairs, sum their other rows per anchor instead of building the per-label table).
//   When S fits (M^2 floats <= 2 GiB, the usual case):
//   2s. S = Z Z^T / tau, upper tiles only (S is symmetric), into a stored matrix; each tile's
//       row and column maxima and sums of exp(s - max) are taken while it is hot, so no pass
//       re-reads S for the statistics (and, for labels of at most 8 rows, each anchor's
//       similarities to its positives); then lse_a and the row loss (sums in float64).
//   3s. W_ak = p_ak + p_ka (p_ak = exp(s_ak - lse_a)) in place on the upper tiles (an off-diagonal
//       tile whose row and column maxima lie within 50 of its largest entry m already holds
//       e = exp(s - m) from 2s, so W = e (exp(m - lse_a) + exp(m - lse_k)): no exponential), and each
//       lower tile written as the transpose of its upper one, packed k-major (S is stored
//       tile-major, so every tile is one contiguous block).
//   4s. dZ = W Z by row blocks; a lower tile of W is read as the transpose of the upper one
//       (float per tile, float64 across tiles); then
//         dL/dz_a = c/tau [ sum_k W_ak z_k - 2/|P(a)| (S_label - z_a) ]
//       (the positive part of G_ak + G_ka is symmetric because rows of one label share |P|), and
//       the normalisation backward.
//       1.5 M^2 D multiply-adds; exponentials: one per upper entry, plus two more per entry of the
//       diagonal tiles (and of any tile that is not one-shift).
//   Otherwise no M x M matrix is stored:
//   2. pass 1, per block of 8 rows: S = Z_blk Z^T / tau tile by tile, online max / log-sum-exp per
//      row (sums in float64), then lse_a and the row loss.
//   3. pass 2, per block of 8 rows: recompute S and W, and dz_blk += W Z as in 4s.
//      3 M^2 D multiply-adds, M^2 (pass 1) + 2 M^2 (pass 2) exponentials.
#include <atomic>
#include <new>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <utility>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <vector>

#include "comix/supcon.h"
#include "parallel.h"
#include "supcon_math.cuh"

#define COMIX_ALWAYS_INLINE inline __attribute__((always_inline))

namespace {
template <class T>
struct Problem {
  const T* x;
  int64_t N, V, D;
  const int64_t* labels;
  const uint8_t* mask;
  double tau, tau_b;
  int flags;
  double gscale;
  T* grad;
};
}  // namespace

namespace supcon_base {
#include "supcon_impl.h"
}  // namespace supcon_base
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace supcon_avx2 {
#include "supcon_impl.h"
}  // namespace supcon_avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace supcon_avx512 {
#include "supcon_impl.h"
}  // namespace supcon_avx512
#pragma GCC pop_options
#endif

namespace {

template <class T>
int dispatch(const Problem<T>& p, double* loss, int threads) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const int isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
  }();
  if (isa == 2) return supcon_avx512::supcon_run(p, loss, threads);
  if (isa == 1) return supcon_avx2::supcon_run(p, loss, threads);
#endif
  return supcon_base::supcon_run(p, loss, threads);
}

template <class T>
int supcon_checked(const T* x, int64_t N, int64_t V, int64_t D, const int64_t* labels, const uint8_t* mask,
                   double tau, double tau_b, int flags, double gscale, double* loss, T* grad, int threads) {
  if (!x || !loss || N < 1 || V < 1 || D < 1) return COMIX_ERR_ARGUMENT;
  if (!(tau > 0.0) || !std::isfinite(tau) || !(tau_b > 0.0) || !std::isfinite(tau_b)) return COMIX_ERR_ARGUMENT;
  if (!std::isfinite(gscale)) return COMIX_ERR_ARGUMENT;
  if (flags & ~(COMIX_SUPCON_NORMALIZE | COMIX_SUPCON_VIEW_MAJOR | COMIX_SUPCON_ACCUMULATE | COMIX_SUPCON_TF32))
    return COMIX_ERR_ARGUMENT;
  Problem<T> p{x, N, V, D, labels, mask, tau, tau_b, flags, gscale, grad};
  try {
    return dispatch(p, loss, threads);
  } catch (const std::bad_alloc&) {
    return COMIX_ERR_OUT_OF_MEMORY;
  }
}

}  // namespace

extern "C" int comix_supcon_f32_cpu(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                                    const uint8_t* mask, float temperature, float base_temperature, int flags,
                                    float grad_scale, double* loss, float* grad, int threads) {
  return supcon_checked<float>(features, N, V, D, labels, mask, temperature, base_temperature, flags, grad_scale, loss,
                               grad, threads);
}

extern "C" int comix_supcon_f64_cpu(const double* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                                    const uint8_t* mask, double temperature, double base_temperature, int flags,
                                    double grad_scale, double* loss, double* grad, int threads) {
  return supcon_checked<double>(features, N, V, D, labels, mask, temperature, base_temperature, flags, grad_scale,
                                loss, grad, threads);
}
