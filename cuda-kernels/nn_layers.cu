// GPU path of the I3D layers over NDHWC activations (see native/include/comix/nn_layers.h).
// Every kernel here is memory-bound; the shapes of the work:
// - "row" kernels (batch norm, channel sums): a block is cw channel-lanes x rw rows (cw*rw <= 256);
//   a lane owns V consecutive channels (V = 4: one 16-byte f32 or 8-byte bf16 load per row), so
//   per-channel constants live in registers and, when one block spans all C channels, a block
//   reads one contiguous stretch of memory. Blocks along y take contiguous row ranges.
// - reductions write float64 partial sums per (channel, row block) into the workspace and a
//   second kernel adds them in a fixed order: deterministic, no atomics. Inside a thread, runs of
//   at most kChunk values are summed in float32, then added in float64.
// - pooling, padding: one thread per (output or input position, channel-lane), grid-stride.
// - element-wise ops: grid-stride over 4-element vectors, scalar tail.
// bf16 values are handled as their 16-bit patterns (uint16_t) and converted with cuda_bf16.h.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "comix/nn_layers.h"
#include "cuda_check.cuh"
#include "nn_math.cuh"

namespace {

using bf16bits = uint16_t;
constexpr int kThreads = 256;
constexpr int kChunk = 64;          // values per float32 partial before it is added in float64
constexpr int64_t kMaxRedBlocks = 1024;  // row blocks of a reduction (workspace: C * this * 16 bytes)

// ---- element load / store, templated on the storage type (float or bf16 bits) ----
__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(bf16bits v) { return __uint_as_float((uint32_t)v << 16); }
template <class T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) { return v; }
template <>
__device__ __forceinline__ bf16bits from_f<bf16bits>(float v) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }

// V consecutive elements at p; V == 4 needs p aligned to 4 elements.
template <class T, int V>
__device__ __forceinline__ void ldv(const T* p, float (&v)[V]) {
  if constexpr (V == 1) {
    v[0] = to_f(p[0]);
  } else if constexpr (std::is_same<T, float>::value) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
  } else {
    const uint2 q = *reinterpret_cast<const uint2*>(p);
    v[0] = __uint_as_float(q.x << 16); v[1] = __uint_as_float(q.x & 0xffff0000u);
    v[2] = __uint_as_float(q.y << 16); v[3] = __uint_as_float(q.y & 0xffff0000u);
  }
}

template <class T, int V>
__device__ __forceinline__ void stv(T* p, const float (&v)[V]) {
  if constexpr (V == 1) {
    p[0] = from_f<T>(v[0]);
  } else if constexpr (std::is_same<T, float>::value) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    uint2 q;
    q.x = (uint32_t)from_f<T>(v[0]) | ((uint32_t)from_f<T>(v[1]) << 16);
    q.y = (uint32_t)from_f<T>(v[2]) | ((uint32_t)from_f<T>(v[3]) << 16);
    *reinterpret_cast<uint2*>(p) = q;
  }
}

template <int V>
__device__ __forceinline__ void ldmask(const uint8_t* p, uint8_t (&m)[V]) {
  if constexpr (V == 1) {
    m[0] = p[0];
  } else {
    const uchar4 q = *reinterpret_cast<const uchar4*>(p);
    m[0] = q.x; m[1] = q.y; m[2] = q.z; m[3] = q.w;
  }
}

template <int V>
__device__ __forceinline__ void stmask(uint8_t* p, const uint8_t (&m)[V]) {
  if constexpr (V == 1) p[0] = m[0];
  else *reinterpret_cast<uchar4*>(p) = make_uchar4(m[0], m[1], m[2], m[3]);
}

bool aligned(const void* p, size_t bytes) { return p == nullptr || ((uintptr_t)p % bytes) == 0; }
bool dtype_ok(int d) { return d == COMIX_DTYPE_F32 || d == COMIX_DTYPE_BF16; }
size_t esize(int d) { return d == COMIX_DTYPE_F32 ? 4 : 2; }
// Element alignment (a misaligned device access would fault and poison the context): activations
// aligned to their element size, float32 arrays to 4 bytes. NULL passes (checked separately).
bool el(const void* p, int d) { return aligned(p, esize(d)); }
bool f4(const void* p) { return aligned(p, 4); }
cudaStream_t S(void* s) { return static_cast<cudaStream_t>(s); }

// ---- row-kernel geometry ----
struct RowPlan {
  int V;
  int64_t L;        // channel lanes = C / V
  int cw, rw;       // block = cw lanes x rw rows
  int64_t gx, G;    // grid: lane groups x row blocks
  int64_t rowsPer;  // rows per row block
};

RowPlan row_plan(int64_t M, int64_t C, bool vec, int64_t G) {
  RowPlan p;
  p.V = vec ? 4 : 1;
  p.L = C / p.V;
  p.cw = (int)(p.L < kThreads ? p.L : kThreads);
  p.rw = kThreads / p.cw;
  p.gx = (p.L + p.cw - 1) / p.cw;
  p.G = G < 1 ? 1 : (G > M ? M : G);
  p.rowsPer = (M + p.G - 1) / p.G;
  p.G = (M + p.rowsPer - 1) / p.rowsPer;  // no empty trailing block
  return p;
}

int64_t red_blocks(int64_t M) {
  const int64_t g = (M + 127) / 128;
  return g < 1 ? 1 : (g > kMaxRedBlocks ? kMaxRedBlocks : g);
}

int64_t ew_blocks(int64_t M, int rw) {
  const int64_t g = (M + (int64_t)rw * 8 - 1) / ((int64_t)rw * 8);
  return g > 65535 ? 65535 : g;
}

// ---- column reductions: MODE 0 batch statistics (x - x[0, c], its square), 1 batch-norm
// backward (g, g * xhat), 2 plain column sums ----
template <class T, int V, int MODE>
__global__ void __launch_bounds__(kThreads) rowred_kernel(const T* x, const T* y, const T* dy, int64_t M, int64_t C,
                                                          int64_t L, int cw, int rw, int64_t rowsPer, int64_t G,
                                                          const float* mean, const float* var, float eps,
                                                          double* part) {
  __shared__ double sa[kThreads * V], sb[kThreads * V];
  const int tid = threadIdx.x, lane = tid % cw, ry = tid / cw;
  const int64_t cv = (int64_t)blockIdx.x * cw + lane;
  const bool active = ry < rw && cv < L;
  const int64_t c0 = cv * V, start = (int64_t)blockIdx.y * rowsPer;
  const int64_t end = start + rowsPer < M ? start + rowsPer : M;
  double A[V], B[V];
  float K[V], mu[V], is[V];
#pragma unroll
  for (int j = 0; j < V; ++j) A[j] = B[j] = 0.0, K[j] = mu[j] = 0.0f, is[j] = 1.0f;
  if (active) {
    if (MODE == 0) ldv<T, V>(x + c0, K);
    if (MODE == 1)
#pragma unroll
      for (int j = 0; j < V; ++j) mu[j] = mean[c0 + j], is[j] = 1.0f / sqrtf(var[c0 + j] + eps);
    for (int64_t r = start + ry; r < end;) {
      float a[V], b[V];
#pragma unroll
      for (int j = 0; j < V; ++j) a[j] = b[j] = 0.0f;
      for (int k = 0; k < kChunk && r < end; ++k, r += rw) {
        const int64_t off = r * C + c0;
        if (MODE == 0) {
          float v[V];
          ldv<T, V>(x + off, v);
#pragma unroll
          for (int j = 0; j < V; ++j) {
            const float d = v[j] - K[j];
            a[j] += d;
            b[j] = fmaf(d, d, b[j]);
          }
        } else if (MODE == 1) {
          float v[V], g[V];
          ldv<T, V>(x + off, v);
          ldv<T, V>(dy + off, g);
          if (y != nullptr) {
            float yy[V];
            ldv<T, V>(y + off, yy);
#pragma unroll
            for (int j = 0; j < V; ++j) g[j] = yy[j] > 0.0f ? g[j] : 0.0f;
          }
#pragma unroll
          for (int j = 0; j < V; ++j) {
            a[j] += g[j];
            b[j] = fmaf(g[j], (v[j] - mu[j]) * is[j], b[j]);
          }
        } else {
          float g[V];
          ldv<T, V>(dy + off, g);
#pragma unroll
          for (int j = 0; j < V; ++j) a[j] += g[j];
        }
      }
#pragma unroll
      for (int j = 0; j < V; ++j) A[j] += a[j], B[j] += b[j];
    }
  }
#pragma unroll
  for (int j = 0; j < V; ++j) sa[tid * V + j] = A[j], sb[tid * V + j] = B[j];
  __syncthreads();
  if (ry == 0 && active) {
    for (int k = 1; k < rw; ++k)
#pragma unroll
      for (int j = 0; j < V; ++j) A[j] += sa[(k * cw + lane) * V + j], B[j] += sb[(k * cw + lane) * V + j];
#pragma unroll
    for (int j = 0; j < V; ++j) {
      double* o = part + ((c0 + j) * G + blockIdx.y) * 2;
      o[0] = A[j];
      o[1] = B[j];
    }
  }
}

