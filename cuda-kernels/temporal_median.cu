// Temporal median on the GPU; CPU reference: native/src/cpu/temporal_median.cpp.
//
// Staged kernel: a block owns a tile of E = 4*COLS consecutive elements. It copies the tile's
// T rows (E bytes each) from global memory into shared memory once, with 16-byte cp.async loads
// (coalesced: a row of 128 bytes is 8 such loads), so every frame byte is read from DRAM
// exactly once. The k-th smallest value per element is then found by a bitwise binary search
// over shared memory (8 passes, plus one for even T). A thread holds 4 elements as one packed
// word and counts with byte-SIMD compares (__vsetltu4); the T rows are split into S slices
// across the block's threads and the per-slice counts are summed through shared memory.
//
// Direct kernel: when T rows of a tile do not fit shared memory (T > ~7000), one thread per
// element reads global memory in each pass; correct at any T, 9x the traffic.
#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <cuda_runtime.h>

#include "comix/cuda_runtime_info.h"
#include "comix/temporal_median.h"
#include "comix_math.cuh"
#include "cuda_check.cuh"
#include "median_bitslice.cuh"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ uint32_t byte_of(uint32_t w, int j) { return (w >> (8 * j)) & 0xffu; }

// Per-row counting step of the bitwise search, two ways (chosen by template for measurement):
//  kVset: __vsetltu4 per packed word (a video instruction, emulated on sm_90);
//  kLanes: bytes split into two 16-bit-lane words (PRMT), x + (256 - c) per lane has bit 8 set
//          exactly when x >= c; the masked bits accumulate as counts of x >= c.
//  kHalf: bytes placed in the mantissa of fp16 1024.0 (PRMT: 1024 + x, exact), compared and
//         counted two at a time with HSET2/HADD2 on the FP pipes; counts exact up to 2048 rows.
//  kHist: not a bitwise search at all: the two-level nibble histogram of median_hist2.
//  kBitslice: not this kernel either: median_bitslice below (bit planes, 32 pixels per op).
//  kBitslice2: median_bitslice2, version 12 of the same (fewer instructions around the search).
//  kBitslice3: median_bitslice3, version 13: version 12 with a tile's frames split over 2 or 4
//  warps of one block (more warps per SM for the same shared memory).
//  kBitslice4: median_bitslice4, version 14: version 12 with straight-line passes (slot count a
//  template constant) and NW = 1 to 4 warps per block sharing wider row pieces when staging.
//  kBitslice5: median_bitslice5, version 15: version 14 staged by the bulk copy engine (sm_90).
//  kBitslice6: median_bitslice6, version 16: version 14 with rows staged in global byte order.
//  kBitslice7: median_bitslice with LIN, version 17: version 11 staged in global byte order.
//  (Variant 6, version 12 plus an L2 prefetch of the tile that starts next, was measured on an
//  H200 and removed: 1.62 ms at 1080p x 300 against 1.11 without it, benchmarks/RESULTS.md.)
enum CountMode { kVset = 0, kLanes = 1, kHalf = 2, kHist = 3, kBitslice = 4, kBitslice2 = 5, kBitslice3 = 7, kBitslice4 = 11,
                 kBitslice5 = 12, kBitslice6 = 13, kBitslice7 = 14 };

__device__ __forceinline__ __half2 half2_bits(uint32_t bits) {
  // A plain register reinterpretation: building a __half2_raw from the two 16-bit halves made
  // the compiler emit 2 SHF + 2 PRMT per word to repack them (seen in the SASS of run 3).
  __half2 h;
  memcpy(&h, &bits, sizeof h);
  return h;
}
// Copies a tile's T rows of E bytes (w valid, the rest zeroed) into shared memory. Vector path:
// whole 16-byte cp.async chunks (n % 16 == 0 makes every tile's width a multiple of 16 and every
// row start 16-byte aligned), so each frame byte is read from DRAM once. 32-bit index math only.
template <int E>
__device__ __forceinline__ void stage_tile(unsigned char* tile8, const uint8_t* __restrict__ base, int T, int64_t n,
                                           int w, bool vec16) {
  constexpr int CH = E / 16;
  if (vec16) {
    const int chunks = w / 16;
    for (int q = threadIdx.x; q < T * CH; q += blockDim.x) {
      const int t = q / CH, c = q % CH;  // CH is a power of two: shifts
      if (c < chunks) __pipeline_memcpy_async(tile8 + t * E + 16 * c, base + (int64_t)t * n + 16 * c, 16);
      else *reinterpret_cast<uint4*>(tile8 + t * E + 16 * c) = make_uint4(0, 0, 0, 0);
    }
    __pipeline_commit();
    __pipeline_wait_prior(0);
  } else {
    for (int q = threadIdx.x; q < T * E; q += blockDim.x) {
      const int t = q / E, c = q % E;
      tile8[q] = c < w ? base[(int64_t)t * n + c] : 0;
    }
  }
}

