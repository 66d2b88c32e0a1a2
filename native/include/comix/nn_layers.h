/* GPU path of the I3D layers (batch norm, ReLU, 3-D pooling, padding, casts, dropout, weight
 * reorders for cuDNN channels-last filters, NDHWC <-> NCDHW transposes). Implemented in
 * cuda-kernels/nn_layers.cu.
 *
 * Conventions.
 * - Activations are NDHWC (channels last): "rows" M = N*D*H*W, C innermost, element (r, c) at
 *   r*C + c. Activation element type: dtype = COMIX_DTYPE_F32 (0) or COMIX_DTYPE_BF16 (1).
 * - Statistics, parameters and parameter gradients are always float32; every reduction
 *   accumulates in float32 over at most 64 values per thread, then in float64.
 * - All pointers except the small host arrays of the pooling / padding shapes (kernel3,
 *   stride3, padFront3, front3, back3: 3 ints each, D/H/W order, host memory) are device
 *   pointers. Calls are asynchronous on `stream` (a cudaStream_t, NULL = legacy default stream).
 * - Every function returns COMIX_OK, COMIX_ERR_ARGUMENT (null pointer, pointer not aligned to
 *   its element size (activations 2 or 4 bytes, float arrays 4, workspaces 8), non-positive size,
 *   bad dtype or out-of-range parameter; nothing is launched) or COMIX_ERR_CUDA (a launch failed).
 * - Sizes may exceed 2^31 elements (64-bit indexing throughout).
 * - Reductions are deterministic (fixed order, no atomics): same input, same bits.
 * - Vector loads (16 bytes f32, 8 bytes bf16) are used where C % 4 == 0 and the pointers are
 *   aligned accordingly; otherwise a scalar path gives the same results. */
#ifndef COMIX_NN_LAYERS_H
#define COMIX_NN_LAYERS_H
#include <stddef.h>

#include "comix/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- batch norm (BatchNorm3d over NDHWC, statistics per channel over M rows) ---- */

/* Device workspace bytes for comix_nn_bn_stats_cuda (depends on M and C only). */
size_t comix_nn_bn_stats_workspace(int64_t M, int64_t C);
/* Batch mean and BIASED variance (divide by M) per channel of x [M, C]. Shifted sums: every
 * value is taken relative to row 0's value of its channel, so large means do not cancel.
 * mean, var: float [C]. ws: wsBytes >= comix_nn_bn_stats_workspace(M, C) device bytes. */
int comix_nn_bn_stats_cuda(const void* x, int dtype, int64_t M, int64_t C, float* mean, float* var, void* ws,
                           size_t wsBytes, void* stream);

/* y = (x - mean) / sqrt(var + eps) * gamma + beta, then max(y, 0) when relu != 0. y may alias x.
 * gamma / beta may be NULL (1 / 0). eps >= 0. */
int comix_nn_bn_forward_cuda(const void* x, int dtype, int64_t M, int64_t C, const float* mean, const float* var,
                             float eps, const float* gamma, const float* beta, int relu, void* y, void* stream);

/* running = (1 - momentum) * running + momentum * batch, with the unbiased variance
 * var * M / (M - 1) for runVar (PyTorch; M = 1 uses var itself). momentum in [0, 1], M >= 1. */
int comix_nn_bn_running_update_cuda(float* runMean, float* runVar, const float* mean, const float* var, int64_t C,
                                    double momentum, int64_t M, void* stream);

/* Device workspace bytes for comix_nn_bn_backward_cuda (depends on M and C only). */
size_t comix_nn_bn_backward_workspace(int64_t M, int64_t C);
/* Backward of comix_nn_bn_forward_cuda. y (nullable): the forward's output when the ReLU was
 * fused; then g = dy where y > 0, else 0; without y, g = dy. xhat = (x - mean) * invstd,
 * invstd = 1 / sqrt(var + eps).
 *   training = 1 (batch statistics were used): dx = gamma*invstd*(g - mean_M(g) - xhat*mean_M(g*xhat))
 *   training = 0 (running statistics were used): dx = g * gamma * invstd
 *   dgamma += sum_M g*xhat, dbeta += sum_M g   (ACCUMULATED into the float [C] outputs)
 * dx (nullable: no input gradient) is overwritten; it may alias dy or x (not y). dgamma, dbeta
 * nullable. gamma nullable (1). */
int comix_nn_bn_backward_cuda(const void* x, const void* y, const void* dy, int dtype, int64_t M, int64_t C,
                              const float* mean, const float* var, float eps, const float* gamma, int training,
                              void* dx, float* dgamma, float* dbeta, void* ws, size_t wsBytes, void* stream);