// One block per channel: adds the G partials in a fixed order (strided, then a tree).
template <class T, int MODE>
__global__ void __launch_bounds__(kThreads) rowred_finish_kernel(const double* part, int64_t G, int64_t M, int64_t C,
                                                                 const T* x, float* out0, float* out1, double* sums,
                                                                 int accumulate) {
  __shared__ double sa[kThreads], sb[kThreads];
  const int64_t c = blockIdx.x;
  double a = 0.0, b = 0.0;
  for (int64_t g = threadIdx.x; g < G; g += kThreads) a += part[(c * G + g) * 2], b += part[(c * G + g) * 2 + 1];
  sa[threadIdx.x] = a;
  sb[threadIdx.x] = b;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) sa[threadIdx.x] += sa[threadIdx.x + s], sb[threadIdx.x] += sb[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  a = sa[0];
  b = sb[0];
  if (MODE == 0) {
    const double d = a / (double)M, v = b / (double)M - d * d;
    out0[c] = (float)((double)to_f(x[c]) + d);
    out1[c] = (float)(v > 0.0 ? v : 0.0);
  } else if (MODE == 1) {
    sums[c * 2] = a;
    sums[c * 2 + 1] = b;
    if (out0 != nullptr) out0[c] = (float)((double)out0[c] + b);  // dgamma += sum g*xhat
    if (out1 != nullptr) out1[c] = (float)((double)out1[c] + a);  // dbeta += sum g
  } else {
    out0[c] = (float)((accumulate ? (double)out0[c] : 0.0) + a);
  }
}

template <class T, int MODE>
int rowred(const T* x, const T* y, const T* dy, int64_t M, int64_t C, const float* mean, const float* var, float eps,
           double* part, float* out0, float* out1, double* sums, int accumulate, cudaStream_t s) {
  const void* p0 = MODE == 2 ? (const void*)dy : (const void*)x;
  const bool vec = C % 4 == 0 && aligned(p0, 4 * sizeof(T)) && aligned(y, 4 * sizeof(T)) &&
                   aligned(MODE == 1 ? (const void*)dy : nullptr, 4 * sizeof(T));
  const RowPlan p = row_plan(M, C, vec, red_blocks(M));
  const dim3 grid((unsigned)p.gx, (unsigned)p.G);
  if (vec)
    rowred_kernel<T, 4, MODE><<<grid, kThreads, 0, s>>>(x, y, dy, M, C, p.L, p.cw, p.rw, p.rowsPer, p.G, mean, var,
                                                         eps, part);
  else
    rowred_kernel<T, 1, MODE><<<grid, kThreads, 0, s>>>(x, y, dy, M, C, p.L, p.cw, p.rw, p.rowsPer, p.G, mean, var,
                                                         eps, part);
  COMIX_CUDA_LAUNCHED();
  rowred_finish_kernel<T, MODE><<<(unsigned)C, kThreads, 0, s>>>(part, p.G, M, C, x, out0, out1, sums, accumulate);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

size_t part_bytes(int64_t M, int64_t C) { return (size_t)(C * red_blocks(M) * 2) * sizeof(double); }

// ---- batch-norm element-wise passes ----
template <class T, int V>
__global__ void __launch_bounds__(kThreads) bn_fwd_kernel(const T* x, T* y, int64_t M, int64_t C, int64_t L, int cw,
                                                          int rw, int64_t rowsPer, const float* mean, const float* var,
                                                          float eps, const float* gamma, const float* beta,
                                                          int relu) {
  const int tid = threadIdx.x, lane = tid % cw, ry = tid / cw;
  const int64_t cv = (int64_t)blockIdx.x * cw + lane;
  if (ry >= rw || cv >= L) return;
  const int64_t c0 = cv * V, start = (int64_t)blockIdx.y * rowsPer;
  const int64_t end = start + rowsPer < M ? start + rowsPer : M;
  float mu[V], sc[V], sh[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    mu[j] = mean[c0 + j];
    sc[j] = (gamma ? gamma[c0 + j] : 1.0f) / sqrtf(var[c0 + j] + eps);
    sh[j] = beta ? beta[c0 + j] : 0.0f;
  }
  for (int64_t r = start + ry; r < end; r += rw) {
    const int64_t off = r * C + c0;
    float v[V];
    ldv<T, V>(x + off, v);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float o = fmaf(v[j] - mu[j], sc[j], sh[j]);
      v[j] = relu && o < 0.0f ? 0.0f : o;
    }
    stv<T, V>(y + off, v);
  }
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads) bn_bwd_dx_kernel(const T* x, const T* y, const T* dy, T* dx, int64_t M,
                                                             int64_t C, int64_t L, int cw, int rw, int64_t rowsPer,
                                                             const float* mean, const float* var, float eps,
                                                             const float* gamma, const double* sums) {
  const int tid = threadIdx.x, lane = tid % cw, ry = tid / cw;
  const int64_t cv = (int64_t)blockIdx.x * cw + lane;
  if (ry >= rw || cv >= L) return;
  const int64_t c0 = cv * V, start = (int64_t)blockIdx.y * rowsPer;
  const int64_t end = start + rowsPer < M ? start + rowsPer : M;
  float mu[V], is[V], k1[V], mg[V], mgx[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    mu[j] = mean[c0 + j];
    is[j] = 1.0f / sqrtf(var[c0 + j] + eps);
    k1[j] = (gamma ? gamma[c0 + j] : 1.0f) * is[j];
    mg[j] = sums ? (float)(sums[(c0 + j) * 2] / (double)M) : 0.0f;
    mgx[j] = sums ? (float)(sums[(c0 + j) * 2 + 1] / (double)M) : 0.0f;
  }
  for (int64_t r = start + ry; r < end; r += rw) {
    const int64_t off = r * C + c0;
    float g[V], v[V];
    ldv<T, V>(dy + off, g);
    if (y != nullptr) {
      float yy[V];
      ldv<T, V>(y + off, yy);
#pragma unroll
      for (int j = 0; j < V; ++j) g[j] = yy[j] > 0.0f ? g[j] : 0.0f;
    }
    if (sums != nullptr) {
      ldv<T, V>(x + off, v);
#pragma unroll
      for (int j = 0; j < V; ++j) g[j] = k1[j] * (g[j] - mg[j] - (v[j] - mu[j]) * is[j] * mgx[j]);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) g[j] *= k1[j];
    }
    stv<T, V>(dx + off, g);
  }
}

template <class T>
int bn_forward(const T* x, int64_t M, int64_t C, const float* mean, const float* var, float eps, const float* gamma,
               const float* beta, int relu, T* y, cudaStream_t s) {
  const bool vec = C % 4 == 0 && aligned(x, 4 * sizeof(T)) && aligned(y, 4 * sizeof(T));
  RowPlan p = row_plan(M, C, vec, 1);
  p = row_plan(M, C, vec, ew_blocks(M, p.rw));
  const dim3 grid((unsigned)p.gx, (unsigned)p.G);
  if (vec)
    bn_fwd_kernel<T, 4><<<grid, kThreads, 0, s>>>(x, y, M, C, p.L, p.cw, p.rw, p.rowsPer, mean, var, eps, gamma, beta,
                                                  relu);
  else
    bn_fwd_kernel<T, 1><<<grid, kThreads, 0, s>>>(x, y, M, C, p.L, p.cw, p.rw, p.rowsPer, mean, var, eps, gamma, beta,
                                                  relu);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

template <class T>
int bn_backward(const T* x, const T* y, const T* dy, int64_t M, int64_t C, const float* mean, const float* var,
                float eps, const float* gamma, int training, T* dx, float* dgamma, float* dbeta, void* ws,
                cudaStream_t s) {
  double* part = static_cast<double*>(ws);
  double* sums = part + C * red_blocks(M) * 2;
  if (training || dgamma || dbeta) {
    const int st = rowred<T, 1>(x, y, dy, M, C, mean, var, eps, part, dgamma, dbeta, sums, 0, s);
    if (st != COMIX_OK) return st;
  }
  if (dx == nullptr) return COMIX_OK;
  const bool vec = C % 4 == 0 && aligned(x, 4 * sizeof(T)) && aligned(y, 4 * sizeof(T)) &&
                   aligned(dy, 4 * sizeof(T)) && aligned(dx, 4 * sizeof(T));
  RowPlan p = row_plan(M, C, vec, 1);
  p = row_plan(M, C, vec, ew_blocks(M, p.rw));
  const dim3 grid((unsigned)p.gx, (unsigned)p.G);
  const double* sm = training ? sums : nullptr;
  if (vec)
    bn_bwd_dx_kernel<T, 4><<<grid, kThreads, 0, s>>>(x, y, dy, dx, M, C, p.L, p.cw, p.rw, p.rowsPer, mean, var, eps,
                                                     gamma, sm);
  else
    bn_bwd_dx_kernel<T, 1><<<grid, kThreads, 0, s>>>(x, y, dy, dx, M, C, p.L, p.cw, p.rw, p.rowsPer, mean, var, eps,
                                                     gamma, sm);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

__global__ void bn_running_kernel(float* rm, float* rv, const float* mean, const float* var, int64_t C, double m,
                                  double unbias) {
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    rm[c] = (float)((1.0 - m) * (double)rm[c] + m * (double)mean[c]);
    rv[c] = (float)((1.0 - m) * (double)rv[c] + m * (double)var[c] * unbias);
  }
}

// ---- element-wise ops: grid-stride over 4-vectors (when vec), then a scalar tail ----
template <class F>
__global__ void __launch_bounds__(kThreads) ew_kernel(F f, int64_t n, int vec) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
  int64_t done = 0;
  if (vec) {
    const int64_t nv = n / 4;
    for (int64_t q = t; q < nv; q += stride) f.template run<4>(q * 4);
    done = nv * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) f.template run<1>(i);
}