template <int COLS, int MODE>
__global__ void __launch_bounds__(kThreads)
median_staged(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out, bool vec16) {
  constexpr int E = 4 * COLS;        // bytes (elements) per tile
  constexpr int S = kThreads / COLS; // row slices
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr bool W0 = MODE >= 8;     // reduce the per-slice counts in warp 0 only
  constexpr int CM = MODE & 7;       // counting mode
  uint4* partial = reinterpret_cast<uint4*>(smem);               // [2][S][COLS]
  uint32_t* pfx = reinterpret_cast<uint32_t*>(smem + 2 * S * COLS * sizeof(uint4));   // [COLS] (W0)
  uint32_t* tile = pfx + COLS;                                                         // [T][COLS]
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile);

  const int col = threadIdx.x % COLS, slice = threadIdx.x / COLS;
  const int64_t e0 = (int64_t)blockIdx.x * E;
  const int w = (int)(n - e0 < E ? n - e0 : E);
  const uint8_t* base = frames + e0;

  stage_tile<E>(tile8, base, T, n, w, vec16);
  __syncthreads();

  const int k1 = (int)comix::median_rank_lo(T), k2 = (int)comix::median_rank_hi(T);
  const uint32_t* my = tile + col;
  // rows this thread visits: slice, slice+S, ... < T
  const int my_rows = T > slice ? (T - slice + S - 1) / S : 0;
  uint32_t prefix = 0;
  int buf = 0;
  for (int bit = 7; bit >= 0; --bit, buf ^= 1) {
    const uint32_t cand = prefix | (0x01010101u << bit);
    uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    if (CM == kVset) {
      for (int r0 = 0; r0 < my_rows; r0 += 255) {
        const int r1 = min(my_rows, r0 + 255);
        uint32_t acc = 0;  // 4 byte-lane counters, at most 255 rows each
#pragma unroll 8
        for (int r = r0; r < r1; ++r) acc += __vsetltu4(my[(slice + r * S) * COLS], cand);
        c0 += acc & 0xffu; c1 += (acc >> 8) & 0xffu; c2 += (acc >> 16) & 0xffu; c3 += acc >> 24;
      }
    } else if (CM == kHalf) {
      const __half2 clo = half2_bits(__byte_perm(cand, 0x64646464u, 0x4240));  // 1024 + c0, 1024 + c2
      const __half2 chi = half2_bits(__byte_perm(cand, 0x64646464u, 0x4341));  // 1024 + c1, 1024 + c3
      for (int r0 = 0; r0 < my_rows; r0 += 2048) {
        const int r1 = min(my_rows, r0 + 2048);
        __half2 alo = __float2half2_rn(0.f), ahi = alo;
#pragma unroll 8
        for (int r = r0; r < r1; ++r) {
          const uint32_t x = my[(slice + r * S) * COLS];
          alo = __hadd2(alo, __hlt2(half2_bits(__byte_perm(x, 0x64646464u, 0x4240)), clo));
          ahi = __hadd2(ahi, __hlt2(half2_bits(__byte_perm(x, 0x64646464u, 0x4341)), chi));
        }
        c0 += (uint32_t)__low2float(alo); c2 += (uint32_t)__high2float(alo);
        c1 += (uint32_t)__low2float(ahi); c3 += (uint32_t)__high2float(ahi);
      }
    } else {
      // lanes: bytes 0,2 in "lo", bytes 1,3 in "hi"; K = 256 - c per lane
      const uint32_t klo = 0x01000100u - __byte_perm(cand, 0, 0x4240);
      const uint32_t khi = 0x01000100u - __byte_perm(cand, 0, 0x4341);
      for (int r0 = 0; r0 < my_rows; r0 += 255) {
        const int r1 = min(my_rows, r0 + 255);
        uint32_t alo = 0, ahi = 0;
#pragma unroll 8
        for (int r = r0; r < r1; ++r) {
          const uint32_t x = my[(slice + r * S) * COLS];
          alo += (__byte_perm(x, 0, 0x4240) + klo) & 0x01000100u;
          ahi += (__byte_perm(x, 0, 0x4341) + khi) & 0x01000100u;
        }
        const uint32_t rows = (uint32_t)(r1 - r0);  // counted x >= c; below = rows - that
        c0 += rows - ((alo >> 8) & 0xffu); c2 += rows - (alo >> 24);
        c1 += rows - ((ahi >> 8) & 0xffu); c3 += rows - (ahi >> 24);
      }
    }
    partial[(buf * S + slice) * COLS + col] = make_uint4(c0, c1, c2, c3);
    __syncthreads();
    if (!W0 || slice == 0) {
      uint4 sum = make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const uint4 p = partial[(buf * S + s) * COLS + col];
        sum.x += p.x; sum.y += p.y; sum.z += p.z; sum.w += p.w;
      }
      const uint32_t cnt[4] = {sum.x, sum.y, sum.z, sum.w};
      uint32_t next = 0;
#pragma unroll
      for (int j = 0; j < 4; ++j)
        next |= comix::select_step(byte_of(prefix, j), byte_of(cand, j), cnt[j], (uint32_t)k1) << (8 * j);
      prefix = next;
      if (W0) pfx[col] = next;
    }
    if (W0) {
      // pfx is rewritten only after the next pass's first barrier, which every thread reaches
      // after this read.
      __syncthreads();
      prefix = pfx[col];
    }
  }

  uint32_t result = prefix;
  if (k1 != k2) {
    // One more pass: how many values are <= v1, and the smallest value above v1.
    uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, mn = 0xffffffffu;
    for (int r0 = 0; r0 < my_rows; r0 += 255) {
      const int r1 = min(my_rows, r0 + 255);
      uint32_t acc = 0;
#pragma unroll 8
      for (int r = r0; r < r1; ++r) {
        const uint32_t x = my[(slice + r * S) * COLS];
        acc += __vsetleu4(x, prefix);
        mn = __vminu4(mn, x | ~__vcmpgtu4(x, prefix));
      }
      c0 += acc & 0xffu; c1 += (acc >> 8) & 0xffu; c2 += (acc >> 16) & 0xffu; c3 += acc >> 24;
    }
    partial[(buf * S + slice) * COLS + col] = make_uint4(c0, c1, c2, c3);
    __syncthreads();
    uint4 sum = make_uint4(0, 0, 0, 0);
    for (int s = 0; s < S; ++s) {
      const uint4 p = partial[(buf * S + s) * COLS + col];
      sum.x += p.x; sum.y += p.y; sum.z += p.z; sum.w += p.w;
    }
    buf ^= 1;
    partial[(buf * S + slice) * COLS + col].x = mn;
    __syncthreads();
    uint32_t mall = 0xffffffffu;
    for (int s = 0; s < S; ++s) mall = __vminu4(mall, partial[(buf * S + s) * COLS + col].x);
    const uint32_t le[4] = {sum.x, sum.y, sum.z, sum.w};
    result = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t lo = byte_of(prefix, j);
      const uint32_t hi = (int)le[j] > k2 ? lo : byte_of(mall, j);
      result |= (uint32_t)comix::median_even(lo, hi) << (8 * j);
    }
  }

  if (slice == 0) {
    const int64_t i = e0 + 4 * col;
    if (vec16 && i + 4 <= n) {
      *reinterpret_cast<uint32_t*>(out + i) = result;
    } else {
      for (int j = 0; j < 4; ++j)
        if (i + j < n) out[i + j] = (uint8_t)byte_of(result, j);
    }
  }
}