/* ---- ReLU ---- */
/* y = max(x, 0) over n elements (y may alias x). NaN stays NaN. */
int comix_nn_relu_forward_cuda(const void* x, int dtype, int64_t n, void* y, void* stream);
/* dx = dy where y > 0, else 0 (dx may alias dy). */
int comix_nn_relu_backward_cuda(const void* y, const void* dy, int dtype, int64_t n, void* dx, void* stream);

/* ---- 3-D pooling, NDHWC: x [N, D, H, W, C] -> y [N, OD, OH, OW, C] ----
 * Output o along a dimension covers input positions o*stride - padFront + k, k in [0, kernel).
 * mode 0 (max, pytorch-i3d MaxPool3dSamePadding): positions outside the input are zeros that
 *   take part in the max (F.pad with zeros, then an unpadded max pool); the first maximum in
 *   (kd, kh, kw) scan order wins (a NaN wins and propagates, as PyTorch). argmax (nullable,
 *   uint8 [N, OD, OH, OW, C]) receives its window index kd*kh*kw-order (kd*KH + kh)*KW + kw;
 *   KD*KH*KW <= 256 required. The backward sends dy to that position and drops it when the
 *   position is a padded zero.
 * mode 1 (average, nn.AvgPool3d without padding): padFront must be 0 and every window inside
 *   ((O-1)*stride + kernel <= size); y = window sum / (KD*KH*KW).
 * padFront3 in [0, kernel), OD/OH/OW >= 1; back padding is implied by the output size.
 * Outputs must not overlap inputs (pooling, padding, cropping, weight reorders). */
int comix_nn_pool3d_forward_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                                 const int* kernel3, const int* stride3, const int* padFront3, int64_t OD, int64_t OH,
                                 int64_t OW, int mode, void* y, uint8_t* argmax, void* stream);
/* dx [N, D, H, W, C] fully overwritten: each input element gathers, in output order, the dy of
 * the windows covering it (max: those whose argmax points at it). No atomics. argmax required
 * for mode 0, ignored for mode 1. */
int comix_nn_pool3d_backward_cuda(const void* dy, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                                  const int* kernel3, const int* stride3, const int* padFront3, int64_t OD, int64_t OH,
                                  int64_t OW, int mode, const uint8_t* argmax, void* dx, void* stream);

/* For tests: on != 0 makes the pooling kernels use their 64-bit index path at every size (they take
 * 32-bit indices when both tensors have at most 2^30 elements; the padding kernels always index
 * rows in 64 bits). Process-wide, not thread-safe. */
void comix_nn_test_wide_index(int on);

/* ---- zero padding of D, H, W and its backward ----
 * y [N, D+f0+b0, H+f1+b1, W+f2+b2, C] = x placed at offset (f0, f1, f2), zeros elsewhere. */
int comix_nn_pad5d_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                        const int* front3, const int* back3, void* y, void* stream);
/* dx [N, D, H, W, C] = interior of dyPadded [N, D+f0+b0, H+f1+b1, W+f2+b2, C]. */
int comix_nn_crop5d_cuda(const void* dyPadded, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                         const int* front3, const int* back3, void* dx, void* stream);
/* The same with the channels padded too (a small Cin made 16 bytes wide for tensor-core convs):
 * y [N, D+f0+b0, H+f1+b1, W+f2+b2, CP], CP >= C, zeros past channel C and outside; and dx = the
 * first C channels of the interior of dyPadded [.., CP]. Exact (bits copied). */
int comix_nn_pad5d_channels_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                                 int64_t CP, const int* front3, const int* back3, void* y, void* stream);
int comix_nn_crop5d_channels_cuda(const void* dyPadded, int dtype, int64_t N, int64_t D, int64_t H, int64_t W,
                                  int64_t C, int64_t CP, const int* front3, const int* back3, void* dx, void* stream);

/* ---- explicit im2col (a small-Cin conv run as one GEMM) ----
 * cols [N*OD*OH*OW, K] row-major, K = KD*KH*KW*C: row m = ((n*OD + od)*OH + oh)*OW + ow holds
 * x[n, od*sd + kd, oh*sh + kh, ow*sw + kw, c] at column ((kd*KH + kh)*KW + kw)*C + c (the NDHWC
 * filter's order). x [N, D, H, W, C] is already padded: every window must lie inside it, else
 * COMIX_ERR_ARGUMENT; also K <= 8192 and KD*H*W*C < 2^31 (32-bit window offsets). Exact (bits copied). */
