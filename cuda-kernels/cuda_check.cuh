// Status plumbing for comix_cuda: every runtime call and launch is checked and mapped to a
// COMIX_* status; nothing here aborts the process.
#ifndef COMIX_CUDA_CHECK_CUH
#define COMIX_CUDA_CHECK_CUH
#include <cuda_runtime.h>
#include "comix/common.h"

#define COMIX_CUDA_TRY(expr)                                                     \
  do {                                                                           \
    cudaError_t comix_err_ = (expr);                                             \
    if (comix_err_ != cudaSuccess) {                                             \
      return comix_err_ == cudaErrorMemoryAllocation ? COMIX_ERR_OUT_OF_MEMORY   \
                                                     : COMIX_ERR_CUDA;           \
    }                                                                            \
  } while (0)

#define COMIX_CUDA_LAUNCHED() COMIX_CUDA_TRY(cudaGetLastError())

static inline int comix_grid_for(int64_t work, int per_block, int cap = 1 << 20) {
  int64_t g = (work + per_block - 1) / per_block;
  if (g < 1) g = 1;
  return (int)(g < cap ? g : cap);
}
#endif