// Two-level counting kernel (mode kHist): per element, a 16-bin histogram of the high nibble
// (shared-memory atomics, one per byte) locates the bucket of each middle rank; a second pass
// histograms the low nibble of the values in that bucket only. Two sweeps over the staged tile
// instead of eight or nine, about 3 integer ops per byte. Histograms are laid out
// [bin][byte j][column] so the 32 lanes of a warp always hit 32 different banks.
constexpr int kHistCols = 32;  // 128-byte tiles, 4 elements per thread column
constexpr size_t kHistFixedSmem = (16 * 4 * kHistCols + 2 * 16 * 4 * kHistCols + 4 * 4 * kHistCols) * sizeof(uint32_t);

__global__ void __launch_bounds__(kThreads)
median_hist2(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out, bool vec16) {
  constexpr int COLS = kHistCols, E = 4 * COLS, S = kThreads / COLS;
  extern __shared__ __align__(16) unsigned char smem[];
  uint32_t* h1 = reinterpret_cast<uint32_t*>(smem);   // [16 bins][4 j][COLS]
  uint32_t* h2 = h1 + 16 * 4 * COLS;                   // [2][16][4][COLS]
  uint32_t* aux = h2 + 2 * 16 * 4 * COLS;              // [4: B1, B2, R1, R2][4 j][COLS]
  unsigned char* tile8 = smem + kHistFixedSmem;
  const uint32_t* tile = reinterpret_cast<const uint32_t*>(tile8);

  const int col = threadIdx.x % COLS, slice = threadIdx.x / COLS;
  const int64_t e0 = (int64_t)blockIdx.x * E;
  const int w = (int)(n - e0 < E ? n - e0 : E);
  for (int i = threadIdx.x; i < 3 * 16 * 4 * COLS; i += kThreads) h1[i] = 0;  // h1 and h2
  stage_tile<E>(tile8, frames + e0, T, n, w, vec16);
  __syncthreads();

  const uint32_t* my = tile + col;
  const int my_rows = T > slice ? (T - slice + S - 1) / S : 0;
  // sweep 1: high-nibble histogram
#pragma unroll 4
  for (int r = 0; r < my_rows; ++r) {
    const uint32_t hn = (my[(slice + r * S) * COLS] >> 4) & 0x0f0f0f0fu;
#pragma unroll
    for (int j = 0; j < 4; ++j) atomicAdd(&h1[((hn >> (8 * j)) & 0xffu) * 4 * COLS + j * COLS + col], 1u);
  }
  __syncthreads();

  const int k1 = (int)comix::median_rank_lo(T), k2 = (int)comix::median_rank_hi(T);
  if (slice < 4) {  // one element per thread: j = slice
    const int j = slice;
    int cum = 0, b1 = -1, b2 = -1, r1 = 0, r2 = 0;
    for (int b = 0; b < 16; ++b) {
      const int h = (int)h1[b * 4 * COLS + j * COLS + col];
      if (b1 < 0 && cum + h > k1) { b1 = b; r1 = k1 - cum; }
      if (b2 < 0 && cum + h > k2) { b2 = b; r2 = k2 - cum; }
      cum += h;
    }
    aux[(0 * 4 + j) * COLS + col] = (uint32_t)b1;
    aux[(1 * 4 + j) * COLS + col] = (uint32_t)b2;
    aux[(2 * 4 + j) * COLS + col] = (uint32_t)r1;
    aux[(3 * 4 + j) * COLS + col] = (uint32_t)r2;
  }
  __syncthreads();

  // sweep 2: low-nibble histograms of the values in the two buckets (usually the same one)
  uint32_t bk1 = 0, bk2 = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    bk1 |= aux[(0 * 4 + j) * COLS + col] << (8 * j);
    bk2 |= aux[(1 * 4 + j) * COLS + col] << (8 * j);
  }
  const bool two = bk1 != bk2;