template <class F>
int launch_ew(const F& f, int64_t n, bool vec, cudaStream_t s) {
  ew_kernel<F><<<comix_grid_for(vec ? n / 4 + 1 : n, kThreads, 1 << 16), kThreads, 0, s>>>(f, n, vec ? 1 : 0);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

template <class T>
struct ReluFwd {
  const T* x;
  T* y;
  template <int V>
  __device__ void run(int64_t i) const {
    float v[V];
    ldv<T, V>(x + i, v);
#pragma unroll
    for (int j = 0; j < V; ++j) v[j] = v[j] < 0.0f ? 0.0f : v[j];
    stv<T, V>(y + i, v);
  }
};

template <class T>
struct ReluBwd {
  const T* y;
  const T* dy;
  T* dx;
  template <int V>
  __device__ void run(int64_t i) const {
    float a[V], g[V];
    ldv<T, V>(y + i, a);
    ldv<T, V>(dy + i, g);
#pragma unroll
    for (int j = 0; j < V; ++j) g[j] = a[j] > 0.0f ? g[j] : 0.0f;
    stv<T, V>(dx + i, g);
  }
};

template <class Src, class Dst>
struct Cast {
  const Src* src;
  Dst* dst;
  template <int V>
  __device__ void run(int64_t i) const {
    float v[V];
    ldv<Src, V>(src + i, v);
    stv<Dst, V>(dst + i, v);
  }
};

template <class T>
struct Axpy {
  float a;
  const T* x;
  float* y;
  template <int V>
  __device__ void run(int64_t i) const {
    float v[V], o[V];
    ldv<T, V>(x + i, v);
    ldv<float, V>(y + i, o);
#pragma unroll
    for (int j = 0; j < V; ++j) o[j] = fmaf(a, v[j], o[j]);
    stv<float, V>(y + i, o);
  }
};

template <class T>
struct DropoutFwd {
  const T* x;
  T* y;
  uint8_t* mask;
  float p, scale;
  uint64_t seed, offset;
  template <int V>
  __device__ void run(int64_t i) const {
    float v[V];
    uint8_t m[V];
    ldv<T, V>(x + i, v);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      m[j] = comix::dropout_uniform(seed, offset + (uint64_t)(i + j)) >= p ? 1 : 0;
      v[j] = m[j] ? v[j] * scale : 0.0f;
    }
    stv<T, V>(y + i, v);
    if (mask != nullptr) stmask<V>(mask + i, m);
  }
};

template <class T>
struct DropoutBwd {
  const T* dy;
  const uint8_t* mask;
  T* dx;
  float scale;
  template <int V>
  __device__ void run(int64_t i) const {
    float v[V];
    uint8_t m[V];
    ldv<T, V>(dy + i, v);
    ldmask<V>(mask + i, m);
#pragma unroll
    for (int j = 0; j < V; ++j) v[j] = m[j] ? v[j] * scale : 0.0f;
    stv<T, V>(dx + i, v);
  }
};

// comix_nn_test_wide_index: the pool and pad kernels take their 64-bit index path at every size (tests)
bool g_wide_index = false;

// The coordinates of a flat index over [N, A0, A1, A2, L] (L channel lanes innermost).
template <class I>
struct Coord5 {
  I n, a0, a1, a2, lv;
};

template <class I>
__device__ __forceinline__ Coord5<I> decode5(I idx, I L, I A0, I A1, I A2) {
  Coord5<I> c;
  I p = idx / L;
  c.lv = idx - p * L;
  c.a2 = p % A2;
  p /= A2;
  c.a1 = p % A1;
  p /= A1;
  c.a0 = p % A0;
  c.n = p / A0;
  return c;
}

// ---- pooling ----
struct PoolGeom {
  int64_t N, D, H, W, C, L, OD, OH, OW;
  int kd, kh, kw, sd, sh, sw, pd, ph, pw;
};

// Index arithmetic in I: int32_t when every offset fits (pool_launch checks), else int64_t. The
// 64-bit divisions of the coordinate decode cost tens of instructions each on the GPU and these
// kernels do little else per element.
template <class T, int V, int MODE, class I>
__global__ void __launch_bounds__(kThreads) pool_fwd_kernel(const T* __restrict__ x, T* __restrict__ y,
                                                            uint8_t* __restrict__ am, PoolGeom g, int64_t total) {
  const float inv = 1.0f / (float)(g.kd * g.kh * g.kw);
  const I L = (I)g.L, C = (I)g.C, D = (I)g.D, H = (I)g.H, W = (I)g.W, OD = (I)g.OD, OH = (I)g.OH, OW = (I)g.OW;
  for (I idx = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; idx < (I)total; idx += (I)gridDim.x * (I)blockDim.x) {
    const Coord5<I> c = decode5<I>(idx, L, OD, OH, OW);
    const I n = c.n, lv = c.lv;
    const I d0 = c.a0 * g.sd - g.pd, h0 = c.a1 * g.sh - g.ph, w0 = c.a2 * g.sw - g.pw;
    float best[V];
    uint8_t bi[V];
#pragma unroll
    for (int j = 0; j < V; ++j) best[j] = MODE == 0 ? -INFINITY : 0.0f, bi[j] = 0;
    int widx = 0;
    for (int a = 0; a < g.kd; ++a) {
      const I id = d0 + a;
      const bool ind = id >= 0 && id < D;
      for (int b = 0; b < g.kh; ++b) {
        const I ih = h0 + b;
        const bool inh = ind && ih >= 0 && ih < H;
        for (int e = 0; e < g.kw; ++e, ++widx) {
          const I iw = w0 + e;
          float v[V];
          if (inh && iw >= 0 && iw < W) {
            ldv<T, V>(x + (((n * D + id) * H + ih) * W + iw) * C + lv * V, v);
          } else {
#pragma unroll
            for (int j = 0; j < V; ++j) v[j] = 0.0f;  // padded zero (max); never reached for average
          }
#pragma unroll
          for (int j = 0; j < V; ++j) {
            if (MODE == 0) {
              if (v[j] > best[j] || isnan(v[j])) best[j] = v[j], bi[j] = (uint8_t)widx;
            } else {
              best[j] += v[j];
            }
          }
        }
      }
    }
    if (MODE == 1)
#pragma unroll
      for (int j = 0; j < V; ++j) best[j] *= inv;
    stv<T, V>(y + idx * V, best);
    if (MODE == 0 && am != nullptr) stmask<V>(am + idx * V, bi);
  }
}

// first output o along one dimension whose window covers input i (window: o*s - pad + [0, k))
template <class I>
__device__ __forceinline__ I first_cover(I i, int k, int s, int pad) {
  const I num = i + pad - k + 1;
  return num <= 0 ? 0 : (num + s - 1) / s;
}

template <class T, int V, int MODE, class I>
__global__ void __launch_bounds__(kThreads) pool_bwd_kernel(const T* __restrict__ dy, const uint8_t* __restrict__ am,
                                                            T* __restrict__ dx, PoolGeom g, int64_t total) {
  const float inv = 1.0f / (float)(g.kd * g.kh * g.kw);
  const I L = (I)g.L, C = (I)g.C, D = (I)g.D, H = (I)g.H, W = (I)g.W, OD = (I)g.OD, OH = (I)g.OH, OW = (I)g.OW;
  for (I idx = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; idx < (I)total; idx += (I)gridDim.x * (I)blockDim.x) {
    const Coord5<I> c = decode5<I>(idx, L, D, H, W);
    const I n = c.n, lv = c.lv, id = c.a0, ih = c.a1, iw = c.a2;
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = 0.0f;
    const I dlo = first_cover<I>(id, g.kd, g.sd, g.pd), hlo = first_cover<I>(ih, g.kh, g.sh, g.ph),
            wlo = first_cover<I>(iw, g.kw, g.sw, g.pw);
    I dhi = (id + g.pd) / g.sd, hhi = (ih + g.ph) / g.sh, whi = (iw + g.pw) / g.sw;
    dhi = dhi < OD - 1 ? dhi : OD - 1;
    hhi = hhi < OH - 1 ? hhi : OH - 1;
    whi = whi < OW - 1 ? whi : OW - 1;
    for (I od = dlo; od <= dhi; ++od) {
      const int a = (int)(id - (od * g.sd - g.pd));
      for (I oh = hlo; oh <= hhi; ++oh) {
        const int b = (int)(ih - (oh * g.sh - g.ph));
        for (I ow = wlo; ow <= whi; ++ow) {
          const int e = (int)(iw - (ow * g.sw - g.pw));
          const I o = (((n * OD + od) * OH + oh) * OW + ow) * C + lv * V;
          float v[V];
          ldv<T, V>(dy + o, v);
          if (MODE == 0) {
            uint8_t m[V];
            ldmask<V>(am + o, m);
            const int w = (a * g.kh + b) * g.kw + e;
#pragma unroll
            for (int j = 0; j < V; ++j) acc[j] += m[j] == w ? v[j] : 0.0f;
          } else {
#pragma unroll
            for (int j = 0; j < V; ++j) acc[j] = fmaf(v[j], inv, acc[j]);
          }
        }
      }
    }
    stv<T, V>(dx + idx * V, acc);
  }
}

