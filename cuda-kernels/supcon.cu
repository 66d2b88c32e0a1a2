// Fused SupCon / InfoNCE forward + backward on the GPU; CPU reference: native/src/cpu/supcon.cpp.
// Semantics: native/include/comix/supcon.h. Per-element math: supcon_math.cuh (shared with the CPU).
//
// Three paths, all fp32 with fp32 accumulation (online log-sum-exp); with COMIX_SUPCON_TF32 and
// D >= 64 the tiled path computes its similarity tiles on TF32 tensor cores (wmma m16n16k8):
//  * single block ("tiny"): the whole problem in one block's shared memory, one launch: the
//    CoMix shapes (M = 2*2B = 32 rows of C <= 12 class probabilities) where launch count matters.
//  * tiled: 64 x 64 similarity tiles computed in shared memory (K chunks of 32), never written to
//    global memory.  prep (gather/normalise rows) -> stats (per-row online max/sum-exp, positive
//    sums and counts) -> reduce (loss, anchor count; one block) -> grad (recompute each tile,
//    W_ak = (p_ak + p_ka) - [same label](1/|P(a)| + 1/|P(k)|) in shared memory, dz += W Z_k)
//    [-> finalize, only with normalisation and D > 128].
//  * generic (reference, for tests): one warp per row, lanes over columns, no tiling; the
//    gradient accumulates in a workspace row owned by that warp.
//  * GEMM (driven from Java, CudaOps, for large M): the products S = Z Z^T / tau and dZ = W Z run in
//    cuBLAS over row blocks of S held in global memory; the kernels here gather the rows, compute the
//    row statistics and the gradient weights in place over S, and finish (see the GEMM section).
// Every launch is checked; nothing synchronises the host.
#include <cuda_runtime.h>
#include <mma.h>

#include <cmath>
#include <cstdint>

#include "comix/supcon.h"
#include "comix_math.cuh"
#include "cuda_check.cuh"
#include "supcon_math.cuh"