#pragma unroll 4
  for (int r = 0; r < my_rows; ++r) {
    const uint32_t x = my[(slice + r * S) * COLS];
    const uint32_t hn = (x >> 4) & 0x0f0f0f0fu;
    const uint32_t m1 = __vcmpeq4(hn, bk1);
    const uint32_t m2 = two ? __vcmpeq4(hn, bk2) & ~m1 : 0u;
    if ((m1 | m2) == 0u) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t lo = (x >> (8 * j)) & 0x0fu;
      if ((m1 >> (8 * j)) & 1u) atomicAdd(&h2[(0 * 16 + lo) * 4 * COLS + j * COLS + col], 1u);
      else if ((m2 >> (8 * j)) & 1u) atomicAdd(&h2[(1 * 16 + lo) * 4 * COLS + j * COLS + col], 1u);
    }
  }
  __syncthreads();

  if (slice < 4) {
    const int j = slice;
    const uint32_t b1 = aux[(0 * 4 + j) * COLS + col], b2 = aux[(1 * 4 + j) * COLS + col];
    const int r1 = (int)aux[(2 * 4 + j) * COLS + col], r2 = (int)aux[(3 * 4 + j) * COLS + col];
    const uint32_t* g1 = h2 + j * COLS + col;
    const uint32_t* g2 = h2 + (b2 == b1 ? 0 : 16 * 4 * COLS) + j * COLS + col;
    int cum = 0, lo1 = 0, lo2 = 0;
    for (int b = 0; b < 16; ++b) {
      const int h = (int)g1[b * 4 * COLS];
      if (cum + h > r1) { lo1 = b; break; }
      cum += h;
    }
    cum = 0;
    for (int b = 0; b < 16; ++b) {
      const int h = (int)g2[b * 4 * COLS];
      if (cum + h > r2) { lo2 = b; break; }
      cum += h;
    }
    const int64_t i = e0 + 4 * col + j;
    if (i < n) out[i] = comix::median_even(b1 * 16 + lo1, b2 * 16 + lo2);
  }
}

// Version 11 (the body is comix::bitslice::median_v11 in median_bitslice.cuh, where the CPU test
// runs it on emulated threads: native/tests/test_median_emulated.cpp).
// LIN: version 17 (mode kBitslice7; variants 14, 30), version 11 with version 16's staging order.
template <int GW, bool EVEN, bool LIN = false>
__global__ void __launch_bounds__(32)
median_bitslice(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out, bool vec16) {
  comix::bitslice::median_v11<GW, EVEN, LIN>(frames, T, n, out, vec16);
}


// Version 12 (the body is comix::bitslice::median_v12 in median_bitslice.cuh, where the CPU test
// runs it on emulated threads: native/tests/test_median_emulated.cpp).
template <int GW, bool EVEN>
__global__ void __launch_bounds__(32)
median_bitslice2(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out, bool vec16) {
  comix::bitslice::median_v12<GW, EVEN>(frames, T, n, out, vec16);
}

// Version 13 (the body is comix::bitslice::median_v13 in median_bitslice.cuh, where the CPU test
// runs it on emulated threads: native/tests/test_median_emulated.cpp).
template <int GW, bool EVEN, int NW>
__global__ void __launch_bounds__(32 * NW)
median_bitslice3(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out, bool vec16) {
  comix::bitslice::median_v13<GW, EVEN, NW>(frames, T, n, out, vec16);
}

// Version 14 (mode kBitslice4; variants 11, 27, 59, 43: 1, 2, 3, 4 warps per block): the body is
// comix::bitslice::median_v14 (median_bitslice.cuh), where the CPU test runs it on emulated
// threads (native/tests/test_median_emulated.cpp).
template <bool EVEN, int NBLK, int NW>
__global__ void __launch_bounds__(32 * NW, 1)
median_bitslice4(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out) {
  comix::bitslice::median_v14<EVEN, NBLK, NW>(frames, T, n, out);
}

// Version 15 (mode kBitslice5; variants 12, 28: 1, 3 warps per block): version 14 staged by the
// bulk copy engine, sm_90 and up (comix::bitslice::median_v14 with BULK).
template <bool EVEN, int NBLK, int NW>
__global__ void __launch_bounds__(32 * NW, 1)
median_bitslice5(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out) {
  comix::bitslice::median_v14<EVEN, NBLK, NW, true>(frames, T, n, out);
}

// Version 16 (mode kBitslice6; variants 13, 29: 1, 2 warps per block): version 14 with its rows
// staged in global byte order (comix::bitslice::median_v14 with LIN; why: median_bitslice.cuh).
template <bool EVEN, int NBLK, int NW>
__global__ void __launch_bounds__(32 * NW, 1)
median_bitslice6(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out) {
  comix::bitslice::median_v14<EVEN, NBLK, NW, false, true>(frames, T, n, out);
}

__global__ void median_direct(const uint8_t* __restrict__ frames, int64_t T, int64_t n, uint8_t* __restrict__ out) {
  const int64_t k1 = comix::median_rank_lo(T), k2 = comix::median_rank_hi(T);
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    uint32_t prefix = 0;
    for (int bit = 7; bit >= 0; --bit) {
      const uint32_t cand = prefix | (1u << bit);
      int64_t below = 0;
      for (int64_t t = 0; t < T; ++t) below += frames[t * n + i] < cand;
      prefix = comix::select_step(prefix, cand, below, (int64_t)k1);
    }
    uint32_t result = prefix;
    if (k1 != k2) {
      int64_t le = 0;
      uint32_t mn = 255;
      for (int64_t t = 0; t < T; ++t) {
        const uint32_t x = frames[t * n + i];
        le += x <= prefix;
        if (x > prefix && x < mn) mn = x;
      }
      result = comix::median_even(prefix, le > k2 ? prefix : mn);
    }
    out[i] = (uint8_t)result;
  }
}

