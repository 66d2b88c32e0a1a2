// Where the bit-sliced median's time goes at 1080p x 300 on a GPU (a measurement, not a test):
// version 12's kernel (cuda-kernels/temporal_median.cu, median_bitslice2<4, even>) rebuilt here
// from the same pieces (median_bitslice.cuh) with its three phases switchable, same grid, same
// shared memory per block, same occupancy:
//   full               staging + transposition + 8 passes (should time like the library kernel)
//   stage              the cp.async staging and its waits only, then a fold of the tile
//   stage+transpose    staging and transposition, no passes
//   transpose+passes   no staging (shared memory left as it is: the work does not depend on the
//                      values), transposition and the 8 passes: the compute alone
//   passes             the 8 passes alone
// plus a plain coalesced read of the same bytes (16-byte loads, grid-stride) as the read ceiling,
// and staging alone with 128, 256 or 512 contiguous bytes of each row per block, on one warp or
// on 2 / 4 warps as version 14 stages ("k w x b": warps per block, blocks per SM), to see
// whether the median's 128-byte row pieces are what holds its loads at ~2 TB/s.
// If stage + passes ~ full, a warp's load wait and its compute do not overlap (too few warps per
// SM to cover each other); if full ~ max of them, one of them binds.
// Usage: bench_median_floor [T] [n]   (default 300, 1920*1080*3)
#include <cuda_pipeline.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "median_bitslice.cuh"

#define CK(x)                                                                                    \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);      \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

namespace bs = comix::bitslice;

enum : int { kStage = 1, kTranspose = 2, kPasses = 4 };

template <bool EVEN, int MODE>
__global__ void __launch_bounds__(32) probe(const uint8_t* __restrict__ frames, int T, int64_t n, uint8_t* __restrict__ out) {
  constexpr int GW = 4, SW = 8, E = 128, LOG_SW = 3, K = bs::kCountBits, NB = K + LOG_SW, RPI = 4;
  extern __shared__ __align__(32) uint32_t tile[];
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile);
  const int lane = threadIdx.x, g = lane % GW, s = lane / GW;
  const int nf = bs::frame_slots(T, SW), nblk = nf / 8;
  const int64_t e0 = (int64_t)blockIdx.x * E;
  const uint8_t* base = frames + e0;
  if (MODE & kStage) {
    const int c = bs::stage_chunk<GW>(lane);
    int t = bs::stage_row<GW>(0, lane, 0);
    const uint8_t* src = base + (int64_t)t * n + 16 * c;
    const int64_t step = (int64_t)RPI * n;
    uint32_t* dst = tile + bs::raw_word<GW>(t, c);
    for (int j = 0; j < nblk; ++j) bs::stage_block<RPI>(dst, src, t, T, true, step);
  }
  unsigned char* my8 = tile8 + 32 * lane;
  uint32_t poff[8];
  bs::plane_offsets<GW>(s, poff);
  uint32_t fold = 0;
  for (int j = 0; j < nblk; ++j) {
    if (MODE & kStage) bs::wait_groups(nblk - 1 - j);
    __syncwarp();
    unsigned char* blk = my8 + 8192 * j;
    if (MODE & kTranspose) {
      bs::transpose_block(blk, poff);
    } else if (!(MODE & kPasses)) {  // stage only: read what landed so the copies are needed
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const uint4 a = *reinterpret_cast<const uint4*>(blk + 1024 * i);
        fold ^= a.x ^ a.y ^ a.z ^ a.w;
      }
    }
  }
  __syncwarp();
  if constexpr (!(MODE & kPasses)) {
    if (MODE & kTranspose) fold = tile[lane * 8 + (lane & 7)];
    out[e0 + lane] = (uint8_t)(fold ^ (fold >> 8) ^ (fold >> 16) ^ (fold >> 24));
  } else {
  bs::State<NB> st;
  bs::search_tile<NB, LOG_SW, GW, EVEN>(tile, T, nf, s, g, st);
  bs::write_result<NB, EVEN, GW>(st, s, g, out, e0, n, true);
  }
}

__global__ void stream_read(const uint4* __restrict__ p, int64_t count, uint32_t* __restrict__ out) {
  uint32_t acc = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x) {
    const uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) out[0] = acc;  // keeps the loads; practically never written
}

// A probe kernel's dynamic shared memory and the largest carveout (as the median launchers set
// them); per_sm (optional) receives its blocks per SM.
template <class K>
static void prepare(K k, int threads, size_t smem, int* per_sm = nullptr) {
  CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  CK(cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
  if (per_sm) CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, k, threads, smem));
}