namespace {

constexpr int kTile = 64;     // rows and columns of a similarity tile
constexpr int kK = 32;        // K (feature) chunk staged in shared memory
constexpr int kThreads = 256; // 16 x 16 threads, each owning a 4 x 4 sub-tile (rows ty+16i, cols tx+16j)
constexpr int kDOut = 128;    // gradient columns per block in the tiled gradient kernel

struct Params {
  const float* x;
  int64_t N, V, D, M;
  const int64_t* labels;
  const uint8_t* mask;
  float inv_tau, factor, gscale;
  bool normalize, view_major, accumulate;
  bool tf32;  // tiled path: similarity products on TF32 tensor cores (asked for, and D >= 64)
  float* loss;
  float* grad;
};

struct Workspace {
  float* zn;                // [M, D] rows in row order, normalised if asked
  float2* nrm;              // [M] (1 / max(||x||, eps), clamped ? 1 : 0)
  comix::SupconRow* rows;   // [M]
  float* dz;                // [M, D] raw sum_k W_ak z_k (generic path; tiled path with normalise and D > 128;
                            // GEMM path: the caller's cuBLAS products accumulate here)
  float* scal;              // [0] = c = (tau/tau_b)/A / tau * grad_scale
  long long* key;           // [M] GEMM path: the label of row r (labels[r mod N], or r mod N)
  unsigned char* act;       // [M] GEMM path: 1 when row r is active (mask)
  float2* rstat;            // [M] GEMM path: (valid ? lse : +inf, 1/|P|), the column side of W
};

__host__ __device__ inline int64_t align256(int64_t b) { return (b + 255) / 256 * 256; }

Workspace carve(void* base, int64_t M, int64_t D) {
  char* p = static_cast<char*>(base);
  Workspace w;
  w.zn = reinterpret_cast<float*>(p);
  p += align256(M * D * 4);
  w.nrm = reinterpret_cast<float2*>(p);
  p += align256(M * 8);
  w.rows = reinterpret_cast<comix::SupconRow*>(p);
  p += align256(M * (int64_t)sizeof(comix::SupconRow));
  w.dz = reinterpret_cast<float*>(p);
  p += align256(M * D * 4);
  w.scal = reinterpret_cast<float*>(p);
  p += 256;
  w.key = reinterpret_cast<long long*>(p);
  p += align256(M * 8);
  w.act = reinterpret_cast<unsigned char*>(p);
  p += align256(M);
  w.rstat = reinterpret_cast<float2*>(p);
  return w;
}

int64_t workspace_bytes(int64_t M, int64_t D) {
  return align256(M * D * 4) + align256(M * 8) + align256(M * (int64_t)sizeof(comix::SupconRow)) +
         align256(M * D * 4) + 256 + align256(M * 8) + align256(M) + align256(M * 8);
}

// Byte offsets of the [M, D] row matrices inside the workspace (see carve): part 0 = zn, 1 = dz.
int64_t workspace_offset(int64_t M, int64_t D, int part) {
  if (part == 0) return 0;
  return align256(M * D * 4) + align256(M * 8) + align256(M * (int64_t)sizeof(comix::SupconRow));
}

__device__ __forceinline__ int64_t label_of(const Params& p, int64_t r) {
  const int64_t n = r % p.N;
  return p.labels ? p.labels[n] : n;
}
__device__ __forceinline__ bool active_of(const Params& p, int64_t r) { return !p.mask || p.mask[r % p.N] != 0; }

__device__ __forceinline__ void write_grad(const Params& p, int64_t r, int64_t d, float g) {
  float* o = p.grad + comix::supcon_row_offset(r, p.N, p.V, p.D, p.view_major) + d;
  *o = p.accumulate ? *o + g : g;
}

// ------------------------------------------------------------------------------------------
// Single-block path. Shared memory (floats): z [M*D], gz [M*D], S [M*(M+1)], then per row
// inv norm, clamped, lse, inv_npos, valid, rowloss, dot (7*M).
__host__ __device__ inline int64_t tiny_smem_bytes(int64_t M, int64_t D) {
  return (2 * M * D + M * (M + 1) + 7 * M + 2) * 4;
}

__global__ void __launch_bounds__(kThreads) supcon_tiny_kernel(Params p) {
  extern __shared__ float sm[];
  const int64_t M = p.M, D = p.D, ld = M + 1;
  float* z = sm;
  float* gz = z + M * D;
  float* S = gz + M * D;
  float* rinv = S + M * ld;
  float* rclamp = rinv + M;
  float* rlse = rclamp + M;
  float* rinvp = rlse + M;
  float* rvalid = rinvp + M;
  float* rloss = rvalid + M;
  float* rdot = rloss + M;
  float* sc = rdot + M;  // [0] = c
  const int tid = threadIdx.x, nt = blockDim.x;

  for (int64_t e = tid; e < M * D; e += nt) {
    const int64_t r = e / D, d = e - r * D;
    z[e] = p.x[comix::supcon_row_offset(r, p.N, p.V, D, p.view_major) + d];
  }
  __syncthreads();
  if (p.normalize) {
    for (int64_t r = tid; r < M; r += nt) {  // each row owned by one thread
      float ss = 0.0f;
      for (int64_t d = 0; d < D; ++d) ss = fmaf(z[r * D + d], z[r * D + d], ss);
      const float nrm = sqrtf(ss);
      const bool cl = !(nrm > 1e-12f);
      const float inv = 1.0f / (cl ? 1e-12f : nrm);
      rinv[r] = inv;
      rclamp[r] = cl ? 1.0f : 0.0f;
      for (int64_t d = 0; d < D; ++d) z[r * D + d] *= inv;
    }
    __syncthreads();
  }
  for (int64_t e = tid; e < M * M; e += nt) {
    const int64_t a = e / M, k = e - a * M;
    float acc = 0.0f;
    for (int64_t d = 0; d < D; ++d) acc = fmaf(z[a * D + d], z[k * D + d], acc);
    S[a * ld + k] = acc * p.inv_tau;
  }
  __syncthreads();
  for (int64_t a = tid; a < M; a += nt) {
    const bool act = active_of(p, a);
    const int64_t la = label_of(p, a);
    float m = -INFINITY, l = 0.0f, possum = 0.0f;
    int64_t npos = 0;
    for (int64_t k = 0; k < M; ++k) {
      if (k == a || !active_of(p, k)) continue;
      const float s = S[a * ld + k];
      comix::lse_push(s, m, l);
      if (label_of(p, k) == la) { possum += s; ++npos; }
    }
    const comix::SupconRow row = comix::supcon_finish_row(m, l, possum, npos, act);
    rlse[a] = row.lse;
    rinvp[a] = row.inv_npos;
    rvalid[a] = (float)row.valid;
    rloss[a] = row.rowloss;
  }
  __syncthreads();
  if (tid == 0) {
    double total = 0.0;
    int64_t A = 0;
    for (int64_t a = 0; a < M; ++a)
      if (rvalid[a] != 0.0f) { total += rloss[a]; ++A; }
    *p.loss = A > 0 ? (float)(p.factor * total / (double)A) : 0.0f;
    sc[0] = A > 0 ? (float)(p.factor / (double)A) * p.inv_tau * p.gscale : 0.0f;
  }
  __syncthreads();
  if (!p.grad) return;  // uniform across the block
  for (int64_t e = tid; e < M * M; e += nt) {  // W in place of S: each element read and written by one thread
    const int64_t a = e / M, k = e - a * M;
    float w = 0.0f;
    if (a != k && active_of(p, a) && active_of(p, k)) {
      comix::SupconRow ra, rk;
      ra.lse = rlse[a]; ra.inv_npos = rinvp[a]; ra.valid = rvalid[a] != 0.0f; ra.rowloss = 0.0f;
      rk.lse = rlse[k]; rk.inv_npos = rinvp[k]; rk.valid = rvalid[k] != 0.0f; rk.rowloss = 0.0f;
      w = comix::supcon_pair_weight(S[a * ld + k], ra, rk, label_of(p, a) == label_of(p, k));
    }
    S[a * ld + k] = w;
  }
  __syncthreads();
  const float c = sc[0];
  for (int64_t e = tid; e < M * D; e += nt) {
    const int64_t a = e / D, d = e - a * D;
    float acc = 0.0f;
    for (int64_t k = 0; k < M; ++k) acc = fmaf(S[a * ld + k], z[k * D + d], acc);
    gz[e] = c * acc;
  }
  __syncthreads();
  if (p.normalize) {
    for (int64_t a = tid; a < M; a += nt) {
      float dot = 0.0f;
      for (int64_t d = 0; d < D; ++d) dot = fmaf(gz[a * D + d], z[a * D + d], dot);
      rdot[a] = dot;
    }
    __syncthreads();
  }
  for (int64_t e = tid; e < M * D; e += nt) {
    const int64_t a = e / D, d = e - a * D;
    float g = gz[e];
    if (p.normalize) g = comix::l2norm_backward(g, z[e], rdot[a], rinv[a], rclamp[a] != 0.0f);
    write_grad(p, a, d, g);
  }
}

// ------------------------------------------------------------------------------------------
// Shared by the tiled and generic paths.

// One warp per row: gather row r into zn (normalised if asked), remember its norm.
__global__ void supcon_prep_kernel(Params p, Workspace w) {
  const int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= p.M) return;  // whole warps leave together (blockDim is a multiple of 32)
  const float* src = p.x + comix::supcon_row_offset(warp, p.N, p.V, p.D, p.view_major);
  float* dst = w.zn + warp * p.D;
  float inv = 1.0f;
  bool cl = false;
  if (p.normalize) {
    float ss = 0.0f;
    for (int64_t d = lane; d < p.D; d += 32) ss = fmaf(src[d], src[d], ss);
    for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
    const float nrm = sqrtf(ss);
    cl = !(nrm > 1e-12f);
    inv = 1.0f / (cl ? 1e-12f : nrm);
  }
  for (int64_t d = lane; d < p.D; d += 32) dst[d] = src[d] * inv;
  if (lane == 0) w.nrm[warp] = make_float2(inv, cl ? 1.0f : 0.0f);
}