__global__ void hist_fold(const uint8_t* __restrict__ frames, int64_t T, int64_t n, uint16_t* __restrict__ hist) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    uint16_t* h = hist + i * 256;
    for (int64_t t = 0; t < T; ++t) h[frames[t * n + i]]++;
  }
}

__global__ void from_hist(const uint16_t* __restrict__ hist, int64_t T, int64_t n, uint8_t* __restrict__ out) {
  const int64_t k1 = comix::median_rank_lo(T), k2 = comix::median_rank_hi(T);
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const uint16_t* h = hist + i * 256;
    int64_t seen = 0;
    int v = 0;
    while (seen + h[v] <= k1) seen += h[v++];
    const int lo = v;
    while (seen + h[v] <= k2) seen += h[v++];
    out[i] = comix::median_even((uint32_t)lo, (uint32_t)v);
  }
}

template <int COLS>
size_t staged_smem(int64_t T) {
  constexpr int S = kThreads / COLS;
  return 2 * S * COLS * sizeof(uint4) + COLS * sizeof(uint32_t) + (size_t)T * 4 * COLS;
}

// Kernel choice. By default (g_auto) from measurements on an H200 (benchmarks/RESULTS.md,
// gpu-check 2026-11-26 sessions 3, 8 and 9, same run for every variant):
//   T < 16:          the nibble-histogram kernel (T = 16: hist 0.276 ms at 1080p, 0.015 at 224^2)
//   16 <= T <= 320, 16-byte rows (n % 16 == 0, aligned pointers): median version 16 on 2 warps
//                    per block (kBitslice6, variant 29), session 8: 1080p T = 16 0.164 ms (v12
//                    0.232), T = 72 0.274 (v12 0.349), T = 300 0.760 = 57.7% of copy r+w (v14
//                    on 2 warps 1.010, v11 1.046, v16 on 1 warp 0.896); 224^2 T = 16 / 72 / 300
//                    0.013 / 0.017 / 0.031 (v12 0.015 / 0.023 / 0.048; v16 on 1 warp 0.030)
//   320 < T <= 640, 16-byte rows: median version 17 (kBitslice7, variant 14), session 9: 1080p
//                    T = 500 1.631 ms (v11 1.782, v16 1.965), 224^2 T = 500 0.054 (v11 0.063)
//   otherwise, 16 <= T <= 160: median version 12 (kBitslice2, variant 5): 1080p T = 16 0.231 ms
//                    (hist 0.276, v11 0.271), T = 72 0.345 (v11 0.392, hist 0.601)
//   otherwise, 160 < T <= 1280: median version 11 (kBitslice, variant 4): 1080p T = 300 1.043 ms
//                    (v12 1.114, v12 + L2 prefetch 1.621); 224^2 T = 300 0.049 (v12 0.048)
//   T > 1280:        the bitwise search with warp-0 reduction (kVset + 8).
// The crossover 160 is interpolated between the measured T = 72 and T = 300 (v12 gains 0.047
// ms at 72 and loses 0.071 at 300 at 1080p), not measured. comix_median_cuda_set_variant()
// pins one kernel.
bool g_auto = true;
int g_count_mode = kVset;  // comix_median_cuda_set_variant() switches these for measurements
int g_wide_cols = 32;      // columns (packed words) per tile when T allows: 32 or 16
constexpr int64_t kAutoHistMaxT = 256;
constexpr int64_t kAutoBitsliceMinT = 16;
constexpr int64_t kAutoBitslice2MaxT = 160;
constexpr int64_t kAutoBitslice6MaxT = 320;  // version 16 from kAutoBitsliceMinT on 16-byte rows
constexpr int kAutoBitslice6Warps = 2;
// Version 17 (version 11 staged in global order) above version 16's range on 16-byte rows, up to
// 2 groups per warp (at 1 group, T > 640, both layouts stage the same chunks; not measured there).
constexpr int64_t kAutoBitslice7MaxT = 640;

// 16-byte rows and aligned pointers: the kernels' cp.async staging path (else bytes).
bool vec16_ok(const uint8_t* frames, int64_t n, const uint8_t* out) {
  return n % 16 == 0 && reinterpret_cast<uintptr_t>(frames) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 4 == 0;
}

