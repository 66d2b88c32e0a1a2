/* Batched supervised-contrastive loss (SupCon, Khosla et al.; CoMix spec section 4.0) and its
 * unsupervised special case InfoNCE / NT-Xent, fused forward + backward.
 *
 * Rows. features hold N samples x V views of D values, flattened to M = N*V rows z_r with
 * r = v*N + n (all view-0 vectors first, as the original code's torch.cat(torch.unbind(f, 1))).
 * Memory layout: [N, V, D] (sample-major, the original's input) or, with
 * COMIX_SUPCON_VIEW_MAJOR, [V, N, D] (then row r is simply the r-th D-vector).
 * Row r has the label of sample n = r mod N: labels[n] (int64), or n itself when labels is NULL
 * (each sample its own class: InfoNCE / NT-Xent over the views).
 * mask (uint8 [N], optional): samples with mask 0 are removed entirely (neither anchors nor
 * contrast rows), exactly as if the call were made on the selected samples only.
 *
 * Loss. With s_ak = z_a.z_k / temperature over the active rows,
 *   P(a) = {p != a : label_p = label_a},  lse_a = log sum_{k != a} exp(s_ak),
 *   l_a  = lse_a - (1/|P(a)|) sum_{p in P(a)} s_ap,
 *   loss = (temperature / base_temperature) * mean over anchors a with |P(a)| > 0 of l_a.
 * Anchors without positives (possible only when V = 1) are left out of the mean (the original
 * code would give NaN); no anchor at all (everything masked) gives loss 0 and gradient 0.
 * COMIX_SUPCON_NORMALIZE first L2-normalises each row (x / max(||x||, 1e-12), F.normalize);
 * without it (the default, as CoMix) the raw vectors are used. The row-max shift of the original
 * is applied internally (online log-sum-exp) and does not change the value.
 *
 * Gradient. grad (same layout and size as features, may be NULL) receives
 *   grad = (accumulate ? grad : 0) + grad_scale * dloss/dfeatures
 * (COMIX_SUPCON_ACCUMULATE selects accumulate), zero on masked rows.
 *
 * All functions validate their arguments (COMIX_ERR_ARGUMENT: N < 1, V < 1, D < 1,
 * temperature or base_temperature <= 0 or not finite, null pointers). Non-finite features are
 * not detected here (the Java layer checks); they propagate as NaN. */
#ifndef COMIX_SUPCON_H
#define COMIX_SUPCON_H
#include "comix/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COMIX_SUPCON_NORMALIZE 1   /* L2-normalise rows first */
#define COMIX_SUPCON_VIEW_MAJOR 2  /* features (and grad) are [V, N, D] instead of [N, V, D] */
#define COMIX_SUPCON_ACCUMULATE 4  /* grad += grad_scale * dL/dF instead of grad = ... */
#define COMIX_SUPCON_TF32 8        /* CUDA tiled path, D >= 64: similarity tiles on TF32 tensor cores (inputs
                                      rounded to 10-bit mantissas, fp32 accumulation; tested to 2e-3 on the
                                      loss, 2e-2 on the gradient); ignored on the CPU and elsewhere (the
                                      GEMM path's cuBLAS calls are the caller's: CudaOps uses it there) */

/* CPU, float32 features; similarities in float32, every reduction (log-sum-exp, positive sums,
 * gradient over the M columns, the mean) accumulated in float64. *loss is written in float64.
 * threads <= 0: all hardware threads (small problems run on the calling thread). */
int comix_supcon_f32_cpu(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                         const uint8_t* mask, float temperature, float base_temperature, int flags,
                         float grad_scale, double* loss, float* grad, int threads);

/* CPU, float64 throughout (the reference path; also serves float64 .npy input). */
int comix_supcon_f64_cpu(const double* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                         const uint8_t* mask, double temperature, double base_temperature, int flags,
                         double grad_scale, double* loss, double* grad, int threads);

