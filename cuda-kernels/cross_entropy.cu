// Softmax, softmax backward, label-smoothed CE and pseudo labels on the GPU: one thread per row
// (rows are C <= a few hundred classes), one launch each. CPU reference:
// native/src/cpu/cross_entropy.cpp; the per-row math is shared (supcon_math.cuh).
#include <cuda_runtime.h>

#include "comix/cross_entropy.h"
#include "comix_math.cuh"
#include "cuda_check.cuh"
#include "supcon_math.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void softmax_kernel(const float* __restrict__ x, int64_t rows, int64_t C, float* __restrict__ out) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < rows; i += (int64_t)gridDim.x * blockDim.x)
    comix::softmax_row(x + i * C, C, out + i * C);
}

__global__ void softmax_backward_kernel(const float* __restrict__ p, const float* __restrict__ g, int64_t rows,
                                        int64_t C, bool acc, float* dx) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < rows; i += (int64_t)gridDim.x * blockDim.x)
    comix::softmax_backward_row(p + i * C, g + i * C, C, acc, dx + i * C);
}

// One block: each thread takes rows i = tid, tid + 256, ...; the row losses are summed in double.
__global__ void ce_smooth_kernel(const float* __restrict__ x, int64_t B, int64_t C, const int64_t* __restrict__ labels,
                                 float eps, float gscale, bool acc, float* loss, float* grad) {
  __shared__ double part[kThreads];
  double t = 0.0;
  for (int64_t i = threadIdx.x; i < B; i += blockDim.x)
    t += comix::ce_smooth_row(x + i * C, C, labels[i], eps, gscale, acc, grad ? grad + i * C : nullptr);
  part[threadIdx.x] = t;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss = (float)(part[0] / (double)B);
}

__global__ void pseudo_labels_kernel(const float* __restrict__ a, const float* __restrict__ b, int64_t B, int64_t C,
                                     float threshold, int64_t* labels, uint8_t* mask) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B; i += (int64_t)gridDim.x * blockDim.x) {
    float conf;
    labels[i] = comix::pseudo_label_row(a + i * C, b + i * C, C, &conf);
    mask[i] = conf >= threshold ? 1 : 0;
  }
}

}  // namespace

extern "C" int comix_softmax_cuda(const float* x, int64_t rows, int64_t C, float* out, void* stream) {
  if (!x || !out || rows < 0 || C < 1) return COMIX_ERR_ARGUMENT;
  if (rows == 0) return COMIX_OK;
  softmax_kernel<<<comix_grid_for(rows, kThreads, 4096), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, rows, C,
                                                                                                           out);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_softmax_backward_cuda(const float* p, const float* g, int64_t rows, int64_t C, int accumulate,
                                           float* dx, void* stream) {
  if (!p || !g || !dx || rows < 0 || C < 1) return COMIX_ERR_ARGUMENT;
  if (rows == 0) return COMIX_OK;
  softmax_backward_kernel<<<comix_grid_for(rows, kThreads, 4096), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      p, g, rows, C, accumulate != 0, dx);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_ce_smooth_cuda(const float* logits, int64_t B, int64_t C, const int64_t* labels, float eps,
                                    float grad_scale, int accumulate, float* loss, float* grad, void* stream) {
  if (!logits || !labels || !loss || B < 1 || C < 1 || !(eps >= 0.0f && eps <= 1.0f)) return COMIX_ERR_ARGUMENT;
  ce_smooth_kernel<<<1, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(logits, B, C, labels, eps,
                                                                          grad_scale / (float)B, accumulate != 0, loss,
                                                                          grad);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_pseudo_labels_cuda(const float* a, const float* b, int64_t B, int64_t C, float threshold,
                                        int64_t* labels, uint8_t* mask, void* stream) {
  if (!a || !b || !labels || !mask || B < 0 || C < 1) return COMIX_ERR_ARGUMENT;
  if (B == 0) return COMIX_OK;
  pseudo_labels_kernel<<<comix_grid_for(B, kThreads, 4096), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      a, b, B, C, threshold, labels, mask);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}