template <class T, class I>
void pool_kernels(bool fwd, bool vec, int mode, const T* src, T* dst, uint8_t* am, const uint8_t* amc, PoolGeom g,
                  int64_t total, int blocks, cudaStream_t s) {
  if (fwd) {
    if (vec && mode == 0) pool_fwd_kernel<T, 4, 0, I><<<blocks, kThreads, 0, s>>>(src, dst, am, g, total);
    else if (vec) pool_fwd_kernel<T, 4, 1, I><<<blocks, kThreads, 0, s>>>(src, dst, am, g, total);
    else if (mode == 0) pool_fwd_kernel<T, 1, 0, I><<<blocks, kThreads, 0, s>>>(src, dst, am, g, total);
    else pool_fwd_kernel<T, 1, 1, I><<<blocks, kThreads, 0, s>>>(src, dst, am, g, total);
  } else {
    if (vec && mode == 0) pool_bwd_kernel<T, 4, 0, I><<<blocks, kThreads, 0, s>>>(src, amc, dst, g, total);
    else if (vec) pool_bwd_kernel<T, 4, 1, I><<<blocks, kThreads, 0, s>>>(src, amc, dst, g, total);
    else if (mode == 0) pool_bwd_kernel<T, 1, 0, I><<<blocks, kThreads, 0, s>>>(src, amc, dst, g, total);
    else pool_bwd_kernel<T, 1, 1, I><<<blocks, kThreads, 0, s>>>(src, amc, dst, g, total);
  }
}

template <class T>
int pool_launch(bool fwd, const T* src, T* dst, uint8_t* am, const uint8_t* amc, PoolGeom g, int mode, cudaStream_t s) {
  const bool vec = g.C % 4 == 0 && aligned(src, 4 * sizeof(T)) && aligned(dst, 4 * sizeof(T)) &&
                   aligned(fwd ? (const void*)am : (const void*)amc, 4);
  const int V = vec ? 4 : 1;
  g.L = g.C / V;
  const int64_t total = (fwd ? g.N * g.OD * g.OH * g.OW : g.N * g.D * g.H * g.W) * g.L;
  const int blocks = comix_grid_for(total, kThreads, 1 << 20);
  // int32 indices when every element offset, and the grid-stride index past the end, stay below
  // 2^31: both tensors within 2^30 elements (a grid is at most 2^28 threads)
  const bool small = !g_wide_index && g.N * g.D * g.H * g.W * g.C <= ((int64_t)1 << 30) &&
                     g.N * g.OD * g.OH * g.OW * g.C <= ((int64_t)1 << 30);
  if (small) pool_kernels<T, int32_t>(fwd, vec, mode, src, dst, am, amc, g, total, blocks, s);
  else pool_kernels<T, int64_t>(fwd, vec, mode, src, dst, am, amc, g, total, blocks, s);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

int pool_check(const void* a, const void* b, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
               const int* k3, const int* s3, const int* p3, int64_t OD, int64_t OH, int64_t OW, int mode,
               PoolGeom* g) {
  if (!a || !b || !k3 || !s3 || !p3 || !dtype_ok(dtype) || (mode != 0 && mode != 1) || !el(a, dtype) || !el(b, dtype))
    return COMIX_ERR_ARGUMENT;
  if (N < 1 || D < 1 || H < 1 || W < 1 || C < 1 || OD < 1 || OH < 1 || OW < 1) return COMIX_ERR_ARGUMENT;
  const int64_t in[3] = {D, H, W}, out[3] = {OD, OH, OW};
  for (int i = 0; i < 3; ++i) {
    if (k3[i] < 1 || s3[i] < 1 || p3[i] < 0 || p3[i] >= k3[i]) return COMIX_ERR_ARGUMENT;
    if (mode == 1 && (p3[i] != 0 || (out[i] - 1) * s3[i] + k3[i] > in[i])) return COMIX_ERR_ARGUMENT;
    if (mode == 0 && (out[i] - 1) * s3[i] - p3[i] >= in[i]) return COMIX_ERR_ARGUMENT;  // a window of padding only
  }
  if ((int64_t)k3[0] * k3[1] * k3[2] > 256) return COMIX_ERR_ARGUMENT;
  *g = PoolGeom{N, D, H, W, C, C, OD, OH, OW, k3[0], k3[1], k3[2], s3[0], s3[1], s3[2], p3[0], p3[1], p3[2]};
  return COMIX_OK;
}

// ---- zero padding / cropping of D, H, W ----
// One warp per output row (n, d, h): a row's W*C elements (padded: Wp*C) are contiguous in both
// tensors, so each row is one contiguous run of the source with zeros around it (PAD) or a
// contiguous slice of the padded source (crop), copied in V-element vectors with no per-element
// index arithmetic. (Before: one thread per element or 4-vector, each decoding its 5-D index
// with four divisions; on an H200 the F32 pad of I3D's 32 x 8 x 224 x 224 x 3 input took 1.24 ms,
// ~0.34 TB/s, for 0.47 GB of traffic.) Bits are copied, not converted: exact for both types.
template <int BYTES> struct BitsOf;
template <> struct BitsOf<2> { using type = unsigned short; };
template <> struct BitsOf<4> { using type = unsigned int; };
template <> struct BitsOf<8> { using type = uint2; };
template <> struct BitsOf<16> { using type = uint4; };

template <class T, int V, bool PAD>
__global__ void __launch_bounds__(kThreads) pad_rows_kernel(const T* __restrict__ src, T* __restrict__ dst, int64_t D,
                                                            int64_t H, int64_t W, int64_t C, int f0, int f1, int f2,
                                                            int64_t Dp, int64_t Hp, int64_t Wp, int64_t rows) {
  using Vec = typename BitsOf<(int)sizeof(T) * V>::type;
  const int lane = threadIdx.x & 31;
  const int64_t per_block = blockDim.x / 32, step = (int64_t)gridDim.x * per_block;
  const int64_t AD = PAD ? Dp : D, AH = PAD ? Hp : H;
  const int64_t out_len = (PAD ? Wp : W) * C / V, in_len = W * C / V, lo = PAD ? (int64_t)f2 * C / V : 0;
  const Vec* s = reinterpret_cast<const Vec*>(src);
  Vec* o = reinterpret_cast<Vec*>(dst);
  for (int64_t r = blockIdx.x * per_block + threadIdx.x / 32; r < rows; r += step) {
    const int64_t h = r % AH, t = r / AH, d = t % AD, n = t / AD;
    Vec* orow = o + r * out_len;
    if (PAD) {
      const int64_t id = d - f0, ih = h - f1;
      const bool inside = id >= 0 && id < D && ih >= 0 && ih < H;
      const Vec* srow = s + ((n * D + (inside ? id : 0)) * H + (inside ? ih : 0)) * in_len;
      for (int64_t j = lane; j < out_len; j += 32) {
        Vec v = {};
        if (inside && j >= lo && j < lo + in_len) v = srow[j - lo];
        orow[j] = v;
      }
    } else {
      const Vec* srow = s + ((n * Dp + d + f0) * Hp + h + f1) * (Wp * C / V) + (int64_t)f2 * C / V;
      for (int64_t j = lane; j < out_len; j += 32) orow[j] = srow[j];
    }
  }
}

template <class T, bool PAD>
int pad_launch(const T* src, T* dst, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C, const int* f,
               const int* b, cudaStream_t s) {
  const bool vec = C % 4 == 0 && aligned(src, 4 * sizeof(T)) && aligned(dst, 4 * sizeof(T));
  const int64_t Dp = D + f[0] + b[0], Hp = H + f[1] + b[1], Wp = W + f[2] + b[2];
  const int64_t rows = N * (PAD ? Dp * Hp : D * H);
  const int per_block = kThreads / 32;
  const int blocks = comix_grid_for(rows, per_block, 1 << 20);
  if (vec)
    pad_rows_kernel<T, 4, PAD><<<blocks, kThreads, 0, s>>>(src, dst, D, H, W, C, f[0], f[1], f[2], Dp, Hp, Wp, rows);
  else
    pad_rows_kernel<T, 1, PAD><<<blocks, kThreads, 0, s>>>(src, dst, D, H, W, C, f[0], f[1], f[2], Dp, Hp, Wp, rows);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

// ---- explicit im2col of an NDHWC input (GemmConv3d: a small-Cin conv as one GEMM) ----
// One warp per output position m = ((n*OD + od)*OH + oh)*OW + ow: its K = KD*KH*KW*C window
// values, in the filter's (kd, kh, kw, c) order, are gathered from x through a table of K
// offsets relative to the window's origin (built once per block in shared memory, so no index
// division per element) and written as one contiguous, coalesced row of cols. x is already
// padded: every window lies inside. Bits are copied.
template <class T>
__global__ void __launch_bounds__(kThreads) im2col3d_kernel(const T* __restrict__ x, T* __restrict__ cols, int64_t D,
                                                            int64_t H, int64_t W, int64_t C, int KD, int KH, int KW,
                                                            int sd, int sh, int sw, int64_t OD, int64_t OH, int64_t OW,
                                                            int64_t rows, int K) {
  extern __shared__ int im2col_off[];
  for (int k = threadIdx.x; k < K; k += blockDim.x) {
    const int c = (int)(k % C), r = (int)(k / C), kw = r % KW, r2 = r / KW, kh = r2 % KH, kd = r2 / KH;
    im2col_off[k] = (int)((((int64_t)kd * H + kh) * W + kw) * C + c);
  }
  __syncthreads();
  const int lane = threadIdx.x & 31;
  const int64_t per_block = blockDim.x / 32, step = (int64_t)gridDim.x * per_block;
  for (int64_t m = blockIdx.x * per_block + threadIdx.x / 32; m < rows; m += step) {
    const int64_t ow = m % OW, t1 = m / OW, oh = t1 % OH, t2 = t1 / OH, od = t2 % OD, n = t2 / OD;
    const T* base = x + (((n * D + od * sd) * H + oh * sh) * W + ow * sw) * C;
    T* out = cols + m * K;
    for (int k = lane; k < K; k += 32) out[k] = base[im2col_off[k]];
  }
}

// ---- zero padding of D, H, W and of the channels C -> CP (a small Cin made 16 bytes wide) ----
// One thread per padded position: C values loaded (or none outside), CP values stored (one 16-byte
// store when CP values are 16 bytes, V16); bits copied, not converted, so it is exact for both types.
template <class T, bool V16>
__global__ void __launch_bounds__(kThreads) pad_channels_kernel(const T* __restrict__ src, T* __restrict__ dst,
                                                                int64_t D, int64_t H, int64_t W, int64_t C, int64_t CP,
                                                                int f0, int f1, int f2, int64_t Dp, int64_t Hp,
                                                                int64_t Wp, int64_t total) {
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t p = idx;
    const int64_t w = p % Wp;
    p /= Wp;
    const int64_t h = p % Hp;
    p /= Hp;
    const int64_t d = p % Dp, n = p / Dp;
    const int64_t id = d - f0, ih = h - f1, iw = w - f2;
    const bool in = id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W;
    const T* s = src + (((n * D + (in ? id : 0)) * H + (in ? ih : 0)) * W + (in ? iw : 0)) * C;
    T* o = dst + idx * CP;
    if constexpr (V16) {
      constexpr int K = 16 / (int)sizeof(T);  // == CP
      union {
        uint4 u;
        T t[K];
      } v;
#pragma unroll
      for (int c = 0; c < K; ++c) v.t[c] = in && c < C ? s[c] : T(0);
      *reinterpret_cast<uint4*>(o) = v.u;
    } else {
      for (int64_t c = 0; c < CP; ++c) o[c] = in && c < C ? s[c] : T(0);
    }
  }
}

// dx [N, D, H, W, C] = the first C channels of the interior of dyPadded [N, Dp, Hp, Wp, CP].
template <class T>
__global__ void __launch_bounds__(kThreads) crop_channels_kernel(const T* __restrict__ src, T* __restrict__ dst,
                                                                 int64_t D, int64_t H, int64_t W, int64_t C,
                                                                 int64_t CP, int f0, int f1, int f2, int64_t Hp,
                                                                 int64_t Wp, int64_t Dp, int64_t total) {
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t p = idx / C;
    const int64_t c = idx - p * C;
    const int64_t w = p % W;
    p /= W;
    const int64_t h = p % H;
    p /= H;
    const int64_t d = p % D, n = p / D;
    dst[idx] = src[(((n * Dp + d + f0) * Hp + h + f1) * Wp + w + f2) * CP + c];
  }
}