// One block: loss = factor * sum(rowloss) / A over valid anchors; c for the gradient.
__global__ void supcon_reduce_kernel(Params p, Workspace w) {
  __shared__ double st[1024];
  __shared__ long long sa[1024];
  double t = 0.0;
  long long a = 0;
  for (int64_t r = threadIdx.x; r < p.M; r += blockDim.x) {
    const comix::SupconRow row = w.rows[r];
    if (row.valid) { t += row.rowloss; ++a; }
  }
  st[threadIdx.x] = t;
  sa[threadIdx.x] = a;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {  // blockDim is a power of two
    if (threadIdx.x < s) { st[threadIdx.x] += st[threadIdx.x + s]; sa[threadIdx.x] += sa[threadIdx.x + s]; }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const long long A = sa[0];
    *p.loss = A > 0 ? (float)(p.factor * st[0] / (double)A) : 0.0f;
    w.scal[0] = A > 0 ? (float)(p.factor / (double)A) * p.inv_tau * p.gscale : 0.0f;
  }
}

// One warp per row: grad = c * dz (normalisation backward if asked), written with accumulation.
__global__ void supcon_finalize_kernel(Params p, Workspace w) {
  const int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= p.M) return;
  const float c = w.scal[0];
  const float* dz = w.dz + r * p.D;
  const float* z = w.zn + r * p.D;
  float dot = 0.0f;
  if (p.normalize) {
    for (int64_t d = lane; d < p.D; d += 32) dot = fmaf(c * dz[d], z[d], dot);
    for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
  }
  const float2 nr = w.nrm[r];
  for (int64_t d = lane; d < p.D; d += 32) {
    float g = c * dz[d];
    if (p.normalize) g = comix::l2norm_backward(g, z[d], dot, nr.x, nr.y != 0.0f);
    write_grad(p, r, d, g);
  }
}

// ------------------------------------------------------------------------------------------
// Generic path: one warp per anchor row, lane j handles columns k = j, j+32, ...

__global__ void supcon_stats_generic_kernel(Params p, Workspace w) {
  const int64_t a = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (a >= p.M) return;
  const float* za = w.zn + a * p.D;
  const int64_t la = label_of(p, a);
  float m = -INFINITY, l = 0.0f, possum = 0.0f;
  long long npos = 0;
  for (int64_t k = lane; k < p.M; k += 32) {
    if (k == a || !active_of(p, k)) continue;
    const float* zk = w.zn + k * p.D;
    float acc = 0.0f;
    for (int64_t d = 0; d < p.D; ++d) acc = fmaf(za[d], zk[d], acc);
    const float s = acc * p.inv_tau;
    comix::lse_push(s, m, l);
    if (label_of(p, k) == la) { possum += s; ++npos; }
  }
  for (int off = 16; off > 0; off >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, off), l2 = __shfl_xor_sync(0xffffffffu, l, off);
    comix::lse_merge(m, l, m2, l2);
    possum += __shfl_xor_sync(0xffffffffu, possum, off);
    npos += __shfl_xor_sync(0xffffffffu, npos, off);
  }
  if (lane == 0) w.rows[a] = comix::supcon_finish_row(m, l, possum, npos, active_of(p, a));
}