int comix_nn_im2col3d_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                           const int* kernel3, const int* stride3, int64_t OD, int64_t OH, int64_t OW, void* cols,
                           void* stream);

/* ---- element type conversion, axpy ---- */
/* dst = src converted (f32 -> bf16 round to nearest even, NaN kept; bf16 -> f32 exact; same type:
 * device copy). src and dst must not overlap unless identical with equal types. */
int comix_nn_cast_cuda(const void* src, int srcDtype, void* dst, int dstDtype, int64_t n, void* stream);
/* y += a * x (y float32). */
int comix_nn_axpy_cuda(float a, const void* x, int dtype, float* y, int64_t n, void* stream);

/* ---- column sums (conv bias gradient) ----
 * out[c] = (accumulate ? out[c] : 0) + sum_M dy[r, c]. The workspace argument is an addition
 * to the original sketch: partial sums per row block make it deterministic without atomics. */
size_t comix_nn_channel_sum_workspace(int64_t M, int64_t C);
int comix_nn_channel_sum_cuda(const void* dy, int dtype, int64_t M, int64_t C, float* out, int accumulate, void* ws,
                              size_t wsBytes, void* stream);

/* ---- weight reorders for cuDNN channels-last (KRSC / NDHWC) filters ----
 * out[co, t, h, w, ci] = w[co, ci, t, h, w]  (w float32 in PyTorch order, out in dtype). */
int comix_nn_weight_to_krsc_cuda(const float* w, int64_t Cout, int64_t Cin, int64_t kT, int64_t kH, int64_t kW,
                                 void* out, int dtype, void* stream);
/* grad[co, ci, t, h, w] = (accumulate ? grad : 0) + g[co, t, h, w, ci]  (g in dtype). */
int comix_nn_weight_grad_from_krsc_cuda(const void* g, int dtype, int64_t Cout, int64_t Cin, int64_t kT, int64_t kH,
                                        int64_t kW, float* grad, int accumulate, void* stream);
/* The same with a KRSC filter of CinP >= Cin channels: to_krsc writes zeros to channels
 * Cin..CinP-1, from_krsc reads the first Cin of each CinP. */
int comix_nn_weight_to_krsc_padded_cuda(const float* w, int64_t Cout, int64_t Cin, int64_t CinP, int64_t kT,
                                        int64_t kH, int64_t kW, void* out, int dtype, void* stream);
int comix_nn_weight_grad_from_krsc_padded_cuda(const void* g, int dtype, int64_t Cout, int64_t Cin, int64_t CinP,
                                               int64_t kT, int64_t kH, int64_t kW, float* grad, int accumulate,
                                               void* stream);

/* ---- layout conversions for cuDNN's NCDHW convolutions ----
 * With S = D*H*W spatial positions per sample:
 *   comix_nn_ndhwc_to_ncdhw_cuda: y[n, c, s] = x[n, s, c]   (x [N, S, C], y [N, C, S])
 *   comix_nn_ncdhw_to_ndhwc_cuda: y[n, s, c] = x[n, c, s]   (x [N, C, S], y [N, S, C])
 * Exact for both dtypes (values are moved, never converted). N, S, C >= 1; x and y must not
 * overlap (x == y is rejected). Each element is read once and written once: 32x32 tiles through
 * shared memory, or whole rows when C or S is at most 16 (C = 3 of the RGB input); C == 1 or
 * S == 1 is a plain device copy (the two layouts are then the same bytes). */
int comix_nn_ndhwc_to_ncdhw_cuda(const void* x, int dtype, int64_t N, int64_t S, int64_t C, void* y, void* stream);
int comix_nn_ncdhw_to_ndhwc_cuda(const void* x, int dtype, int64_t N, int64_t S, int64_t C, void* y, void* stream);

/* ---- dropout (inverted) ----
 * Element i is kept iff u(seed, offset + i) >= p, with u the counter-based hash of
 * comix::dropout_uniform (cuda-kernels/nn_math.cuh: the same 24-bit uniform on host and device);
 * y = kept ? x / (1 - p) : 0; p == 1 gives zeros. mask (nullable) receives 1 (kept) or 0.
 * p in [0, 1]. y may alias x. */
int comix_nn_dropout_forward_cuda(const void* x, int dtype, int64_t n, float p, uint64_t seed, uint64_t offset,
                                  void* y, uint8_t* mask, void* stream);
/* dx = mask ? dy / (1 - p) : 0 (dx may alias dy). */
int comix_nn_dropout_backward_cuda(const void* dy, int dtype, int64_t n, float p, const uint8_t* mask, void* dx,
                                   void* stream);

#ifdef __cplusplus
}
#endif
#endif