// ---- weight reorders (CinP >= Cin: the KRSC filter's channel count, zeros past Cin) ----
template <class T>
__global__ void to_krsc_kernel(const float* __restrict__ w, T* __restrict__ out, int64_t Cin, int64_t CinP,
                               int64_t Sz, int64_t total) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ci = i % CinP, r = i / CinP, sp = r % Sz, co = r / Sz;
    out[i] = from_f<T>(ci < Cin ? w[(co * Cin + ci) * Sz + sp] : 0.0f);
  }
}

template <class T>
__global__ void from_krsc_kernel(const T* __restrict__ gk, float* __restrict__ grad, int64_t Cin, int64_t CinP,
                                 int64_t Sz, int64_t total, int accumulate) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t sp = i % Sz, r = i / Sz, ci = r % Cin, co = r / Cin;
    const float v = to_f(gk[(co * Sz + sp) * CinP + ci]);
    grad[i] = accumulate ? grad[i] + v : v;
  }
}


// ---- batched transposes in[N, R, K] -> out[N, K, R] (NDHWC <-> NCDHW with S = D*H*W) ----
// Three shapes of the work, all moving each element once through shared memory so that both the
// loads and the stores are contiguous runs:
// - tiled: 32x32 tiles (padded to 33 columns against bank conflicts), blocks of 32x8 threads,
//   four elements per thread; for R and K both above kThin;
// - thin K (K <= kThin, e.g. C = 3 for NDHWC -> NCDHW): a block takes kSpan consecutive rows r
//   with all their K values (one contiguous stretch of kSpan*K elements), then writes K runs of
//   kSpan elements;
// - thin R (R <= kThin, e.g. C = 3 for NCDHW -> NDHWC): a block takes kSpan consecutive columns k
//   from each of the R rows, then writes one contiguous stretch of kSpan*R elements.
// The shared-memory rows of the thin kernels have an odd pitch (the thin size, rounded up to
// odd), so the strided side of the access touches 32 different banks. bf16 values travel as
// 32-bit words in shared memory (the same bank pattern as f32). Tiles and row spans never cross
// a sample: blocks along x walk the tiles of one sample, blocks along y the samples.
constexpr int kTile = 32, kTileRows = 8, kThin = 16, kSpan = 256;

template <class T>
__device__ __forceinline__ uint32_t to_word(T v) {
  if constexpr (std::is_same<T, float>::value) return __float_as_uint(v);
  else return (uint32_t)v;
}
template <class T>
__device__ __forceinline__ T from_word(uint32_t w) {
  if constexpr (std::is_same<T, float>::value) return __uint_as_float(w);
  else return (T)w;
}