__global__ void supcon_grad_generic_kernel(Params p, Workspace w) {
  const int64_t a = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (a >= p.M) return;
  float* dz = w.dz + a * p.D;
  for (int64_t d = lane; d < p.D; d += 32) dz[d] = 0.0f;  // this lane owns dz[d] from here on
  const bool act_a = active_of(p, a);
  const comix::SupconRow ra = w.rows[a];
  const int64_t la = label_of(p, a);
  const float* za = w.zn + a * p.D;
  for (int64_t k0 = 0; k0 < p.M; k0 += 32) {
    const int64_t k = k0 + lane;
    float wk = 0.0f;
    if (k < p.M && k != a && act_a && active_of(p, k)) {
      const float* zk = w.zn + k * p.D;
      float acc = 0.0f;
      for (int64_t d = 0; d < p.D; ++d) acc = fmaf(za[d], zk[d], acc);
      wk = comix::supcon_pair_weight(acc * p.inv_tau, ra, w.rows[k], label_of(p, k) == la);
    }
    for (int j = 0; j < 32 && k0 + j < p.M; ++j) {  // uniform bound: every lane runs the shuffles
      const float wj = __shfl_sync(0xffffffffu, wk, j);
      const float* zj = w.zn + (k0 + j) * p.D;
      if (wj != 0.0f)
        for (int64_t d = lane; d < p.D; d += 32) dz[d] = fmaf(wj, zj[d], dz[d]);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Tiled path.

constexpr int kLdT = kK + 4;      // TF32 staging: [kTile][kLdT] rows, k contiguous (ldm multiple of 4)
constexpr int kLdC = kTile + 4;    // the TF32 result tile / the W tile: [kTile][kLdC]
constexpr int kStage = 2 * kTile * kLdT > 2 * kK * (kTile + 1) ? 2 * kTile * kLdT : 2 * kK * (kTile + 1);

struct __align__(32) TileSmem {
  // fp32: As [kK][kTile+1] | Bs [kK][kTile+1]; TF32: As [kTile][kLdT] | Bs [kTile][kLdT];
  // reused as Zs [32][kDOut] by the gradient product
  float buf[kStage];
};
static_assert(kStage >= 32 * kDOut, "Zs must fit in the staging buffer");

// acc[i][j] = z_{r0+ty+16i} . z_{c0+tx+16j} (zero outside [0, M)). All threads must call it; it
// starts and ends with the staging buffer free (last statement is a barrier).
__device__ __forceinline__ void sim_tile(const float* __restrict__ z, int64_t M, int64_t D, int64_t r0, int64_t c0,
                                         float* buf, float (&acc)[4][4]) {
  float* As = buf;
  float* Bs = buf + kK * (kTile + 1);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  for (int64_t d0 = 0; d0 < D; d0 += kK) {
    for (int e = threadIdx.x; e < kTile * kK; e += kThreads) {
      const int r = e / kK, dk = e % kK;
      const int64_t d = d0 + dk, ra = r0 + r, rb = c0 + r;
      As[dk * (kTile + 1) + r] = (ra < M && d < D) ? z[ra * D + d] : 0.0f;
      Bs[dk * (kTile + 1) + r] = (rb < M && d < D) ? z[rb * D + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int dk = 0; dk < kK; ++dk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[dk * (kTile + 1) + ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = Bs[dk * (kTile + 1) + tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
}

// Same contract as sim_tile, with the products on tensor cores (TF32 inputs, fp32 accumulation;
// sm_80+): warp w computes rows 16*(w/2).. +16, columns 32*(w%2).. +32 of the tile as two 16x16
// wmma accumulators, stores them to ctile ([kTile][kLdC], 32-byte aligned), and every thread then
// reads its 4 x 4 elements. Ends with a barrier after those reads, so the caller may overwrite
// ctile right away.
__device__ __forceinline__ void sim_tile_tf32(const float* __restrict__ z, int64_t M, int64_t D, int64_t r0,
                                              int64_t c0, float* buf, float* ctile, float (&acc)[4][4]) {
  using namespace nvcuda;
  float* As = buf;                  // As[r * kLdT + k] = z[r0 + r][d0 + k]  (matrix_a, row-major)
  float* Bs = buf + kTile * kLdT;   // Bs[n * kLdT + k] = z[c0 + n][d0 + k]  (matrix_b, column-major)
  const int warp = threadIdx.x / 32, wr = warp / 2, wc = warp % 2;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> cf[2];
  wmma::fill_fragment(cf[0], 0.0f);
  wmma::fill_fragment(cf[1], 0.0f);
  for (int64_t d0 = 0; d0 < D; d0 += kK) {
    for (int e = threadIdx.x; e < kTile * kK; e += kThreads) {
      const int r = e / kK, dk = e % kK;
      const int64_t d = d0 + dk, ra = r0 + r, rb = c0 + r;
      As[r * kLdT + dk] = (ra < M && d < D) ? z[ra * D + d] : 0.0f;
      Bs[r * kLdT + dk] = (rb < M && d < D) ? z[rb * D + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af;
      wmma::load_matrix_sync(af, As + (16 * wr) * kLdT + kk, kLdT);
#pragma unroll
      for (int t = 0; t < af.num_elements; ++t) af.x[t] = wmma::__float_to_tf32(af.x[t]);
#pragma unroll
      for (int f = 0; f < 2; ++f) {
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> bf;
        wmma::load_matrix_sync(bf, Bs + (32 * wc + 16 * f) * kLdT + kk, kLdT);
#pragma unroll
        for (int t = 0; t < bf.num_elements; ++t) bf.x[t] = wmma::__float_to_tf32(bf.x[t]);
        wmma::mma_sync(cf[f], af, bf, cf[f]);
      }
    }
    __syncthreads();  // the staging buffer is free again
  }
#pragma unroll
  for (int f = 0; f < 2; ++f)
    wmma::store_matrix_sync(ctile + (16 * wr) * kLdC + 32 * wc + 16 * f, cf[f], kLdC, wmma::mem_row_major);
  __syncthreads();
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = ctile[(ty + 16 * i) * kLdC + tx + 16 * j];
  __syncthreads();  // everyone has its values: ctile may be overwritten
}

template <bool TF32>
__global__ void __launch_bounds__(kThreads) supcon_stats_tiled_kernel(Params p, Workspace w) {
  __shared__ TileSmem sm;
  __shared__ __align__(32) float ctile[TF32 ? kTile * kLdC : 8];
  __shared__ long long colLab[kTile];
  __shared__ int colAct[kTile];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t r0 = (int64_t)blockIdx.x * kTile;
  int64_t rowLab[4];
  float m[4], l[4], possum[4];
  long long npos[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t a = r0 + ty + 16 * i;
    rowLab[i] = a < p.M ? label_of(p, a) : 0;
    m[i] = -INFINITY; l[i] = 0.0f; possum[i] = 0.0f; npos[i] = 0;
  }
  for (int64_t c0 = 0; c0 < p.M; c0 += kTile) {
    __syncthreads();  // everyone is done with the previous tile's colLab/colAct
    if (threadIdx.x < kTile) {
      const int64_t k = c0 + threadIdx.x;
      colLab[threadIdx.x] = k < p.M ? label_of(p, k) : 0;
      colAct[threadIdx.x] = k < p.M && active_of(p, k);
    }
    float acc[4][4];
    if (TF32) sim_tile_tf32(w.zn, p.M, p.D, r0, c0, sm.buf, ctile, acc);  // first barrier publishes colLab/colAct
    else sim_tile(w.zn, p.M, p.D, r0, c0, sm.buf, acc);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t a = r0 + ty + 16 * i;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int cj = tx + 16 * j;
        const int64_t k = c0 + cj;
        if (a < p.M && k != a && colAct[cj]) {  // colAct is 0 beyond M
          const float s = acc[i][j] * p.inv_tau;
          comix::lse_push(s, m[i], l[i]);
          if (colLab[cj] == rowLab[i]) { possum[i] += s; ++npos[i]; }
        }
      }
    }
  }
  // combine the 16 lanes (tx) that share rows: they are one half-warp
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    for (int off = 8; off > 0; off >>= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m[i], off), l2 = __shfl_xor_sync(0xffffffffu, l[i], off);
      comix::lse_merge(m[i], l[i], m2, l2);
      possum[i] += __shfl_xor_sync(0xffffffffu, possum[i], off);
      npos[i] += __shfl_xor_sync(0xffffffffu, npos[i], off);
    }
    const int64_t a = r0 + ty + 16 * i;
    if (tx == 0 && a < p.M) w.rows[a] = comix::supcon_finish_row(m[i], l[i], possum[i], npos[i], active_of(p, a));
  }
}

// grid (row tiles, ceil(D / 128)). direct: write the gradient (D <= 128 or no normalisation);
// else store raw sums in w.dz for supcon_finalize_kernel.
template <bool TF32>
__global__ void __launch_bounds__(kThreads) supcon_grad_tiled_kernel(Params p, Workspace w, bool direct) {
  __shared__ TileSmem sm;
  // The W tile; with TF32 it is also sim_tile_tf32's result tile (that function ends with a
  // barrier after reading it, so W may be written right after).
  __shared__ __align__(32) float wsbuf[kTile * kLdC];
  __shared__ comix::SupconRow rowR[kTile], colR[kTile];
  __shared__ long long rowLab[kTile], colLab[kTile];
  __shared__ int rowAct[kTile], colAct[kTile];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t r0 = (int64_t)blockIdx.x * kTile, dO = (int64_t)blockIdx.y * kDOut;
  if (threadIdx.x < kTile) {
    const int64_t a = r0 + threadIdx.x;
    comix::SupconRow none;
    none.lse = 0.0f; none.inv_npos = 0.0f; none.rowloss = 0.0f; none.valid = 0;
    rowR[threadIdx.x] = a < p.M ? w.rows[a] : none;
    rowLab[threadIdx.x] = a < p.M ? label_of(p, a) : 0;
    rowAct[threadIdx.x] = a < p.M && active_of(p, a);
  }
  float g[4][8];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) g[i][j] = 0.0f;
  for (int64_t c0 = 0; c0 < p.M; c0 += kTile) {
    __syncthreads();  // previous tile's Ws / colR readers are done
    if (threadIdx.x < kTile) {
      const int64_t k = c0 + threadIdx.x;
      comix::SupconRow none;
      none.lse = 0.0f; none.inv_npos = 0.0f; none.rowloss = 0.0f; none.valid = 0;
      colR[threadIdx.x] = k < p.M ? w.rows[k] : none;
      colLab[threadIdx.x] = k < p.M ? label_of(p, k) : 0;
      colAct[threadIdx.x] = k < p.M && active_of(p, k);
    }
    float acc[4][4];
    if (TF32) sim_tile_tf32(w.zn, p.M, p.D, r0, c0, sm.buf, wsbuf, acc);  // first barrier publishes row*/col* data
    else sim_tile(w.zn, p.M, p.D, r0, c0, sm.buf, acc);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int ri = ty + 16 * i;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int cj = tx + 16 * j;
        float wv = 0.0f;
        if (rowAct[ri] && colAct[cj] && r0 + ri != c0 + cj)
          wv = comix::supcon_pair_weight(acc[i][j] * p.inv_tau, rowR[ri], colR[cj], rowLab[ri] == colLab[cj]);
        wsbuf[ri * kLdC + cj] = wv;
      }
    }
    // dz[r0+ri][dO + tx + 16j] += sum_k Ws[ri][k] * z[c0+k][...], k in two halves of 32 rows
    float* Zs = sm.buf;  // [32][kDOut]; sim_tile ended with a barrier, so the buffer is free
    for (int h = 0; h < 2; ++h) {
      __syncthreads();  // Ws complete (h = 0) / previous half's Zs readers done (h = 1)
      for (int e = threadIdx.x; e < 32 * kDOut; e += kThreads) {
        const int kk = e / kDOut, dd = e % kDOut;
        const int64_t k = c0 + 32 * h + kk, d = dO + dd;
        Zs[e] = (k < p.M && d < p.D) ? w.zn[k * p.D + d] : 0.0f;
      }
      __syncthreads();
#pragma unroll 4
      for (int kk = 0; kk < 32; ++kk) {
        float wv[4], zv[8];
#pragma unroll
        for (int i = 0; i < 4; ++i) wv[i] = wsbuf[(ty + 16 * i) * kLdC + 32 * h + kk];
#pragma unroll
        for (int j = 0; j < 8; ++j) zv[j] = Zs[kk * kDOut + tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 8; ++j) g[i][j] = fmaf(wv[i], zv[j], g[i][j]);
      }
    }
    __syncthreads();  // Zs (the staging buffer) is free for the next sim_tile
  }
  const float c = w.scal[0];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t a = r0 + ty + 16 * i;
    float dot = 0.0f;
    if (direct && p.normalize) {  // D <= 128: this block holds the whole row (16 lanes x 8 columns)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int64_t d = dO + tx + 16 * j;
        if (a < p.M && d < p.D) dot = fmaf(c * g[i][j], w.zn[a * p.D + d], dot);
      }
      for (int off = 8; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    }
    if (a >= p.M) continue;
    const float2 nr = w.nrm[a];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int64_t d = dO + tx + 16 * j;
      if (d >= p.D) continue;
      if (!direct) {
        w.dz[a * p.D + d] = g[i][j];
      } else {
        float gv = c * g[i][j];
        if (p.normalize) gv = comix::l2norm_backward(gv, w.zn[a * p.D + d], dot, nr.x, nr.y != 0.0f);
        write_grad(p, a, d, gv);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------
// GEMM path: the three M x M x D products run in cuBLAS (called from Java, CudaOps), these
// kernels do everything else. Order on one stream: gemm_prep -> per row block [S_blk = Z_blk Z^T / tau
// (cuBLAS) -> gemm_rows -> dZ += P_blk Z, dZ += P_blk^T Z_blk (cuBLAS)] -> gemm_finish; or, when the
// whole S is stored: S = Z Z^T / tau -> gemm_rows (statistics only) -> gemm_sym -> dZ = W Z -> finish.

constexpr int kRowThreads = 256;  // one block per similarity row

// One warp per row: zn (normalised if asked; zero rows for masked samples, so they add nothing to
// the products), nrm, key, act; dz zeroed (the row-block products accumulate into it).
__global__ void supcon_gemm_prep_kernel(Params p, Workspace w) {
  const int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= p.M) return;  // whole warps leave together
  const bool act = active_of(p, r);
  const float* src = p.x + comix::supcon_row_offset(r, p.N, p.V, p.D, p.view_major);
  float* dst = w.zn + r * p.D;
  float* dz = w.dz + r * p.D;
  float inv = 1.0f;
  bool cl = false;
  if (act && p.normalize) {
    float ss = 0.0f;
    for (int64_t d = lane; d < p.D; d += 32) ss = fmaf(src[d], src[d], ss);
    for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
    const float nrm = sqrtf(ss);
    cl = !(nrm > 1e-12f);
    inv = 1.0f / (cl ? 1e-12f : nrm);
  }
  for (int64_t d = lane; d < p.D; d += 32) {
    dst[d] = act ? src[d] * inv : 0.0f;
    dz[d] = 0.0f;
  }
  if (lane == 0) {
    w.nrm[r] = make_float2(inv, cl ? 1.0f : 0.0f);
    w.key[r] = label_of(p, r);
    w.act[r] = act ? 1 : 0;
  }
}

// What a row kernel needs of column k besides s_ak.
struct ColInfo {
  long long key;
  bool act;
  float2 st;  // w.rstat[k], loaded only with ST
};

// For every k < M (each element touched by one thread): f(k, s_ak, column k) on row[k]; with
// WRITE, row[k] = its result. VEC (row 16-byte aligned): float4 elements, and the column labels
// and flags as two 16-byte and one 4-byte load per 4 columns (scalar 8-byte loads at a 32-byte
// lane stride would cost the L1 8x the row's own traffic). ST: also w.rstat (two 16-byte loads).
template <bool VEC, bool WRITE, bool ST, class F>
__device__ __forceinline__ void for_row(float* row, int64_t M, const Workspace& w, F f) {
  int64_t k0 = 0;
  if (VEC) {
    const int64_t M4 = M / 4;
    float4* r4 = reinterpret_cast<float4*>(row);
    const longlong2* key2 = reinterpret_cast<const longlong2*>(w.key);  // 256-byte aligned
    const uchar4* act4 = reinterpret_cast<const uchar4*>(w.act);
#pragma unroll 2
    for (int64_t q = threadIdx.x; q < M4; q += blockDim.x) {
      float4 v = r4[q];
      const longlong2 ka = key2[2 * q], kb = key2[2 * q + 1];
      const uchar4 ac = act4[q];
      float4 sa = make_float4(0.0f, 0.0f, 0.0f, 0.0f), sb = sa;
      if (ST) {
        const float4* st4 = reinterpret_cast<const float4*>(w.rstat);  // 256-byte aligned
        sa = st4[2 * q];
        sb = st4[2 * q + 1];
      }
      const float o0 = f(4 * q, v.x, ColInfo{ka.x, ac.x != 0, make_float2(sa.x, sa.y)});
      const float o1 = f(4 * q + 1, v.y, ColInfo{ka.y, ac.y != 0, make_float2(sa.z, sa.w)});
      const float o2 = f(4 * q + 2, v.z, ColInfo{kb.x, ac.z != 0, make_float2(sb.x, sb.y)});
      const float o3 = f(4 * q + 3, v.w, ColInfo{kb.y, ac.w != 0, make_float2(sb.z, sb.w)});
      if (WRITE) r4[q] = make_float4(o0, o1, o2, o3);
    }
    k0 = 4 * M4;
  }
  for (int64_t k = k0 + threadIdx.x; k < M; k += blockDim.x) {
    const float o = f(k, row[k], ColInfo{w.key[k], w.act[k] != 0, ST ? w.rstat[k] : make_float2(0.0f, 0.0f)});
    if (WRITE) row[k] = o;
  }
}

// One block per row a = r0 + blockIdx.x of S (row stride ldS, already scaled by 1/tau): the same
// statistics as the other paths (online log-sum-exp over active k != a, positive sum and count)
// into w.rows[a]; with write_p, the row is then overwritten by
//   P_ak = valid_a * (exp(s_ak - lse_a) - [label_k = label_a] / |P(a)|)   (k != a, k active; else 0)
// so that sum_k (P_ak + P_ka) z_k is the raw gradient of the other paths (W = P + P^T).
template <bool VEC>
__global__ void __launch_bounds__(kRowThreads) supcon_gemm_rows_kernel(Workspace w, int64_t M, float* S, int64_t ldS,
                                                                       int64_t r0, bool write_p) {
  __shared__ float red_m[kRowThreads / 32], red_l[kRowThreads / 32], red_p[kRowThreads / 32];
  __shared__ long long red_n[kRowThreads / 32];
  __shared__ comix::SupconRow shrow;
  const int64_t a = r0 + blockIdx.x;
  float* srow = S + (int64_t)blockIdx.x * ldS;
  const bool act_a = w.act[a] != 0;
  const long long key_a = w.key[a];
  float m = -INFINITY, l = 0.0f, possum = 0.0f;
  long long npos = 0;
  if (act_a)
    for_row<VEC, false, false>(srow, M, w, [&](int64_t k, float s, const ColInfo& col) -> float {
      if (k == a || !col.act) return 0.0f;
      comix::lse_push(s, m, l);
      if (col.key == key_a) { possum += s; ++npos; }
      return 0.0f;
    });
  for (int off = 16; off > 0; off >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, off), l2 = __shfl_xor_sync(0xffffffffu, l, off);
    comix::lse_merge(m, l, m2, l2);
    possum += __shfl_xor_sync(0xffffffffu, possum, off);
    npos += __shfl_xor_sync(0xffffffffu, npos, off);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) { red_m[warp] = m; red_l[warp] = l; red_p[warp] = possum; red_n[warp] = npos; }
  __syncthreads();
  if (warp == 0) {
    const int nw = blockDim.x / 32;
    m = lane < nw ? red_m[lane] : -INFINITY;
    l = lane < nw ? red_l[lane] : 0.0f;
    possum = lane < nw ? red_p[lane] : 0.0f;
    npos = lane < nw ? red_n[lane] : 0;
    for (int off = 16; off > 0; off >>= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m, off), l2 = __shfl_xor_sync(0xffffffffu, l, off);
      comix::lse_merge(m, l, m2, l2);
      possum += __shfl_xor_sync(0xffffffffu, possum, off);
      npos += __shfl_xor_sync(0xffffffffu, npos, off);
    }
    if (lane == 0) {
      shrow = comix::supcon_finish_row(m, l, possum, npos, act_a);
      w.rows[a] = shrow;
      w.rstat[a] = make_float2(shrow.valid ? shrow.lse : INFINITY, shrow.inv_npos);
    }
  }
  __syncthreads();
  if (!write_p) return;
  const comix::SupconRow ra = shrow;
  if (!ra.valid) {  // the whole row of P is zero (block-uniform branch)
    for_row<VEC, true, false>(srow, M, w, [](int64_t, float, const ColInfo&) -> float { return 0.0f; });
    return;
  }
  for_row<VEC, true, false>(srow, M, w, [&](int64_t k, float s, const ColInfo& col) -> float {
    if (k == a || !col.act) return 0.0f;
    float v = expf(s - ra.lse);
    if (col.key == key_a) v -= ra.inv_npos;
    return v;
  });
}

// Whole S stored (rows [0, M)), after gemm_rows has filled w.rows for every row: S is overwritten
// by the symmetric W_ak = P_ak + P_ka (supcon_pair_weight, as the tiled path), so dZ = W Z.
template <bool VEC>
__global__ void __launch_bounds__(kRowThreads) supcon_gemm_sym_kernel(Workspace w, int64_t M, float* S, int64_t ldS) {
  const int64_t a = blockIdx.x;
  float* srow = S + a * ldS;
  const bool act_a = w.act[a] != 0;
  const long long key_a = w.key[a];
  const comix::SupconRow ra = w.rows[a];
  if (!act_a) {  // block-uniform
    for_row<VEC, true, false>(srow, M, w, [](int64_t, float, const ColInfo&) -> float { return 0.0f; });
    return;
  }
  for_row<VEC, true, true>(srow, M, w, [&](int64_t k, float s, const ColInfo& col) -> float {
    if (k == a || !col.act) return 0.0f;
    comix::SupconRow rk;  // col.st = (valid ? lse : +inf, 1/|P|): the 8 bytes of row k's statistics W needs
    rk.valid = col.st.x != INFINITY;
    rk.lse = col.st.x;
    rk.inv_npos = col.st.y;
    rk.rowloss = 0.0f;
    return comix::supcon_pair_weight(s, ra, rk, col.key == key_a);
  });
}

int run(const Params& p, void* workspace, int64_t ws_bytes, cudaStream_t s, int path) {
  int dev = 0, smem_max = 0;
  COMIX_CUDA_TRY(cudaGetDevice(&dev));
  COMIX_CUDA_TRY(cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlock, dev));
  const int64_t tiny_bytes = tiny_smem_bytes(p.M, p.D);
  const bool tiny_fits = tiny_bytes <= (int64_t)smem_max;  // the default (non opt-in) per-block limit
  if (path == 1 && !tiny_fits) return COMIX_ERR_ARGUMENT;
  if ((path == 0 && tiny_fits) || path == 1) {
    supcon_tiny_kernel<<<1, kThreads, (size_t)tiny_bytes, s>>>(p);
    COMIX_CUDA_LAUNCHED();
    return COMIX_OK;
  }
  if (!workspace || ws_bytes < workspace_bytes(p.M, p.D)) return COMIX_ERR_ARGUMENT;
  const Workspace w = carve(workspace, p.M, p.D);
  const int warps_per_block = 8;
  const int row_blocks = (int)((p.M + warps_per_block - 1) / warps_per_block);
  supcon_prep_kernel<<<row_blocks, 32 * warps_per_block, 0, s>>>(p, w);
  COMIX_CUDA_LAUNCHED();
  if (path == 3) {
    supcon_stats_generic_kernel<<<row_blocks, 32 * warps_per_block, 0, s>>>(p, w);
    COMIX_CUDA_LAUNCHED();
  } else {
    if (p.tf32) supcon_stats_tiled_kernel<true><<<(unsigned)((p.M + kTile - 1) / kTile), kThreads, 0, s>>>(p, w);
    else supcon_stats_tiled_kernel<false><<<(unsigned)((p.M + kTile - 1) / kTile), kThreads, 0, s>>>(p, w);
    COMIX_CUDA_LAUNCHED();
  }
  supcon_reduce_kernel<<<1, 1024, 0, s>>>(p, w);
  COMIX_CUDA_LAUNCHED();
  if (!p.grad) return COMIX_OK;
  if (path == 3) {
    supcon_grad_generic_kernel<<<row_blocks, 32 * warps_per_block, 0, s>>>(p, w);
    COMIX_CUDA_LAUNCHED();
    supcon_finalize_kernel<<<row_blocks, 32 * warps_per_block, 0, s>>>(p, w);
    COMIX_CUDA_LAUNCHED();
    return COMIX_OK;
  }
  const bool direct = !p.normalize || p.D <= kDOut;
  const dim3 grid((unsigned)((p.M + kTile - 1) / kTile), (unsigned)((p.D + kDOut - 1) / kDOut));
  if (p.tf32) supcon_grad_tiled_kernel<true><<<grid, kThreads, 0, s>>>(p, w, direct);
  else supcon_grad_tiled_kernel<false><<<grid, kThreads, 0, s>>>(p, w, direct);
  COMIX_CUDA_LAUNCHED();
  if (!direct) {
    supcon_finalize_kernel<<<row_blocks, 32 * warps_per_block, 0, s>>>(p, w);
    COMIX_CUDA_LAUNCHED();
  }
  return COMIX_OK;
}

}  // namespace