/* CUDA, device pointers, asynchronous on stream. loss: one float in device memory.
 * workspace: device memory of comix_supcon_cuda_workspace_bytes(N, V, D, flags) bytes (may be
 * NULL when that is 0). Paths: one single-block launch when the whole problem fits one block's
 * shared memory (CoMix's shapes: M = 32 rows of C <= 12 values); otherwise a tiled path
 * (row statistics, a one-block reduction, gradient; plus a normalisation launch with
 * COMIX_SUPCON_NORMALIZE) that never stores an M x M matrix in global memory. The JVM backend
 * (CudaOps) prefers the GEMM path below, with its products in cuBLAS, from M = 1024 rows. */
int64_t comix_supcon_cuda_workspace_bytes(int64_t N, int64_t V, int64_t D, int flags);
int comix_supcon_cuda(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                      const uint8_t* mask, float temperature, float base_temperature, int flags, float grad_scale,
                      float* loss, float* grad, void* workspace, int64_t workspace_bytes, void* stream);
/* Same, forcing a path: 0 = automatic, 1 = single block (COMIX_ERR_ARGUMENT if it does not fit),
 * 2 = tiled fused path, 3 = generic reference path (one warp per row, no tiling). For tests. */
int comix_supcon_cuda_path(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                           const uint8_t* mask, float temperature, float base_temperature, int flags,
                           float grad_scale, float* loss, float* grad, void* workspace, int64_t workspace_bytes,
                           void* stream, int path);

/* ---- GEMM path, in stages: the caller runs the three products in cuBLAS (dev.comix.runtime.CudaOps
 * does, for large M; there are no cuBLAS headers or libraries behind this library). All stages take
 * the workspace of comix_supcon_cuda_workspace_bytes and run asynchronously on stream, in this order:
 *
 *   gemm_prep                      rows gathered to Z = workspace + offset(part 0): [M, D] row-major
 *                                  floats, row r = v*N + n, L2-normalised with NORMALIZE, zero rows for
 *                                  masked samples; dZ = workspace + offset(part 1): [M, D], zeroed.
 *   for each block of rows [r0, r0 + b):
 *     (caller) S_blk = Z_blk Z^T / temperature      b x M floats, row stride ldS >= M
 *     gemm_rows(write_p = 1)       row statistics into the workspace, then S_blk overwritten by P_blk:
 *                                  P_ak = valid_a (exp(s_ak - lse_a) - [label_k = label_a] / |P(a)|)
 *                                  for active k != a, else 0 (valid_a: active, |P(a)| > 0)
 *     (caller) dZ_blk += P_blk Z;  dZ += P_blk^T Z_blk
 *   gemm_finish                    loss; grad = (accumulate ? grad : 0) + grad_scale * dL/dfeatures
 *                                  from dL/dz = (tau / tau_b) / (A tau) * dZ (and the normalisation
 *                                  backward), i.e. dZ = (P + P^T) Z.
 * When the whole of S is stored (b = M), the gradient can take one product instead of two:
 *   S = Z Z^T / tau; gemm_rows(0, M, write_p = 0); gemm_sym (S overwritten by W = P + P^T, computed
 *   elementwise from both rows' statistics); (caller) dZ = W Z; gemm_finish.
 * COMIX_SUPCON_TF32 is the caller's business here (its GEMM compute type). */
int64_t comix_supcon_cuda_workspace_offset(int64_t N, int64_t V, int64_t D, int flags, int part);
int comix_supcon_cuda_gemm_prep(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                                const uint8_t* mask, int flags, void* workspace, int64_t workspace_bytes,
                                void* stream);
int comix_supcon_cuda_gemm_rows(int64_t N, int64_t V, int64_t D, float* S, int64_t ldS, int64_t r0, int64_t rows,
                                int write_p, void* workspace, int64_t workspace_bytes, void* stream);
int comix_supcon_cuda_gemm_sym(int64_t N, int64_t V, int64_t D, float* S, int64_t ldS, void* workspace,
                               int64_t workspace_bytes, void* stream);
int comix_supcon_cuda_gemm_finish(int64_t N, int64_t V, int64_t D, float temperature, float base_temperature,
                                  int flags, float grad_scale, float* loss, float* grad, void* workspace,
                                  int64_t workspace_bytes, void* stream);

#ifdef __cplusplus
}
#endif
#endif