template <class T>
__global__ void __launch_bounds__(kTile * kTileRows) transpose_tiled_kernel(const T* __restrict__ in,
                                                                            T* __restrict__ out, int64_t N, int64_t R,
                                                                            int64_t K, int64_t tilesK, int64_t tiles) {
  __shared__ uint32_t tile[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T* src = in + n * R * K;
    T* dst = out + n * R * K;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      const int64_t r0 = (t / tilesK) * kTile, k0 = (t % tilesK) * kTile;
      // load rows r0.. (threads along k: contiguous in the input)
#pragma unroll
      for (int j = 0; j < kTile; j += kTileRows) {
        const int64_t r = r0 + ty + j, k = k0 + tx;
        if (r < R && k < K) tile[ty + j][tx] = to_word(src[r * K + k]);
      }
      __syncthreads();
      // store rows k0.. of the output (threads along r: contiguous in the output)
#pragma unroll
      for (int j = 0; j < kTile; j += kTileRows) {
        const int64_t k = k0 + ty + j, r = r0 + tx;
        if (k < K && r < R) dst[k * R + r] = from_word<T>(tile[tx][ty + j]);
      }
      __syncthreads();
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kSpan) transpose_thin_k_kernel(const T* __restrict__ in, T* __restrict__ out,
                                                                 int64_t N, int64_t R, int K, int pitch,
                                                                 int64_t spans) {
  __shared__ uint32_t buf[kSpan * (kThin + 1)];
  const int tid = threadIdx.x;
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T* src = in + n * R * K;
    T* dst = out + n * R * K;
    for (int64_t sp = blockIdx.x; sp < spans; sp += gridDim.x) {
      const int64_t r0 = sp * kSpan;
      const int rows = (int)(R - r0 < kSpan ? R - r0 : kSpan);
      const int count = rows * K;
      for (int e = tid; e < count; e += kSpan) {  // contiguous input stretch [r0*K, (r0+rows)*K)
        const int r = e / K, k = e - r * K;
        buf[r * pitch + k] = to_word(src[r0 * K + e]);
      }
      __syncthreads();
      if (tid < rows)
        for (int k = 0; k < K; ++k) dst[(int64_t)k * R + r0 + tid] = from_word<T>(buf[tid * pitch + k]);
      __syncthreads();
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kSpan) transpose_thin_r_kernel(const T* __restrict__ in, T* __restrict__ out,
                                                                 int64_t N, int R, int64_t K, int pitch,
                                                                 int64_t spans) {
  __shared__ uint32_t buf[kSpan * (kThin + 1)];
  const int tid = threadIdx.x;
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const T* src = in + n * R * K;
    T* dst = out + n * R * K;
    for (int64_t sp = blockIdx.x; sp < spans; sp += gridDim.x) {
      const int64_t k0 = sp * kSpan;
      const int cols = (int)(K - k0 < kSpan ? K - k0 : kSpan);
      if (tid < cols)
        for (int r = 0; r < R; ++r) buf[tid * pitch + r] = to_word(src[(int64_t)r * K + k0 + tid]);
      __syncthreads();
      const int count = cols * R;
      for (int e = tid; e < count; e += kSpan) {  // contiguous output stretch [k0*R, (k0+cols)*R)
        const int k = e / R, r = e - k * R;
        dst[k0 * R + e] = from_word<T>(buf[k * pitch + r]);
      }
      __syncthreads();
    }
  }
}

// in [N, R, K] -> out [N, K, R]; R, K, N >= 1, no overlap.
template <class T>
int transpose_launch(const T* in, T* out, int64_t N, int64_t R, int64_t K, cudaStream_t s) {
  if (R == 1 || K == 1) {  // the two layouts are the same bytes
    COMIX_CUDA_TRY(cudaMemcpyAsync(out, in, (size_t)(N * R * K) * sizeof(T), cudaMemcpyDeviceToDevice, s));
    return COMIX_OK;
  }
  const unsigned gy = (unsigned)(N < 65535 ? N : 65535);
  if (K <= kThin || R <= kThin) {
    const bool thinK = K <= R;  // both thin: either works; take the one with fewer, longer spans
    const int64_t wide = thinK ? R : K;
    const int thin = (int)(thinK ? K : R), pitch = thin | 1;
    const int64_t spans = (wide + kSpan - 1) / kSpan;
    const dim3 grid((unsigned)(spans < (1 << 30) ? spans : (1 << 30)), gy);
    if (thinK)
      transpose_thin_k_kernel<T><<<grid, kSpan, 0, s>>>(in, out, N, R, thin, pitch, spans);
    else
      transpose_thin_r_kernel<T><<<grid, kSpan, 0, s>>>(in, out, N, thin, K, pitch, spans);
  } else {
    const int64_t tilesK = (K + kTile - 1) / kTile, tiles = ((R + kTile - 1) / kTile) * tilesK;
    const dim3 grid((unsigned)(tiles < (1 << 30) ? tiles : (1 << 30)), gy);
    transpose_tiled_kernel<T><<<grid, dim3(kTile, kTileRows), 0, s>>>(in, out, N, R, K, tilesK, tiles);
  }
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

}  // namespace

// ============================== C ABI ==============================

extern "C" size_t comix_nn_bn_stats_workspace(int64_t M, int64_t C) {
  return M < 1 || C < 1 ? 0 : part_bytes(M, C);
}

extern "C" int comix_nn_bn_stats_cuda(const void* x, int dtype, int64_t M, int64_t C, float* mean, float* var,
                                      void* ws, size_t wsBytes, void* stream) {
  if (!x || !mean || !var || !ws || !dtype_ok(dtype) || M < 1 || C < 1 || wsBytes < part_bytes(M, C) ||
      !aligned(ws, 8) || !el(x, dtype) || !f4(mean) || !f4(var))
    return COMIX_ERR_ARGUMENT;
  double* part = static_cast<double*>(ws);
  if (dtype == COMIX_DTYPE_F32)
    return rowred<float, 0>(static_cast<const float*>(x), nullptr, nullptr, M, C, nullptr, nullptr, 0.0f, part, mean,
                            var, nullptr, 0, S(stream));
  return rowred<bf16bits, 0>(static_cast<const bf16bits*>(x), nullptr, nullptr, M, C, nullptr, nullptr, 0.0f, part,
                             mean, var, nullptr, 0, S(stream));
}

extern "C" int comix_nn_bn_forward_cuda(const void* x, int dtype, int64_t M, int64_t C, const float* mean,
                                        const float* var, float eps, const float* gamma, const float* beta, int relu,
                                        void* y, void* stream) {
  if (!x || !y || !mean || !var || !dtype_ok(dtype) || M < 1 || C < 1 || !(eps >= 0.0f) || !isfinite(eps) ||
      !el(x, dtype) || !el(y, dtype) || !f4(mean) || !f4(var) || !f4(gamma) || !f4(beta))
    return COMIX_ERR_ARGUMENT;
  if (dtype == COMIX_DTYPE_F32)
    return bn_forward<float>(static_cast<const float*>(x), M, C, mean, var, eps, gamma, beta, relu,
                             static_cast<float*>(y), S(stream));
  return bn_forward<bf16bits>(static_cast<const bf16bits*>(x), M, C, mean, var, eps, gamma, beta, relu,
                              static_cast<bf16bits*>(y), S(stream));
}

extern "C" int comix_nn_bn_running_update_cuda(float* runMean, float* runVar, const float* mean, const float* var,
                                               int64_t C, double momentum, int64_t M, void* stream) {
  if (!runMean || !runVar || !mean || !var || C < 1 || M < 1 || !(momentum >= 0.0 && momentum <= 1.0) ||
      !f4(runMean) || !f4(runVar) || !f4(mean) || !f4(var))
    return COMIX_ERR_ARGUMENT;
  const double unbias = M > 1 ? (double)M / (double)(M - 1) : 1.0;
  bn_running_kernel<<<comix_grid_for(C, kThreads), kThreads, 0, S(stream)>>>(runMean, runVar, mean, var, C, momentum,
                                                                              unbias);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" size_t comix_nn_bn_backward_workspace(int64_t M, int64_t C) {
  return M < 1 || C < 1 ? 0 : part_bytes(M, C) + (size_t)C * 2 * sizeof(double);
}

extern "C" int comix_nn_bn_backward_cuda(const void* x, const void* y, const void* dy, int dtype, int64_t M, int64_t C,
                                         const float* mean, const float* var, float eps, const float* gamma,
                                         int training, void* dx, float* dgamma, float* dbeta, void* ws,
                                         size_t wsBytes, void* stream) {
  if (!x || !dy || !mean || !var || !ws || !dtype_ok(dtype) || M < 1 || C < 1 || !(eps >= 0.0f) || !isfinite(eps) ||
      wsBytes < comix_nn_bn_backward_workspace(M, C) || !aligned(ws, 8) || (y != nullptr && dx == y) ||
      !el(x, dtype) || !el(y, dtype) || !el(dy, dtype) || !el(dx, dtype) || !f4(mean) || !f4(var) || !f4(gamma) ||
      !f4(dgamma) || !f4(dbeta))
    return COMIX_ERR_ARGUMENT;
  if (dtype == COMIX_DTYPE_F32)
    return bn_backward<float>(static_cast<const float*>(x), static_cast<const float*>(y),
                              static_cast<const float*>(dy), M, C, mean, var, eps, gamma, training,
                              static_cast<float*>(dx), dgamma, dbeta, ws, S(stream));
  return bn_backward<bf16bits>(static_cast<const bf16bits*>(x), static_cast<const bf16bits*>(y),
                               static_cast<const bf16bits*>(dy), M, C, mean, var, eps, gamma, training,
                               static_cast<bf16bits*>(dx), dgamma, dbeta, ws, S(stream));
}

extern "C" int comix_nn_relu_forward_cuda(const void* x, int dtype, int64_t n, void* y, void* stream) {
  if (!x || !y || !dtype_ok(dtype) || n < 1 || !el(x, dtype) || !el(y, dtype)) return COMIX_ERR_ARGUMENT;
  const size_t a = 4 * esize(dtype);
  const bool vec = aligned(x, a) && aligned(y, a);
  if (dtype == COMIX_DTYPE_F32)
    return launch_ew(ReluFwd<float>{static_cast<const float*>(x), static_cast<float*>(y)}, n, vec, S(stream));
  return launch_ew(ReluFwd<bf16bits>{static_cast<const bf16bits*>(x), static_cast<bf16bits*>(y)}, n, vec, S(stream));
}

extern "C" int comix_nn_relu_backward_cuda(const void* y, const void* dy, int dtype, int64_t n, void* dx,
                                           void* stream) {
  if (!y || !dy || !dx || !dtype_ok(dtype) || n < 1 || !el(y, dtype) || !el(dy, dtype) || !el(dx, dtype))
    return COMIX_ERR_ARGUMENT;
  const size_t a = 4 * esize(dtype);
  const bool vec = aligned(y, a) && aligned(dy, a) && aligned(dx, a);
  if (dtype == COMIX_DTYPE_F32)
    return launch_ew(ReluBwd<float>{static_cast<const float*>(y), static_cast<const float*>(dy),
                                    static_cast<float*>(dx)},
                     n, vec, S(stream));
  return launch_ew(ReluBwd<bf16bits>{static_cast<const bf16bits*>(y), static_cast<const bf16bits*>(dy),
                                     static_cast<bf16bits*>(dx)},
                   n, vec, S(stream));
}

extern "C" void comix_nn_test_wide_index(int on) { g_wide_index = on != 0; }

extern "C" int comix_nn_pool3d_forward_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W,
                                            int64_t C, const int* kernel3, const int* stride3, const int* padFront3,
                                            int64_t OD, int64_t OH, int64_t OW, int mode, void* y, uint8_t* argmax,
                                            void* stream) {
  PoolGeom g;
  const int st = pool_check(x, y, dtype, N, D, H, W, C, kernel3, stride3, padFront3, OD, OH, OW, mode, &g);
  if (st != COMIX_OK) return st;
  if (dtype == COMIX_DTYPE_F32)
    return pool_launch<float>(true, static_cast<const float*>(x), static_cast<float*>(y), argmax, nullptr, g, mode,
                              S(stream));
  return pool_launch<bf16bits>(true, static_cast<const bf16bits*>(x), static_cast<bf16bits*>(y), argmax, nullptr, g,
                               mode, S(stream));
}