extern "C" int64_t comix_supcon_cuda_workspace_bytes(int64_t N, int64_t V, int64_t D, int flags) {
  if (N < 1 || V < 1 || D < 1) return 0;
  return workspace_bytes(N * V, D);
}

extern "C" int comix_supcon_cuda_path(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                                      const uint8_t* mask, float temperature, float base_temperature, int flags,
                                      float grad_scale, float* loss, float* grad, void* workspace,
                                      int64_t workspace_bytes_, void* stream, int path) {
  if (!features || !loss || N < 1 || V < 1 || D < 1 || path < 0 || path > 3) return COMIX_ERR_ARGUMENT;
  if (!(temperature > 0.0f) || !std::isfinite(temperature) || !(base_temperature > 0.0f) || !std::isfinite(base_temperature))
    return COMIX_ERR_ARGUMENT;
  if (!std::isfinite(grad_scale)) return COMIX_ERR_ARGUMENT;
  if (flags & ~(COMIX_SUPCON_NORMALIZE | COMIX_SUPCON_VIEW_MAJOR | COMIX_SUPCON_ACCUMULATE | COMIX_SUPCON_TF32))
    return COMIX_ERR_ARGUMENT;
  if (N * V > ((int64_t)1 << 31) / kTile) return COMIX_ERR_ARGUMENT;  // grid.x bound of the tiled kernels
  Params p;
  p.x = features;
  p.N = N; p.V = V; p.D = D; p.M = N * V;
  p.labels = labels;
  p.mask = mask;
  p.inv_tau = 1.0f / temperature;
  p.factor = temperature / base_temperature;
  p.gscale = grad_scale;
  p.normalize = (flags & COMIX_SUPCON_NORMALIZE) != 0;
  p.view_major = (flags & COMIX_SUPCON_VIEW_MAJOR) != 0;
  p.accumulate = (flags & COMIX_SUPCON_ACCUMULATE) != 0;
  p.tf32 = (flags & COMIX_SUPCON_TF32) != 0 && D >= 64;
  p.loss = loss;
  p.grad = grad;
  return run(p, workspace, workspace_bytes_, static_cast<cudaStream_t>(stream), path);
}