template <class F>
static double time_ms(F f, int reps) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f();
  CK(cudaDeviceSynchronize());
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a));
    f();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CK(cudaGetLastError());  // a failed launch must not time as ~0 ms
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Staging alone with WB bytes of each row per block of NWP warps: the same 16-byte cp.async
// copies as the median kernels, all issued, then one wait; WB = 128, NWP = 1 is the median's tile
// (versions 11-13), WB = 128 * NWP the shared staging of version 14 with NWP warps per block (the
// same shared memory per warp, so about the same warps per SM). Tells whether longer contiguous
// runs per row (and per DRAM page) read faster than 128 bytes.
// stride: bytes between a tile's consecutive rows (n for the median: one frame, 6.2 MB at 1080p,
// so every row is in another 2 MB page). A smaller stride reads the same number of bytes in the
// same per-block pattern from groups of T rows of `stride` bytes (group = block / cols): if
// 128-byte pieces read fast at a small stride, what slows the median's staging is the rows' spread
// over pages (TLB reach or DRAM row misses), not the piece width.
// PERM: each 128-byte piece's 16-byte chunks land where versions 11-14 put them (raw_word: chunk
// c at 32 (c % 4) + 16 (c / 4) of the piece) instead of in global order (session 8: Nsight
// counted ~30 L2 sectors and shared-memory wavefronts per such warp-wide copy instead of 15 and 4).
template <int WB, int NWP, bool PERM = false>
__global__ void __launch_bounds__(32 * NWP) stage_rows(const uint8_t* __restrict__ frames, int T, int64_t stride,
                                                       int64_t cols, uint8_t* __restrict__ out) {
  extern __shared__ __align__(16) unsigned char rows[];
  constexpr int CPR = WB / 16;  // 16-byte chunks per row
  const int64_t group = blockIdx.x / cols, col = blockIdx.x % cols;
  const uint8_t* base = frames + group * T * stride + col * WB;
  for (int q = threadIdx.x; q < T * CPR; q += 32 * NWP) {
    const int t = q / CPR, c = q % CPR;
    const int slot = PERM ? (c & ~7) + 2 * (c % 4) + (c / 4) % 2 : c;
    __pipeline_memcpy_async(rows + t * WB + 16 * slot, base + (int64_t)t * stride + 16 * c, 16);
  }
  __pipeline_commit();
  __pipeline_wait_prior(0);
  __syncthreads();
  uint32_t fold = 0;
  for (int q = threadIdx.x; q < T * CPR; q += 32 * NWP) fold ^= *reinterpret_cast<const uint32_t*>(rows + q * 16);
  out[(int64_t)blockIdx.x * 32 * NWP + threadIdx.x] = (uint8_t)(fold ^ (fold >> 8) ^ (fold >> 16) ^ (fold >> 24));
}

// Returns ms; *bytes = the bytes read (all T x n frames when stride = n; floor(n / stride) groups
// of T x stride otherwise).
template <int WB, int NWP, bool PERM = false>
static double run_stage_rows(const uint8_t* frames, int T, int64_t n, uint8_t* out, int* per_sm, int64_t stride = 0,
                             double* bytes = nullptr) {
  if (stride == 0) stride = n;
  const size_t smem = (size_t)T * WB;
  if (smem > 227 * 1024 || stride % WB != 0 || stride > n) return -1;
  auto k = stage_rows<WB, NWP, PERM>;
  prepare(k, 32 * NWP, smem, per_sm);
  const int64_t cols = stride / WB, groups = n / stride;
  const unsigned blocks = (unsigned)(cols * groups);  // blocks * 32 * NWP <= n / 4: inside out (n bytes), as WB >= 128 * NWP
  if (bytes) *bytes = (double)groups * T * stride;
  return time_ms([&] { k<<<blocks, 32 * NWP, smem>>>(frames, T, stride, cols, out); }, 20);
}

// Two other ways to stage the same row pieces, to tell whether cp.async itself (LDGSTS) is what
// holds the median's loads: plain 16-byte loads into registers (16 in flight per thread, as
// __ldg), then shared-memory stores; and the Hopper bulk copy engine (cp.async.bulk, one
// instruction per row piece issued by warp 0, completion counted in bytes on an mbarrier).
template <int WB, int NWP>
__global__ void __launch_bounds__(32 * NWP) stage_rows_ldg(const uint8_t* __restrict__ frames, int T, int64_t n,
                                                           uint8_t* __restrict__ out) {
  extern __shared__ __align__(16) unsigned char rows[];
  constexpr int CPR = WB / 16, BATCH = 16, STEP = 32 * NWP;
  const uint8_t* base = frames + (int64_t)blockIdx.x * WB;
  const int total = T * CPR;
  for (int q0 = threadIdx.x; q0 < total; q0 += STEP * BATCH) {
    uint4 v[BATCH];
#pragma unroll
    for (int k = 0; k < BATCH; ++k) {
      const int q = q0 + k * STEP;
      if (q < total) v[k] = __ldg(reinterpret_cast<const uint4*>(base + (int64_t)(q / CPR) * n + 16 * (q % CPR)));
    }
#pragma unroll
    for (int k = 0; k < BATCH; ++k) {
      const int q = q0 + k * STEP;
      if (q < total) *reinterpret_cast<uint4*>(rows + 16 * q) = v[k];  // = row q / CPR, chunk q % CPR
    }
  }
  __syncthreads();
  uint32_t fold = 0;
  for (int q = threadIdx.x; q < total; q += STEP) fold ^= *reinterpret_cast<const uint32_t*>(rows + q * 16);
  out[(int64_t)blockIdx.x * STEP + threadIdx.x] = (uint8_t)(fold ^ (fold >> 8) ^ (fold >> 16) ^ (fold >> 24));
}