extern "C" int comix_nn_pool3d_backward_cuda(const void* dy, int dtype, int64_t N, int64_t D, int64_t H, int64_t W,
                                             int64_t C, const int* kernel3, const int* stride3, const int* padFront3,
                                             int64_t OD, int64_t OH, int64_t OW, int mode, const uint8_t* argmax,
                                             void* dx, void* stream) {
  PoolGeom g;
  const int st = pool_check(dy, dx, dtype, N, D, H, W, C, kernel3, stride3, padFront3, OD, OH, OW, mode, &g);
  if (st != COMIX_OK) return st;
  if (mode == 0 && argmax == nullptr) return COMIX_ERR_ARGUMENT;
  if (dtype == COMIX_DTYPE_F32)
    return pool_launch<float>(false, static_cast<const float*>(dy), static_cast<float*>(dx), nullptr,
                              mode == 0 ? argmax : nullptr, g, mode, S(stream));
  return pool_launch<bf16bits>(false, static_cast<const bf16bits*>(dy), static_cast<bf16bits*>(dx), nullptr,
                               mode == 0 ? argmax : nullptr, g, mode, S(stream));
}

static int pad_check(const void* a, const void* b, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                     const int* f, const int* bk) {
  if (!a || !b || !f || !bk || !dtype_ok(dtype) || N < 1 || D < 1 || H < 1 || W < 1 || C < 1 || !el(a, dtype) ||
      !el(b, dtype))
    return COMIX_ERR_ARGUMENT;
  for (int i = 0; i < 3; ++i)
    if (f[i] < 0 || bk[i] < 0) return COMIX_ERR_ARGUMENT;
  return COMIX_OK;
}

extern "C" int comix_nn_pad5d_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W, int64_t C,
                                   const int* front3, const int* back3, void* y, void* stream) {
  const int st = pad_check(x, y, dtype, N, D, H, W, C, front3, back3);
  if (st != COMIX_OK) return st;
  if (dtype == COMIX_DTYPE_F32)
    return pad_launch<float, true>(static_cast<const float*>(x), static_cast<float*>(y), N, D, H, W, C, front3, back3,
                                   S(stream));
  return pad_launch<bf16bits, true>(static_cast<const bf16bits*>(x), static_cast<bf16bits*>(y), N, D, H, W, C, front3,
                                    back3, S(stream));
}