extern "C" int comix_supcon_cuda(const float* features, int64_t N, int64_t V, int64_t D, const int64_t* labels,
                                 const uint8_t* mask, float temperature, float base_temperature, int flags,
                                 float grad_scale, float* loss, float* grad, void* workspace, int64_t workspace_bytes_,
                                 void* stream) {
  return comix_supcon_cuda_path(features, N, V, D, labels, mask, temperature, base_temperature, flags, grad_scale, loss,
                                grad, workspace, workspace_bytes_, stream, 0);
}

// ---- GEMM path stages (see supcon.h) ----

namespace {

int gemm_params(int64_t N, int64_t V, int64_t D, int flags, Params& p) {
  if (N < 1 || V < 1 || D < 1) return COMIX_ERR_ARGUMENT;
  if (flags & ~(COMIX_SUPCON_NORMALIZE | COMIX_SUPCON_VIEW_MAJOR | COMIX_SUPCON_ACCUMULATE | COMIX_SUPCON_TF32))
    return COMIX_ERR_ARGUMENT;
  if (N * V > ((int64_t)1 << 31) / kTile) return COMIX_ERR_ARGUMENT;
  p = Params{};
  p.N = N; p.V = V; p.D = D; p.M = N * V;
  p.normalize = (flags & COMIX_SUPCON_NORMALIZE) != 0;
  p.view_major = (flags & COMIX_SUPCON_VIEW_MAJOR) != 0;
  p.accumulate = (flags & COMIX_SUPCON_ACCUMULATE) != 0;
  p.tf32 = false;
  return COMIX_OK;
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

}  // namespace

extern "C" int64_t comix_supcon_cuda_workspace_offset(int64_t N, int64_t V, int64_t D, int flags, int part) {
  (void)flags;
  if (N < 1 || V < 1 || D < 1 || part < 0 || part > 1) return -1;
  return workspace_offset(N * V, D, part);
}

extern "C" int comix_supcon_cuda_gemm_prep(const float* features, int64_t N, int64_t V, int64_t D,
                                           const int64_t* labels, const uint8_t* mask, int flags, void* workspace,
                                           int64_t workspace_bytes_, void* stream) {
  Params p;
  if (!features || !workspace || gemm_params(N, V, D, flags, p) != COMIX_OK) return COMIX_ERR_ARGUMENT;
  if (workspace_bytes_ < workspace_bytes(p.M, D)) return COMIX_ERR_ARGUMENT;
  p.x = features;
  p.labels = labels;
  p.mask = mask;
  const Workspace w = carve(workspace, p.M, D);
  const int warps_per_block = 8;
  supcon_gemm_prep_kernel<<<(unsigned)((p.M + warps_per_block - 1) / warps_per_block), 32 * warps_per_block, 0,
                            static_cast<cudaStream_t>(stream)>>>(p, w);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_supcon_cuda_gemm_rows(int64_t N, int64_t V, int64_t D, float* S, int64_t ldS, int64_t r0,
                                           int64_t rows, int write_p, void* workspace, int64_t workspace_bytes_,
                                           void* stream) {
  Params p;
  if (!S || !workspace || gemm_params(N, V, D, 0, p) != COMIX_OK) return COMIX_ERR_ARGUMENT;
  if (workspace_bytes_ < workspace_bytes(p.M, D) || ldS < p.M || r0 < 0 || rows < 1 || r0 + rows > p.M ||
      rows > INT32_MAX)
    return COMIX_ERR_ARGUMENT;
  const Workspace w = carve(workspace, p.M, D);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (aligned16(S) && ldS % 4 == 0 && aligned16(workspace)) supcon_gemm_rows_kernel<true><<<(unsigned)rows, kRowThreads, 0, s>>>(w, p.M, S, ldS, r0, write_p != 0);
  else supcon_gemm_rows_kernel<false><<<(unsigned)rows, kRowThreads, 0, s>>>(w, p.M, S, ldS, r0, write_p != 0);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_supcon_cuda_gemm_sym(int64_t N, int64_t V, int64_t D, float* S, int64_t ldS, void* workspace,
                                          int64_t workspace_bytes_, void* stream) {
  Params p;
  if (!S || !workspace || gemm_params(N, V, D, 0, p) != COMIX_OK) return COMIX_ERR_ARGUMENT;
  if (workspace_bytes_ < workspace_bytes(p.M, D) || ldS < p.M) return COMIX_ERR_ARGUMENT;
  const Workspace w = carve(workspace, p.M, D);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (aligned16(S) && ldS % 4 == 0 && aligned16(workspace)) supcon_gemm_sym_kernel<true><<<(unsigned)p.M, kRowThreads, 0, s>>>(w, p.M, S, ldS);
  else supcon_gemm_sym_kernel<false><<<(unsigned)p.M, kRowThreads, 0, s>>>(w, p.M, S, ldS);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_supcon_cuda_gemm_finish(int64_t N, int64_t V, int64_t D, float temperature,
                                             float base_temperature, int flags, float grad_scale, float* loss,
                                             float* grad, void* workspace, int64_t workspace_bytes_, void* stream) {
  Params p;
  if (!loss || !workspace || gemm_params(N, V, D, flags, p) != COMIX_OK) return COMIX_ERR_ARGUMENT;
  if (!(temperature > 0.0f) || !std::isfinite(temperature) || !(base_temperature > 0.0f) ||
      !std::isfinite(base_temperature) || !std::isfinite(grad_scale))
    return COMIX_ERR_ARGUMENT;
  if (workspace_bytes_ < workspace_bytes(p.M, D)) return COMIX_ERR_ARGUMENT;
  p.inv_tau = 1.0f / temperature;
  p.factor = temperature / base_temperature;
  p.gscale = grad_scale;
  p.loss = loss;
  p.grad = grad;
  const Workspace w = carve(workspace, p.M, D);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  supcon_reduce_kernel<<<1, 1024, 0, s>>>(p, w);
  COMIX_CUDA_LAUNCHED();
  if (!grad) return COMIX_OK;
  const int warps_per_block = 8;
  supcon_finalize_kernel<<<(unsigned)((p.M + warps_per_block - 1) / warps_per_block), 32 * warps_per_block, 0, s>>>(p, w);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}