template <int WB, int NWP>
__global__ void __launch_bounds__(32 * NWP) stage_rows_bulk(const uint8_t* __restrict__ frames, int T, int64_t n,
                                                            uint8_t* __restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  extern __shared__ __align__(16) unsigned char rows[];  // the bulk copies need 16-byte alignment
  __shared__ __align__(8) uint64_t mbar;
  const uint8_t* base = frames + (int64_t)blockIdx.x * WB;
  const uint32_t bar = (uint32_t)__cvta_generic_to_shared(&mbar);
  if (threadIdx.x == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(bar) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  if (threadIdx.x < 32) {
    if (threadIdx.x == 0)  // the one arrival, announcing all T * WB bytes
      asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"((uint32_t)(T * WB)) : "memory");
    __syncwarp();
    for (int t = threadIdx.x; t < T; t += 32)
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                       (uint32_t)__cvta_generic_to_shared(rows + t * WB)),
                   "l"(base + (int64_t)t * n), "r"(WB), "r"(bar)
                   : "memory");
  }
  uint32_t done = 0;
  for (uint32_t polls = 0; !done; ++polls) {
    if (polls == (1u << 24)) __trap();  // a phase that never completes: an error, not a hang
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n selp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(bar)
                 : "memory");
  }
  uint32_t fold = 0;
  for (int q = threadIdx.x; q < T * WB / 16; q += 32 * NWP) fold ^= *reinterpret_cast<const uint32_t*>(rows + q * 16);
  out[(int64_t)blockIdx.x * 32 * NWP + threadIdx.x] = (uint8_t)(fold ^ (fold >> 8) ^ (fold >> 16) ^ (fold >> 24));
#endif
}

template <class K>
static double run_stage_kernel(K k, int WB, int NWP, const uint8_t* frames, int T, int64_t n, uint8_t* out, int* per_sm) {
  const size_t smem = (size_t)T * WB;
  if (smem > 227 * 1024) return -1;
  prepare(k, 32 * NWP, smem, per_sm);
  const unsigned blocks = (unsigned)(n / WB);
  return time_ms([&] { k<<<blocks, 32 * NWP, smem>>>(frames, T, n, out); }, 20);
}

template <int MODE>
static double run_probe(const uint8_t* frames, int T, int64_t n, uint8_t* out) {
  const size_t smem = (size_t)bs::frame_slots(T, 8) * 8 * 4 * 32;
  auto k = T % 2 == 0 ? probe<true, MODE> : probe<false, MODE>;
  prepare(k, 32, smem);
  const unsigned tiles = (unsigned)(n / 128);
  return time_ms([&] { k<<<tiles, 32, smem>>>(frames, T, n, out); }, 20);
}