extern "C" int comix_nn_im2col3d_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W,
                                      int64_t C, const int* kernel3, const int* stride3, int64_t OD, int64_t OH,
                                      int64_t OW, void* cols, void* stream) {
  if (!x || !cols || !kernel3 || !stride3 || !dtype_ok(dtype) || N < 1 || D < 1 || H < 1 || W < 1 || C < 1 ||
      OD < 1 || OH < 1 || OW < 1 || !el(x, dtype) || !el(cols, dtype))
    return COMIX_ERR_ARGUMENT;
  const int64_t size[3] = {D, H, W}, out[3] = {OD, OH, OW};
  int64_t K = C;
  for (int i = 0; i < 3; ++i) {
    if (kernel3[i] < 1 || stride3[i] < 1) return COMIX_ERR_ARGUMENT;
    if ((out[i] - 1) * stride3[i] + kernel3[i] > size[i]) return COMIX_ERR_ARGUMENT;  // a window past the input
    K *= kernel3[i];
  }
  if (K > 8192 || (int64_t)kernel3[0] * H * W * C >= ((int64_t)1 << 31)) return COMIX_ERR_ARGUMENT;
  const int64_t rows = N * OD * OH * OW;
  const int blocks = comix_grid_for(rows, kThreads / 32, 1 << 20);
  const size_t smem = (size_t)K * sizeof(int);
  if (dtype == COMIX_DTYPE_F32)
    im2col3d_kernel<float><<<blocks, kThreads, smem, S(stream)>>>(static_cast<const float*>(x), static_cast<float*>(cols),
        D, H, W, C, kernel3[0], kernel3[1], kernel3[2], stride3[0], stride3[1], stride3[2], OD, OH, OW, rows, (int)K);
  else
    im2col3d_kernel<bf16bits><<<blocks, kThreads, smem, S(stream)>>>(static_cast<const bf16bits*>(x),
        static_cast<bf16bits*>(cols), D, H, W, C, kernel3[0], kernel3[1], kernel3[2], stride3[0], stride3[1], stride3[2],
        OD, OH, OW, rows, (int)K);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_nn_crop5d_cuda(const void* dyPadded, int dtype, int64_t N, int64_t D, int64_t H, int64_t W,
                                    int64_t C, const int* front3, const int* back3, void* dx, void* stream) {
  const int st = pad_check(dyPadded, dx, dtype, N, D, H, W, C, front3, back3);
  if (st != COMIX_OK) return st;
  if (dtype == COMIX_DTYPE_F32)
    return pad_launch<float, false>(static_cast<const float*>(dyPadded), static_cast<float*>(dx), N, D, H, W, C,
                                    front3, back3, S(stream));
  return pad_launch<bf16bits, false>(static_cast<const bf16bits*>(dyPadded), static_cast<bf16bits*>(dx), N, D, H, W,
                                     C, front3, back3, S(stream));
}

extern "C" int comix_nn_pad5d_channels_cuda(const void* x, int dtype, int64_t N, int64_t D, int64_t H, int64_t W,
                                            int64_t C, int64_t CP, const int* front3, const int* back3, void* y,
                                            void* stream) {
  const int st = pad_check(x, y, dtype, N, D, H, W, C, front3, back3);
  if (st != COMIX_OK) return st;
  if (CP < C) return COMIX_ERR_ARGUMENT;
  const int64_t Dp = D + front3[0] + back3[0], Hp = H + front3[1] + back3[1], Wp = W + front3[2] + back3[2];
  const int64_t total = N * Dp * Hp * Wp;
  const int blocks = comix_grid_for(total, kThreads, 1 << 20);
  const bool v16 = CP * (int64_t)esize(dtype) == 16 && aligned(y, 16);
  if (dtype == COMIX_DTYPE_F32) {
    auto kernel = v16 ? pad_channels_kernel<float, true> : pad_channels_kernel<float, false>;
    kernel<<<blocks, kThreads, 0, S(stream)>>>(static_cast<const float*>(x), static_cast<float*>(y), D, H, W, C, CP,
                                               front3[0], front3[1], front3[2], Dp, Hp, Wp, total);
  } else {
    auto kernel = v16 ? pad_channels_kernel<bf16bits, true> : pad_channels_kernel<bf16bits, false>;
    kernel<<<blocks, kThreads, 0, S(stream)>>>(static_cast<const bf16bits*>(x), static_cast<bf16bits*>(y), D, H, W, C,
                                               CP, front3[0], front3[1], front3[2], Dp, Hp, Wp, total);
  }
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_nn_crop5d_channels_cuda(const void* dyPadded, int dtype, int64_t N, int64_t D, int64_t H,
                                             int64_t W, int64_t C, int64_t CP, const int* front3, const int* back3,
                                             void* dx, void* stream) {
  const int st = pad_check(dyPadded, dx, dtype, N, D, H, W, C, front3, back3);
  if (st != COMIX_OK) return st;
  if (CP < C) return COMIX_ERR_ARGUMENT;
  const int64_t Dp = D + front3[0] + back3[0], Hp = H + front3[1] + back3[1], Wp = W + front3[2] + back3[2];
  const int64_t total = N * D * H * W * C;
  const int blocks = comix_grid_for(total, kThreads, 1 << 20);
  if (dtype == COMIX_DTYPE_F32)
    crop_channels_kernel<float><<<blocks, kThreads, 0, S(stream)>>>(static_cast<const float*>(dyPadded),
        static_cast<float*>(dx), D, H, W, C, CP, front3[0], front3[1], front3[2], Hp, Wp, Dp, total);
  else
    crop_channels_kernel<bf16bits><<<blocks, kThreads, 0, S(stream)>>>(static_cast<const bf16bits*>(dyPadded),
        static_cast<bf16bits*>(dx), D, H, W, C, CP, front3[0], front3[1], front3[2], Hp, Wp, Dp, total);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_nn_cast_cuda(const void* src, int srcDtype, void* dst, int dstDtype, int64_t n, void* stream) {
  if (!src || !dst || !dtype_ok(srcDtype) || !dtype_ok(dstDtype) || n < 1 || !el(src, srcDtype) || !el(dst, dstDtype))
    return COMIX_ERR_ARGUMENT;
  if (srcDtype == dstDtype) {
    if (src != dst) COMIX_CUDA_TRY(cudaMemcpyAsync(dst, src, (size_t)n * esize(srcDtype), cudaMemcpyDeviceToDevice,
                                                   S(stream)));
    return COMIX_OK;
  }
  const bool vec = aligned(src, 4 * esize(srcDtype)) && aligned(dst, 4 * esize(dstDtype));
  if (srcDtype == COMIX_DTYPE_F32)
    return launch_ew(Cast<float, bf16bits>{static_cast<const float*>(src), static_cast<bf16bits*>(dst)}, n, vec,
                     S(stream));
  return launch_ew(Cast<bf16bits, float>{static_cast<const bf16bits*>(src), static_cast<float*>(dst)}, n, vec,
                   S(stream));
}

extern "C" int comix_nn_axpy_cuda(float a, const void* x, int dtype, float* y, int64_t n, void* stream) {
  if (!x || !y || !dtype_ok(dtype) || n < 1 || !el(x, dtype) || !f4(y)) return COMIX_ERR_ARGUMENT;
  const bool vec = aligned(x, 4 * esize(dtype)) && aligned(y, 16);
  if (dtype == COMIX_DTYPE_F32)
    return launch_ew(Axpy<float>{a, static_cast<const float*>(x), y}, n, vec, S(stream));
  return launch_ew(Axpy<bf16bits>{a, static_cast<const bf16bits*>(x), y}, n, vec, S(stream));
}

extern "C" size_t comix_nn_channel_sum_workspace(int64_t M, int64_t C) {
  return M < 1 || C < 1 ? 0 : part_bytes(M, C);
}

extern "C" int comix_nn_channel_sum_cuda(const void* dy, int dtype, int64_t M, int64_t C, float* out, int accumulate,
                                         void* ws, size_t wsBytes, void* stream) {
  if (!dy || !out || !ws || !dtype_ok(dtype) || M < 1 || C < 1 || wsBytes < part_bytes(M, C) || !aligned(ws, 8) ||
      !el(dy, dtype) || !f4(out))
    return COMIX_ERR_ARGUMENT;
  double* part = static_cast<double*>(ws);
  if (dtype == COMIX_DTYPE_F32)
    return rowred<float, 2>(nullptr, nullptr, static_cast<const float*>(dy), M, C, nullptr, nullptr, 0.0f, part, out,
                            nullptr, nullptr, accumulate, S(stream));
  return rowred<bf16bits, 2>(nullptr, nullptr, static_cast<const bf16bits*>(dy), M, C, nullptr, nullptr, 0.0f, part,
                             out, nullptr, nullptr, accumulate, S(stream));
}

extern "C" int comix_nn_weight_to_krsc_cuda(const float* w, int64_t Cout, int64_t Cin, int64_t kT, int64_t kH,
                                            int64_t kW, void* out, int dtype, void* stream) {
  return comix_nn_weight_to_krsc_padded_cuda(w, Cout, Cin, Cin, kT, kH, kW, out, dtype, stream);
}

extern "C" int comix_nn_weight_to_krsc_padded_cuda(const float* w, int64_t Cout, int64_t Cin, int64_t CinP, int64_t kT,
                                                   int64_t kH, int64_t kW, void* out, int dtype, void* stream) {
  if (!w || !out || !dtype_ok(dtype) || Cout < 1 || Cin < 1 || CinP < Cin || kT < 1 || kH < 1 || kW < 1 || !f4(w) ||
      !el(out, dtype))
    return COMIX_ERR_ARGUMENT;
  const int64_t Sz = kT * kH * kW, total = Cout * CinP * Sz;
  const int blocks = comix_grid_for(total, kThreads);
  if (dtype == COMIX_DTYPE_F32)
    to_krsc_kernel<float><<<blocks, kThreads, 0, S(stream)>>>(w, static_cast<float*>(out), Cin, CinP, Sz, total);
  else
    to_krsc_kernel<bf16bits><<<blocks, kThreads, 0, S(stream)>>>(w, static_cast<bf16bits*>(out), Cin, CinP, Sz, total);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_nn_weight_grad_from_krsc_cuda(const void* g, int dtype, int64_t Cout, int64_t Cin, int64_t kT,
                                                   int64_t kH, int64_t kW, float* grad, int accumulate,
                                                   void* stream) {
  return comix_nn_weight_grad_from_krsc_padded_cuda(g, dtype, Cout, Cin, Cin, kT, kH, kW, grad, accumulate, stream);
}

extern "C" int comix_nn_weight_grad_from_krsc_padded_cuda(const void* g, int dtype, int64_t Cout, int64_t Cin,
                                                          int64_t CinP, int64_t kT, int64_t kH, int64_t kW,
                                                          float* grad, int accumulate, void* stream) {
  if (!g || !grad || !dtype_ok(dtype) || Cout < 1 || Cin < 1 || CinP < Cin || kT < 1 || kH < 1 || kW < 1 ||
      !el(g, dtype) || !f4(grad))
    return COMIX_ERR_ARGUMENT;
  const int64_t Sz = kT * kH * kW, total = Cout * Cin * Sz;
  const int blocks = comix_grid_for(total, kThreads);
  if (dtype == COMIX_DTYPE_F32)
    from_krsc_kernel<float><<<blocks, kThreads, 0, S(stream)>>>(static_cast<const float*>(g), grad, Cin, CinP, Sz,
                                                               total, accumulate);
  else
    from_krsc_kernel<bf16bits><<<blocks, kThreads, 0, S(stream)>>>(static_cast<const bf16bits*>(g), grad, Cin, CinP,
                                                                  Sz, total, accumulate);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_nn_dropout_forward_cuda(const void* x, int dtype, int64_t n, float p, uint64_t seed,
                                             uint64_t offset, void* y, uint8_t* mask, void* stream) {
  if (!x || !y || !dtype_ok(dtype) || n < 1 || !(p >= 0.0f && p <= 1.0f) || !el(x, dtype) || !el(y, dtype))
    return COMIX_ERR_ARGUMENT;
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  const size_t a = 4 * esize(dtype);
  const bool vec = aligned(x, a) && aligned(y, a) && aligned(mask, 4);
  if (dtype == COMIX_DTYPE_F32)
    return launch_ew(DropoutFwd<float>{static_cast<const float*>(x), static_cast<float*>(y), mask, p, scale, seed,
                                       offset},
                     n, vec, S(stream));
  return launch_ew(DropoutFwd<bf16bits>{static_cast<const bf16bits*>(x), static_cast<bf16bits*>(y), mask, p, scale,
                                        seed, offset},
                   n, vec, S(stream));
}

extern "C" int comix_nn_dropout_backward_cuda(const void* dy, int dtype, int64_t n, float p, const uint8_t* mask,
                                              void* dx, void* stream) {
  if (!dy || !mask || !dx || !dtype_ok(dtype) || n < 1 || !(p >= 0.0f && p <= 1.0f) || !el(dy, dtype) ||
      !el(dx, dtype))
    return COMIX_ERR_ARGUMENT;
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  const size_t a = 4 * esize(dtype);
  const bool vec = aligned(dy, a) && aligned(dx, a) && aligned(mask, 4);
  if (dtype == COMIX_DTYPE_F32)
    return launch_ew(DropoutBwd<float>{static_cast<const float*>(dy), mask, static_cast<float*>(dx), scale}, n, vec,
                     S(stream));
  return launch_ew(DropoutBwd<bf16bits>{static_cast<const bf16bits*>(dy), mask, static_cast<bf16bits*>(dx), scale}, n,
                   vec, S(stream));
}

// x [N, R, K] -> y [N, K, R]: the two layout conversions are the same transpose with R, K swapped.
static int transpose_abi(const void* x, int dtype, int64_t N, int64_t R, int64_t K, void* y, void* stream) {
  if (!x || !y || x == y || !dtype_ok(dtype) || N < 1 || R < 1 || K < 1 || !el(x, dtype) || !el(y, dtype))
    return COMIX_ERR_ARGUMENT;
  if (dtype == COMIX_DTYPE_F32)
    return transpose_launch<float>(static_cast<const float*>(x), static_cast<float*>(y), N, R, K, S(stream));
  return transpose_launch<bf16bits>(static_cast<const bf16bits*>(x), static_cast<bf16bits*>(y), N, R, K, S(stream));
}

extern "C" int comix_nn_ndhwc_to_ncdhw_cuda(const void* x, int dtype, int64_t N, int64_t spatial, int64_t C,
                                            void* y, void* stream) {
  return transpose_abi(x, dtype, N, spatial, C, y, stream);
}

extern "C" int comix_nn_ncdhw_to_ndhwc_cuda(const void* x, int dtype, int64_t N, int64_t spatial, int64_t C,
                                            void* y, void* stream) {
  return transpose_abi(x, dtype, N, C, spatial, y, stream);
}