template <int COLS, int MODE>
int launch_staged_mode(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream, size_t smem) {
  COMIX_CUDA_TRY(cudaFuncSetAttribute(median_staged<COLS, MODE>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  const bool vec16 = vec16_ok(frames, n, out);
  const int64_t tiles = (n + 4 * COLS - 1) / (4 * COLS);
  if (tiles > 0x7fffffff) return COMIX_ERR_ARGUMENT;
  median_staged<COLS, MODE><<<(unsigned)tiles, kThreads, smem, stream>>>(frames, (int)T, n, out, vec16);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

template <int COLS>
int launch_staged(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream, size_t smem) {
  switch (g_count_mode) {
    case kVset: return launch_staged_mode<COLS, kVset>(frames, T, n, out, stream, smem);
    case kLanes: return launch_staged_mode<COLS, kLanes>(frames, T, n, out, stream, smem);
    case kVset + 8: return launch_staged_mode<COLS, kVset + 8>(frames, T, n, out, stream, smem);
    case kHalf + 8: return launch_staged_mode<COLS, kHalf + 8>(frames, T, n, out, stream, smem);
    case kBitslice: return launch_staged_mode<COLS, kVset + 8>(frames, T, n, out, stream, smem);  // T > kBitsliceMaxT
    case kBitslice2: return launch_staged_mode<COLS, kVset + 8>(frames, T, n, out, stream, smem);
    case kBitslice3: return launch_staged_mode<COLS, kVset + 8>(frames, T, n, out, stream, smem);
    default: return launch_staged_mode<COLS, kHalf>(frames, T, n, out, stream, smem);  // kHist falls back here
  }
}

// Bit-sliced kernel: frames per lane are bounded by kFrames, so T <= 32 lanes * kFrames.
constexpr int64_t kBitsliceMaxT = 32 * comix::bitslice::kFrames;  // 1280

// The bit-sliced kernels' launch: their dynamic shared memory, the largest shared-memory carveout
// (5 tiles of 40 KB per SM at T = 300 need it), then `blocks` blocks of `threads` threads.
template <class Kernel, class... Args>
int launch_bs(Kernel kernel, int64_t blocks, int threads, size_t smem, cudaStream_t stream, Args... args) {
  COMIX_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  COMIX_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
  if (blocks > 0x7fffffff) return COMIX_ERR_ARGUMENT;
  kernel<<<(unsigned)blocks, threads, smem, stream>>>(args...);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

// Version 13: NW warps per tile, the tile's shared memory plus the exchange of the partial totals.
template <int GW, bool EVEN, int NW>
int launch_bitslice3_t(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  constexpr int SW = 32 / GW, NB = comix::bitslice::kNB<GW>;
  const size_t smem = (size_t)comix::bitslice::frame_slots((int)T, SW) * SW * GW * 32 + 2 * NW * GW * (NB + 1) * 4;
  return launch_bs(median_bitslice3<GW, EVEN, NW>, (n + 32 * GW - 1) / (32 * GW), 32 * NW, smem, stream, frames, (int)T,
                   n, out, vec16_ok(frames, n, out));
}

// v12: 0 = median_bitslice (version 11), 1 = median_bitslice2 (version 12), 3 = median_bitslice
// with LIN (version 17; the same kernel as version 11 at GW = 1, where both layouts agree);
// version 13 has its own launcher above.
template <int GW, bool EVEN>
int launch_bitslice_t(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream, int v12) {
  constexpr int SW = 32 / GW;
  const size_t smem = (size_t)comix::bitslice::frame_slots((int)T, SW) * SW * GW * 32;  // <= 40 KB
  const int64_t tiles = (n + 32 * GW - 1) / (32 * GW);
  const bool vec16 = vec16_ok(frames, n, out);
  if (v12 == 3) return launch_bs(median_bitslice<GW, EVEN, GW != 1>, tiles, 32, smem, stream, frames, (int)T, n, out, vec16);
  return v12 ? launch_bs(median_bitslice2<GW, EVEN>, tiles, 32, smem, stream, frames, (int)T, n, out, vec16)
             : launch_bs(median_bitslice<GW, EVEN>, tiles, 32, smem, stream, frames, (int)T, n, out, vec16);
}

// Groups per warp-tile: 4 (8 slices of frames) while T fits 8 * kFrames, else 2, else 1;
// `narrow` halves it (twice the warps per SM for the same shared memory, more butterfly work).
// v12: 0 = median_bitslice, 1 = median_bitslice2 (the same layout and search, fewer instructions
// around it), 2 = median_bitslice3 (version 13), 3 = median_bitslice in global staging order
// (version 17).
int launch_bitslice(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream, bool narrow,
                    int v12) {
  constexpr int64_t F = comix::bitslice::kFrames;
  int gw = T <= 8 * F ? 4 : T <= 16 * F ? 2 : 1;
  const bool even = T % 2 == 0;
  if (v12 == 2) {  // version 13: `narrow` means 4 warps per tile instead of 2 (the groups stay)
#define COMIX_BS3(G, NW) (even ? launch_bitslice3_t<G, true, NW>(frames, T, n, out, stream) \
                               : launch_bitslice3_t<G, false, NW>(frames, T, n, out, stream))
    if (gw == 4) return narrow ? COMIX_BS3(4, 4) : COMIX_BS3(4, 2);
    if (gw == 2) return narrow ? COMIX_BS3(2, 4) : COMIX_BS3(2, 2);
    return narrow ? COMIX_BS3(1, 4) : COMIX_BS3(1, 2);
#undef COMIX_BS3
  }
  if (narrow && gw > 1) gw /= 2;
  if (gw == 4)
    return even ? launch_bitslice_t<4, true>(frames, T, n, out, stream, v12) : launch_bitslice_t<4, false>(frames, T, n, out, stream, v12);
  if (gw == 2)
    return even ? launch_bitslice_t<2, true>(frames, T, n, out, stream, v12) : launch_bitslice_t<2, false>(frames, T, n, out, stream, v12);
  return even ? launch_bitslice_t<1, true>(frames, T, n, out, stream, v12) : launch_bitslice_t<1, false>(frames, T, n, out, stream, v12);
}

// Version 14: 128 < T <= 320 (one 4-group tile, NBLK = frame_slots(T, 8) / 8 = 3..5 blocks of 8
// slots per lane; fewer blocks are left to version 12), vector inputs only; NW warps per block,
// each with its own T * 128 bytes.
// BULK: version 15 (median_bitslice5), whose NBLK mbarriers per warp follow the tiles.
// LIN: version 16 (median_bitslice6), also for NBLK = 1 and 2 (8 <= T <= 128).
template <bool EVEN, int NBLK, int NW, bool BULK, bool LIN>
int launch_bitslice4_t(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  const int64_t blocks = (n + 128 * NW - 1) / (128 * NW);
  if constexpr (BULK)
    return launch_bs(median_bitslice5<EVEN, NBLK, NW>, blocks, 32 * NW, (size_t)NW * (T * 128 + NBLK * 8), stream,
                     frames, (int)T, n, out);
  else if constexpr (LIN)
    return launch_bs(median_bitslice6<EVEN, NBLK, NW>, blocks, 32 * NW, (size_t)NW * T * 128, stream, frames, (int)T, n,
                     out);
  else
    return launch_bs(median_bitslice4<EVEN, NBLK, NW>, blocks, 32 * NW, (size_t)NW * T * 128, stream, frames, (int)T, n,
                     out);
}

// One NBLK of launch_bitslice4_t, both parities; only version 16 is instantiated below 3 blocks.
template <int NBLK, int NW, bool BULK, bool LIN>
int launch_bitslice4_nblk(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  if constexpr (NBLK < 3 && !LIN) return COMIX_ERR_ARGUMENT;
  else
    return T % 2 == 0 ? launch_bitslice4_t<true, NBLK, NW, BULK, LIN>(frames, T, n, out, stream)
                      : launch_bitslice4_t<false, NBLK, NW, BULK, LIN>(frames, T, n, out, stream);
}

template <int NW, bool BULK = false, bool LIN = false>
int launch_bitslice4_nw(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  switch (comix::bitslice::frame_slots((int)T, 8) / 8) {
    case 1: return launch_bitslice4_nblk<1, NW, BULK, LIN>(frames, T, n, out, stream);
    case 2: return launch_bitslice4_nblk<2, NW, BULK, LIN>(frames, T, n, out, stream);
    case 3: return launch_bitslice4_nblk<3, NW, BULK, LIN>(frames, T, n, out, stream);
    case 4: return launch_bitslice4_nblk<4, NW, BULK, LIN>(frames, T, n, out, stream);
    case 5: return launch_bitslice4_nblk<5, NW, BULK, LIN>(frames, T, n, out, stream);
    default: return COMIX_ERR_ARGUMENT;
  }
}

int g_bs4_nw = 1;  // version 14's (and 15's) warps per block (comix_median_cuda_set_variant)

// Versions 14 and 15 take 128 < T <= 320 (3 to 5 blocks of 8 slots per lane) on the vector path.
bool v14_takes(const uint8_t* frames, int64_t T, int64_t n, const uint8_t* out) {
  return vec16_ok(frames, n, out) && T > 128 && T <= 8 * comix::bitslice::kFrames;
}

// Version 14 where it applies, else version 12.
int launch_bitslice4(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  if (!v14_takes(frames, T, n, out)) return launch_bitslice(frames, T, n, out, stream, false, 1);
  if (g_bs4_nw == 4) return launch_bitslice4_nw<4>(frames, T, n, out, stream);
  if (g_bs4_nw == 3) return launch_bitslice4_nw<3>(frames, T, n, out, stream);
  if (g_bs4_nw == 2) return launch_bitslice4_nw<2>(frames, T, n, out, stream);
  return launch_bitslice4_nw<1>(frames, T, n, out, stream);
}

// Version 15 where it applies (as version 14, on compute capability 9 and up), else version 14.
int launch_bitslice5(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  static const int major = [] {
    int dev = 0, v = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
      return 0;
    return v;
  }();
  if (major < 9 || !v14_takes(frames, T, n, out)) return launch_bitslice4(frames, T, n, out, stream);
  return g_bs4_nw == 3 ? launch_bitslice4_nw<3, true>(frames, T, n, out, stream)
                       : launch_bitslice4_nw<1, true>(frames, T, n, out, stream);
}

// Version 16: 8 <= T <= 320 (NBLK = frame_slots(T, 8) / 8 = 1..5 blocks of 8 slots per lane; below 8
// frames a lane's slot 0, where slots past T are read, would lie past the tile), vector inputs only
// (else version 12); NW = g_bs6_nw warps per block, each with its own T * 128 bytes.
int g_bs6_nw = 2;
int launch_bitslice6(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, cudaStream_t stream) {
  if (!vec16_ok(frames, n, out) || T < 8 || T > 8 * comix::bitslice::kFrames)
    return launch_bitslice(frames, T, n, out, stream, false, 1);
  return g_bs6_nw == 1 ? launch_bitslice4_nw<1, false, true>(frames, T, n, out, stream)
                       : launch_bitslice4_nw<2, false, true>(frames, T, n, out, stream);
}

int max_optin_smem() {
  int dev = 0, v = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 48 * 1024;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) return 48 * 1024;
  return v;
}

}  // namespace

extern "C" int comix_median_u8_cuda(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, void* stream_) {
  if (!frames || !out || T < 1 || n < 1) return COMIX_ERR_ARGUMENT;
  cudaStream_t stream = static_cast<cudaStream_t>(stream_);
  static const int smem_limit = max_optin_smem();
  if (g_auto) {
    const bool vec16 = vec16_ok(frames, n, out);
    const bool v16 = T >= kAutoBitsliceMinT && T <= kAutoBitslice6MaxT && vec16;
    const bool v17 = T > kAutoBitslice6MaxT && T <= kAutoBitslice7MaxT && vec16;
    g_count_mode = v16                                                ? kBitslice6
                   : v17                                              ? kBitslice7
                   : T >= kAutoBitsliceMinT && T <= kAutoBitslice2MaxT ? kBitslice2
                   : T > kAutoBitslice2MaxT && T <= kBitsliceMaxT     ? kBitslice
                   : T <= kAutoHistMaxT                               ? kHist
                                                                      : kVset + 8;
    g_wide_cols = 32;
    g_bs6_nw = kAutoBitslice6Warps;
  }
  if (g_count_mode == kBitslice4 && T <= kBitsliceMaxT) return launch_bitslice4(frames, T, n, out, stream);
  if (g_count_mode == kBitslice5 && T <= kBitsliceMaxT) return launch_bitslice5(frames, T, n, out, stream);
  if (g_count_mode == kBitslice6 && T <= kBitsliceMaxT) return launch_bitslice6(frames, T, n, out, stream);
  if (g_count_mode == kBitslice7 && T <= kBitsliceMaxT)
    return launch_bitslice(frames, T, n, out, stream, g_wide_cols == 16, 3);
  if ((g_count_mode == kBitslice || g_count_mode == kBitslice2 || g_count_mode == kBitslice3) && T <= kBitsliceMaxT)
    return launch_bitslice(frames, T, n, out, stream, g_wide_cols == 16,
                           g_count_mode == kBitslice3 ? 2 : g_count_mode - kBitslice);
  if (g_count_mode == kHist && kHistFixedSmem + (size_t)T * 4 * kHistCols <= (size_t)smem_limit) {
    const size_t smem = kHistFixedSmem + (size_t)T * 4 * kHistCols;
    COMIX_CUDA_TRY(cudaFuncSetAttribute(median_hist2, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const bool vec16 = (n % 16 == 0) && (reinterpret_cast<uintptr_t>(frames) % 16 == 0);
    const int64_t tiles = (n + 4 * kHistCols - 1) / (4 * kHistCols);
    if (tiles > 0x7fffffff) return COMIX_ERR_ARGUMENT;
    median_hist2<<<(unsigned)tiles, kThreads, smem, stream>>>(frames, (int)T, n, out, vec16);
    COMIX_CUDA_LAUNCHED();
    return COMIX_OK;
  }
  if (g_wide_cols == 16 && staged_smem<16>(T) <= (size_t)smem_limit)
    return launch_staged<16>(frames, T, n, out, stream, staged_smem<16>(T));
  if (staged_smem<32>(T) <= (size_t)smem_limit) return launch_staged<32>(frames, T, n, out, stream, staged_smem<32>(T));
  if (staged_smem<8>(T) <= (size_t)smem_limit) return launch_staged<8>(frames, T, n, out, stream, staged_smem<8>(T));
  median_direct<<<comix_grid_for(n, kThreads), kThreads, 0, stream>>>(frames, T, n, out);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_median_cuda_set_variant(int variant) {
  if (variant < 0) {
    g_auto = true;
    return COMIX_OK;
  }
  const int mode = variant & 15, cols = (variant >> 4) == 1 ? 16 : 32;
  if (mode == kBitslice5) {  // version 15: variant >> 4 = 0, 1: 1, 3 warps per block
    const int sel = variant >> 4;
    if (sel > 1) return COMIX_ERR_ARGUMENT;
    g_bs4_nw = sel == 0 ? 1 : 3;
    g_count_mode = mode;
    g_auto = false;
    return COMIX_OK;
  }
  if (mode == kBitslice6) {  // version 16: variant >> 4 = 0, 1: 1, 2 warps per block
    const int sel = variant >> 4;
    if (sel > 1) return COMIX_ERR_ARGUMENT;
    g_bs6_nw = sel + 1;
    g_count_mode = mode;
    g_auto = false;
    return COMIX_OK;
  }
  if (mode == kBitslice4) {  // version 14: variant >> 4 = 0, 1, 2, 3: 1, 2, 4, 3 warps per block
    const int sel = variant >> 4;
    if (sel > 3) return COMIX_ERR_ARGUMENT;
    g_bs4_nw = sel == 3 ? 3 : 1 << sel;
    g_count_mode = mode;
    g_auto = false;
    return COMIX_OK;
  }
  if ((mode > kBitslice2 && mode != kBitslice3 && mode != kBitslice7 && mode != kVset + 8 && mode != kHalf + 8) ||
      (variant >> 4) > 1)
    return COMIX_ERR_ARGUMENT;
  g_count_mode = mode;
  g_wide_cols = cols;
  g_auto = false;
  return COMIX_OK;
}

extern "C" int comix_median_hist_fold_cuda(const uint8_t* frames, int64_t T, int64_t n, uint16_t* hist, void* stream) {
  if (!frames || !hist || T < 1 || n < 1) return COMIX_ERR_ARGUMENT;
  hist_fold<<<comix_grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(frames, T, n, hist);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" int comix_median_from_hist_cuda(const uint16_t* hist, int64_t T, int64_t n, uint8_t* out, void* stream) {
  if (!hist || !out || T < 1 || n < 1 || T > COMIX_MEDIAN_MAX_HIST_FRAMES) return COMIX_ERR_ARGUMENT;
  from_hist<<<comix_grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(hist, T, n, out);
  COMIX_CUDA_LAUNCHED();
  return COMIX_OK;
}

extern "C" const char* comix_cuda_version(void) { return "comix_cuda " COMIX_VERSION " (" COMIX_CUDA_ARCHS ")"; }

extern "C" int comix_cuda_runtime_version(void) {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : COMIX_ERR_CUDA;
}
