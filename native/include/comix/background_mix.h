/* Background mixing (CoMix section 3.2), fused with the uint8 -> [-1, 1] normalisation:
 *   out[b][f][i] = (1 - gamma) * (x[b][f][i] * 2/255 - 1) + gamma * (bg[b][i] * 2/255 - 1)
 * x: B videos of F frames of n elements (uint8), bg: one background of n elements per video,
 * broadcast over the F frames. out_dtype: COMIX_DTYPE_F32 or COMIX_DTYPE_BF16 (round to nearest
 * even). gamma = 0 gives plain normalisation. */
#ifndef COMIX_BACKGROUND_MIX_H
#define COMIX_BACKGROUND_MIX_H
#include "comix/common.h"

#ifdef __cplusplus
extern "C" {
#endif

int comix_background_mix_cpu(const uint8_t* x, const uint8_t* bg, int64_t B, int64_t F, int64_t n,
                             float gamma, int out_dtype, void* out, int threads);

/* CUDA: device pointers, asynchronous on stream (a cudaStream_t or NULL). */
int comix_background_mix_cuda(const uint8_t* x, const uint8_t* bg, int64_t B, int64_t F, int64_t n,
                              float gamma, int out_dtype, void* out, void* stream);

#ifdef __cplusplus
}
#endif
#endif
