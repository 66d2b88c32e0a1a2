// Background mixing on the GPU; CPU reference: native/src/cpu/background_mix.cpp.
// Memory-bound: reads x once (1 byte/element), bg from L2, writes 4 (f32) or 2 (bf16) bytes per
// element. Vector path: a thread converts 16 consecutive bytes (one 16-byte load) and writes
// them with 16-byte stores.
#include <cuda_runtime.h>

#include "comix/background_mix.h"
#include "comix_math.cuh"
#include "cuda_check.cuh"

namespace {

template <int DT>
__device__ __forceinline__ void store16(void* out, int64_t idx, const float (&v)[16]) {
  if (DT == COMIX_DTYPE_F32) {
    float4* o = reinterpret_cast<float4*>(static_cast<float*>(out) + idx);
#pragma unroll
    for (int q = 0; q < 4; ++q) o[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
  } else {
    uint32_t p[8];
#pragma unroll
    for (int q = 0; q < 8; ++q)
      p[q] = (uint32_t)comix::f32_to_bf16(v[2 * q]) | ((uint32_t)comix::f32_to_bf16(v[2 * q + 1]) << 16);
    uint4* o = reinterpret_cast<uint4*>(static_cast<uint16_t*>(out) + idx);
    o[0] = make_uint4(p[0], p[1], p[2], p[3]);
    o[1] = make_uint4(p[4], p[5], p[6], p[7]);
  }
}

template <int DT>
__global__ void mix_vec16(const uint8_t* __restrict__ x, const uint8_t* __restrict__ bg, int64_t F, int64_t n,
                          int64_t total16, comix::MixCoeffs m, void* __restrict__ out) {
  const int64_t per_row = n / 16;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < total16; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = q / per_row, c = q % per_row;  // row = b*F + f
    const int64_t b = row / F;
    const uint4 xv = reinterpret_cast<const uint4*>(x)[q];
    const uint4 gv = __ldg(reinterpret_cast<const uint4*>(bg + b * n) + c);
    const uint32_t xw[4] = {xv.x, xv.y, xv.z, xv.w}, gw[4] = {gv.x, gv.y, gv.z, gv.w};
    float v[16];
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const uint8_t xb = (uint8_t)(xw[j / 4] >> (8 * (j % 4)));
      const uint8_t gb = (uint8_t)(gw[j / 4] >> (8 * (j % 4)));
      v[j] = comix::mix_value(m, xb, comix::mix_offset(m, gb));
    }
    store16<DT>(out, q * 16, v);
  }
}

template <int DT>
__global__ void mix_scalar(const uint8_t* __restrict__ x, const uint8_t* __restrict__ bg, int64_t F, int64_t n,
                           int64_t total, comix::MixCoeffs m, void* __restrict__ out) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / n, c = i % n;
    const float v = comix::mix_value(m, x[i], comix::mix_offset(m, bg[(row / F) * n + c]));
    if (DT == COMIX_DTYPE_F32) static_cast<float*>(out)[i] = v;
    else static_cast<uint16_t*>(out)[i] = comix::f32_to_bf16(v);
  }
}

template <int DT>
int launch(const uint8_t* x, const uint8_t* bg, int64_t B, int64_t F, int64_t n, float gamma, void* out, cudaStream_t s) {
  const comix::MixCoeffs m = comix::mix_coeffs(gamma);
  const int64_t total = B * F * n;
  const bool vec = n % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(bg) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(out) % 16 == 0;
  constexpr int threads = 256;
  if (vec) {
    mix_vec16<DT><<<comix_grid_for(total / 16, threads, 132 * 64), threads, 0, s>>>(x, bg, F, n, total / 16, m, out);
  } else {
    mix_scalar<DT><<<comix_grid_for(total, threads, 132 * 64), threads, 0, s>>>(x, bg, F, n, total, m, out);
  }
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

}  // namespace

extern "C" int comix_background_mix_cuda(const uint8_t* x, const uint8_t* bg, int64_t B, int64_t F, int64_t n,
                                         float gamma, int out_dtype, void* out, void* stream) {
  if (!x || !bg || !out || B < 0 || F < 0 || n < 0) return COMIX_ERR_ARGUMENT;
  if (!(gamma >= 0.0f && gamma <= 1.0f)) return COMIX_ERR_ARGUMENT;
  if (B == 0 || F == 0 || n == 0) return COMIX_OK;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (out_dtype == COMIX_DTYPE_F32) return launch<COMIX_DTYPE_F32>(x, bg, B, F, n, gamma, out, s);
  if (out_dtype == COMIX_DTYPE_BF16) return launch<COMIX_DTYPE_BF16>(x, bg, B, F, n, gamma, out, s);
  return COMIX_ERR_ARGUMENT;
}