int main(int argc, char** argv) {
  const int T = argc > 1 ? std::atoi(argv[1]) : 300;
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 1920LL * 1080 * 3;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("SKIPPED: no CUDA device\n");
    return 77;
  }
  if (T < 1 || T > 320 || n < 128 || n % 128 != 0) {
    std::printf("usage: bench_median_floor [T <= 320] [n, a multiple of 128]\n");
    return 2;
  }
  const size_t bytes = (size_t)T * (size_t)n;
  uint8_t *frames, *out;
  CK(cudaMalloc(&frames, bytes));
  CK(cudaMalloc(&out, (size_t)n));
  {
    std::vector<uint8_t> h(std::min<size_t>(bytes, 64u << 20));
    uint64_t x = 88172645463325252ull;
    for (auto& v : h) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      v = (uint8_t)x;
    }
    for (size_t off = 0; off < bytes; off += h.size())
      CK(cudaMemcpy(frames + off, h.data(), std::min(h.size(), bytes - off), cudaMemcpyHostToDevice));
  }
  int blocks_per_sm = 0, sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const size_t smem = (size_t)bs::frame_slots(T, 8) * 8 * 4 * 32;
  prepare(probe<true, 7>, 32, smem, &blocks_per_sm);
  std::printf("median floor probes: T=%d n=%lld (%.2f GB of frames), %zu B shared memory per warp, %d warps per SM x %d SMs\n",
              T, (long long)n, bytes / 1e9, smem, blocks_per_sm, sms);
  auto row = [&](const char* name, double ms) {
    std::printf("probe %-24s %8.3f ms  %7.0f GB/s of frames\n", name, ms, bytes / ms / 1e6);
  };
  row("full", run_probe<kStage | kTranspose | kPasses>(frames, T, n, out));
  row("stage", run_probe<kStage>(frames, T, n, out));
  row("stage+transpose", run_probe<kStage | kTranspose>(frames, T, n, out));
  row("transpose+passes", run_probe<kTranspose | kPasses>(frames, T, n, out));
  row("passes", run_probe<kPasses>(frames, T, n, out));
  {
    // "stage rows W B / k w x b": W-byte row pieces, k warps per block, b blocks per SM
    auto stage = [&](const char* label, double ms, int warps, int per_sm) {
      char name[64];
      std::snprintf(name, sizeof name, "stage rows %s %dw x%d", label, warps, per_sm);
      if (ms > 0) row(name, ms);
    };
    int per_sm = 0;
    double ms = run_stage_rows<128, 1>(frames, T, n, out, &per_sm);
    stage("128 B", ms, 1, per_sm);
    ms = run_stage_rows<128, 1, true>(frames, T, n, out, &per_sm);
    stage("128 B perm", ms, 1, per_sm);
    ms = run_stage_rows<256, 2, true>(frames, T, n, out, &per_sm);
    stage("256 B perm", ms, 2, per_sm);
    ms = run_stage_rows<256, 1>(frames, T, n, out, &per_sm);
    stage("256 B", ms, 1, per_sm);
    ms = run_stage_rows<512, 1>(frames, T, n, out, &per_sm);
    stage("512 B", ms, 1, per_sm);
    ms = run_stage_rows<256, 2>(frames, T, n, out, &per_sm);
    stage("256 B", ms, 2, per_sm);
    ms = run_stage_rows<384, 3>(frames, T, n, out, &per_sm);
    stage("384 B", ms, 3, per_sm);
    ms = run_stage_rows<512, 4>(frames, T, n, out, &per_sm);
    stage("512 B", ms, 4, per_sm);
    // 128-byte pieces, one warp, rows closer than a frame apart: the same bytes per block
    for (int64_t stride : {(int64_t)5760, (int64_t)65536, (int64_t)(2 << 20) + 128}) {
      double got = 0;
      ms = run_stage_rows<128, 1>(frames, T, n, out, &per_sm, stride, &got);
      if (ms > 0)
        std::printf("probe stage rows 128 B 1w x%d, rows %lld B apart %8.3f ms  %7.0f GB/s of %.2f GB\n", per_sm,
                    (long long)stride, ms, got / ms / 1e6, got / 1e9);
    }
  }
  uint32_t* sink;
  CK(cudaMalloc(&sink, 4));
  row("stream read", time_ms([&] { stream_read<<<sms * 16, 256>>>(reinterpret_cast<const uint4*>(frames), (int64_t)(bytes / 16), sink); }, 20));
  {
    // the same row pieces staged without cp.async: plain loads, then the bulk copy engine (sm_90;
    // last, as a hang there would lose only this row)
    auto other = [&](const char* how, int wb, int nwp, double ms, int per_sm) {
      char name[64];
      std::snprintf(name, sizeof name, "stage %s %d B %dw x%d", how, wb, nwp, per_sm);
      if (ms > 0) row(name, ms);
    };
    int per_sm = 0;
    other("ldg", 128, 1, run_stage_kernel(stage_rows_ldg<128, 1>, 128, 1, frames, T, n, out, &per_sm), per_sm);
    other("ldg", 512, 4, run_stage_kernel(stage_rows_ldg<512, 4>, 512, 4, frames, T, n, out, &per_sm), per_sm);
    int major = 0;
    CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
    if (major >= 9) {
      other("bulk", 128, 1, run_stage_kernel(stage_rows_bulk<128, 1>, 128, 1, frames, T, n, out, &per_sm), per_sm);
      other("bulk", 384, 3, run_stage_kernel(stage_rows_bulk<384, 3>, 384, 3, frames, T, n, out, &per_sm), per_sm);
      other("bulk", 512, 4, run_stage_kernel(stage_rows_bulk<512, 4>, 512, 4, frames, T, n, out, &per_sm), per_sm);
    }
  }
  CK(cudaDeviceSynchronize());
  CK(cudaFree(sink));
  CK(cudaFree(frames));
  CK(cudaFree(out));
  return 0;
}
