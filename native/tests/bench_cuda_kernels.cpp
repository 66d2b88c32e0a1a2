// Native timing of the comix CUDA kernels with CUDA events, beside the card's own ceilings
// (device-to-device copy bandwidth). Not a test: scripts/gpu-check runs it and RESULTS.md
// records what it prints. Inputs are random (never zeros); small problems rotate over several
// input copies so repeated runs do not just measure L2.
//   bench_cuda_kernels [--json FILE] [--nn]
// --nn: only the nn layer kernels (batch norm, max pool over I3D activation shapes, f32 and bf16;
// NDHWC <-> NCDHW transposes over I3D conv inputs);
// bytes counted are the minimum each kernel must move (see the comment at each emit).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "comix/background_mix.h"
#include "comix/nn_layers.h"
#include "comix/supcon.h"
#include "comix/temporal_median.h"
#include "cuda_test_util.h"


template <class F>
static double time_ms(F f, int reps) {
  cudaEvent_t a, b;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f(i);  // warm-up
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CUDA_OK(cudaEventRecord(a));
    f(i);
    CUDA_OK(cudaEventRecord(b));
    CUDA_OK(cudaEventSynchronize(b));
    float ms;
    CUDA_OK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Video-like frames: one random background plus small per-frame noise (+-4), so nearly every
// value lies near the median: the worst case for value-bucketing kernels.
static void fill_video_like(uint8_t* d, int64_t T, int64_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<uint8_t> bg((size_t)n), f((size_t)n);
  for (auto& v : bg) v = (uint8_t)g();
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < n; ++i) f[(size_t)i] = (uint8_t)std::min(255, std::max(0, (int)bg[(size_t)i] + (int)(g() % 9) - 4));
    CUDA_OK(cudaMemcpy(d + t * n, f.data(), (size_t)n, cudaMemcpyHostToDevice));
  }
}

static void fill_random(uint8_t* d, size_t bytes, uint64_t seed) {
  std::vector<uint8_t> h(std::min<size_t>(bytes, 64u << 20));
  std::mt19937_64 g(seed);
  for (size_t i = 0; i < h.size(); i += 8) {
    uint64_t v = g();
    std::memcpy(&h[i], &v, std::min<size_t>(8, h.size() - i));
  }
  for (size_t off = 0; off < bytes; off += h.size())
    CUDA_OK(cudaMemcpy(d + off, h.data(), std::min(h.size(), bytes - off), cudaMemcpyHostToDevice));
}

// Normal(0, 1) floats, generated once on the host (16 Mi values) and tiled.
static void fill_normal(float* d, int64_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> h((size_t)std::min<int64_t>(n, 16 << 20));
  for (auto& v : h) v = nd(g);
  for (int64_t off = 0; off < n; off += (int64_t)h.size())
    CUDA_OK(cudaMemcpy(d + off, h.data(), (size_t)std::min<int64_t>((int64_t)h.size(), n - off) * 4, cudaMemcpyHostToDevice));
}

// nn layers on I3D activation shapes (NDHWC). Bytes: BN stats reads x (1 element); BN forward
// reads x, writes y (2); BN backward (training, fused ReLU) reduces over x, y, dy and then reads
// them again and writes dx (7); max pool forward reads x once and writes y plus a 1-byte argmax
// per output; its backward reads dy and argmax and writes dx.
template <class Emit>
static void bench_nn(Emit& emit, double copy_rw) {
  struct Shape { int64_t N, D, H, W, C; };
  const Shape shapes[] = {{8, 4, 56, 56, 192}, {32, 4, 56, 56, 192}, {8, 8, 28, 28, 480}};
  for (const Shape& sh : shapes) {
    const int64_t M = sh.N * sh.D * sh.H * sh.W, C = sh.C, n = M * C;
    char shape[64];
    std::snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lldx%lld", (long long)sh.N, (long long)sh.D, (long long)sh.H,
                  (long long)sh.W, (long long)sh.C);
    uint8_t *x32, *y, *dy32, *dx, *am, *ws;
    float* prm;
    CUDA_OK(cudaMalloc(&x32, (size_t)n * 4));
    CUDA_OK(cudaMalloc(&y, (size_t)n * 4));
    CUDA_OK(cudaMalloc(&dy32, (size_t)n * 4));
    CUDA_OK(cudaMalloc(&dx, (size_t)n * 4));
    CUDA_OK(cudaMalloc(&am, (size_t)n));
    CUDA_OK(cudaMalloc(&prm, (size_t)C * 6 * 4));
    const size_t wsb = std::max(comix_nn_bn_stats_workspace(M, C), comix_nn_bn_backward_workspace(M, C));
    CUDA_OK(cudaMalloc(&ws, wsb));
    fill_normal(reinterpret_cast<float*>(x32), n, 11);
    fill_normal(reinterpret_cast<float*>(dy32), n, 12);
    uint8_t *xb, *dyb;  // bf16 copies
    CUDA_OK(cudaMalloc(&xb, (size_t)n * 2));
    CUDA_OK(cudaMalloc(&dyb, (size_t)n * 2));
    if (comix_nn_cast_cuda(x32, COMIX_DTYPE_F32, xb, COMIX_DTYPE_BF16, n, nullptr) != COMIX_OK ||
        comix_nn_cast_cuda(dy32, COMIX_DTYPE_F32, dyb, COMIX_DTYPE_BF16, n, nullptr) != COMIX_OK)
      std::exit(2);
    {
      std::vector<float> h((size_t)C * 6);
      for (size_t i = 0; i < h.size(); ++i) h[i] = i < (size_t)C * 2 ? 0.0f : 1.0f;  // mean 0, var/gamma/.. 1
      CUDA_OK(cudaMemcpy(prm, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
    }
    float *mean = prm, *beta = prm + C, *var = prm + 2 * C, *gamma = prm + 3 * C, *dg = prm + 4 * C, *db = prm + 5 * C;
    for (int dt : {COMIX_DTYPE_F32, COMIX_DTYPE_BF16}) {
      const double es = dt == COMIX_DTYPE_F32 ? 4 : 2;
      uint8_t* x = dt == COMIX_DTYPE_F32 ? x32 : xb;
      uint8_t* dy = dt == COMIX_DTYPE_F32 ? dy32 : dyb;
      const char* d = dt == COMIX_DTYPE_F32 ? "f32" : "bf16";
      std::string k;
      double ms = time_ms([&](int) {
        if (comix_nn_bn_stats_cuda(x, dt, M, C, mean, var, ws, wsb, nullptr) != COMIX_OK) std::exit(2);
      }, 20);
      k = std::string("bn_stats ") + d;
      emit(k.c_str(), shape, ms, n * es, copy_rw);
      ms = time_ms([&](int) {
        if (comix_nn_bn_forward_cuda(x, dt, M, C, mean, var, 1e-3f, gamma, beta, 1, y, nullptr) != COMIX_OK) std::exit(2);
      }, 20);
      k = std::string("bn_forward+relu ") + d;
      emit(k.c_str(), shape, ms, 2 * n * es, copy_rw);
      ms = time_ms([&](int) {
        if (comix_nn_bn_backward_cuda(x, y, dy, dt, M, C, mean, var, 1e-3f, gamma, 1, dx, dg, db, ws, wsb, nullptr) != COMIX_OK)
          std::exit(2);
      }, 20);
      k = std::string("bn_backward relu ") + d;
      emit(k.c_str(), shape, ms, 7 * n * es, copy_rw);
      struct Pool { const char* name; int k[3], s[3]; };
      const Pool pools[] = {{"maxpool 1x3x3 s122", {1, 3, 3}, {1, 2, 2}}, {"maxpool 3x3x3 s1", {3, 3, 3}, {1, 1, 1}}};
      for (const Pool& p : pools) {
        const int64_t in[3] = {sh.D, sh.H, sh.W};
        int pf[3];
        int64_t o[3];
        for (int i = 0; i < 3; ++i) {
          const int64_t pad = in[i] % p.s[i] == 0 ? std::max(p.k[i] - p.s[i], 0) : std::max<int64_t>(p.k[i] - in[i] % p.s[i], 0);
          pf[i] = (int)(pad / 2);
          o[i] = (in[i] + pad - p.k[i]) / p.s[i] + 1;
        }
        const int64_t no = sh.N * o[0] * o[1] * o[2] * C;
        ms = time_ms([&](int) {
          if (comix_nn_pool3d_forward_cuda(x, dt, sh.N, sh.D, sh.H, sh.W, C, p.k, p.s, pf, o[0], o[1], o[2], 0, y, am,
                                           nullptr) != COMIX_OK)
            std::exit(2);
        }, 20);
        k = std::string(p.name) + " fwd " + d;
        emit(k.c_str(), shape, ms, n * es + no * (es + 1), copy_rw);
        ms = time_ms([&](int) {
          if (comix_nn_pool3d_backward_cuda(dy, dt, sh.N, sh.D, sh.H, sh.W, C, p.k, p.s, pf, o[0], o[1], o[2], 0, am, dx,
                                            nullptr) != COMIX_OK)
            std::exit(2);
        }, 20);
        k = std::string(p.name) + " bwd " + d;
        emit(k.c_str(), shape, ms, n * es + no * (es + 1), copy_rw);
      }
    }
    CUDA_OK(cudaFree(x32));
    CUDA_OK(cudaFree(xb));
    CUDA_OK(cudaFree(y));
    CUDA_OK(cudaFree(dy32));
    CUDA_OK(cudaFree(dyb));
    CUDA_OK(cudaFree(dx));
    CUDA_OK(cudaFree(am));
    CUDA_OK(cudaFree(prm));
    CUDA_OK(cudaFree(ws));
  }
}

// NDHWC <-> NCDHW transposes (Conv3d in cuDNN's NCDHW layout) on I3D conv shapes at batch 32:
// the padded RGB input of Conv3d_1a (C = 3: the thin path), Conv3d_2c's input, a Mixed_4 and a
// Mixed_5 input. Bytes: every element read once and written once (2 elements), against the copy.
template <class Emit>
static void bench_transpose(Emit& emit, double copy_rw) {
  struct Shape { int64_t N, S, C; const char* name; };
  const Shape shapes[] = {{32, 13LL * 229 * 229, 3, "32x13x229x229x3"}, {32, 4LL * 56 * 56, 64, "32x4x56x56x64"},
                          {32, 2LL * 14 * 14, 512, "32x2x14x14x512"}, {32, 1LL * 7 * 7, 832, "32x1x7x7x832"}};
  for (const Shape& sh : shapes) {
    const int64_t n = sh.N * sh.S * sh.C;
    float *x, *y;
    uint16_t *xb, *yb;
    CUDA_OK(cudaMalloc(&x, (size_t)n * 4));
    CUDA_OK(cudaMalloc(&y, (size_t)n * 4));
    CUDA_OK(cudaMalloc(&xb, (size_t)n * 2));
    CUDA_OK(cudaMalloc(&yb, (size_t)n * 2));
    fill_normal(x, n, 21);
    if (comix_nn_cast_cuda(x, COMIX_DTYPE_F32, xb, COMIX_DTYPE_BF16, n, nullptr) != COMIX_OK) std::exit(2);
    for (int dt : {COMIX_DTYPE_F32, COMIX_DTYPE_BF16}) {
      const double es = dt == COMIX_DTYPE_F32 ? 4 : 2;
      void* in = dt == COMIX_DTYPE_F32 ? (void*)x : (void*)xb;
      void* out = dt == COMIX_DTYPE_F32 ? (void*)y : (void*)yb;
      const char* d = dt == COMIX_DTYPE_F32 ? "f32" : "bf16";
      double ms = time_ms([&](int) {
        if (comix_nn_ndhwc_to_ncdhw_cuda(in, dt, sh.N, sh.S, sh.C, out, nullptr) != COMIX_OK) std::exit(2);
      }, 20);
      std::string k = std::string("ndhwc_to_ncdhw ") + d;
      emit(k.c_str(), sh.name, ms, 2 * n * es, copy_rw);
      ms = time_ms([&](int) {
        if (comix_nn_ncdhw_to_ndhwc_cuda(in, dt, sh.N, sh.S, sh.C, out, nullptr) != COMIX_OK) std::exit(2);
      }, 20);
      k = std::string("ncdhw_to_ndhwc ") + d;
      emit(k.c_str(), sh.name, ms, 2 * n * es, copy_rw);
    }
    CUDA_OK(cudaFree(x));
    CUDA_OK(cudaFree(y));
    CUDA_OK(cudaFree(xb));
    CUDA_OK(cudaFree(yb));
  }
}

// Names of the median variants in the timing table (comix_median_cuda_set_variant numbers).
static const char* median_name(int variant) {
  switch (variant) {
    case -1: return "median_u8 auto";
    case 0: return "median_u8 vset";
    case 8: return "median_u8 vset-w0";
    case 10: return "median_u8 half-w0";
    case 4: return "median_u8 bitslice";     // version 11: bit planes, 4 groups per warp
    case 20: return "median_u8 bitslice-n";  // the same, 2 groups per warp (narrow)
    case 5: return "median_u8 bitslice12";    // version 12: variant 4 with fewer instructions around the search
    case 21: return "median_u8 bitslice12-n"; // version 12, 2 groups per warp
    case 7: return "median_u8 bitslice13";    // version 13: version 12 with a tile's frames over 2 warps
    case 23: return "median_u8 bitslice13-4w"; // version 13, over 4 warps
    case 11: return "median_u8 bitslice14";    // version 14: straight-line passes, planes held (T 129..320)
    case 27: return "median_u8 bitslice14-2w"; // version 14, 2 warps per block stage 256-byte row pieces
    case 59: return "median_u8 bitslice14-3w"; // version 14, 3 warps per block stage 384-byte row pieces
    case 43: return "median_u8 bitslice14-4w"; // version 14, 4 warps per block stage 512-byte row pieces
    case 12: return "median_u8 bitslice15";    // version 15: version 14 staged by the bulk copy engine (sm_90)
    case 28: return "median_u8 bitslice15-3w"; // version 15, 3 warps per block
    case 13: return "median_u8 bitslice16";    // version 16: version 14 with its rows staged in global order
    case 29: return "median_u8 bitslice16-2w"; // version 16, 2 warps per block
    case 14: return "median_u8 bitslice17";    // version 17: version 11 with its rows staged in global order
    case 30: return "median_u8 bitslice17-n";  // version 17, half the groups per warp
    default: return "median_u8 hist";
  }
}

int main(int argc, char** argv) {
  const char* json = nullptr;
  bool nn_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json = argv[i + 1];
    if (!std::strcmp(argv[i], "--nn")) nn_only = true;
    if (!std::strcmp(argv[i], "--profile-median")) {
      // For a profiler (ncu): the bit-sliced median variants at 1080p x 300, two launches each
      // (the first warms up), on random frames; nothing timed, nothing printed but the order.
      const int64_t T = 300, n = 1920LL * 1080 * 3;
      uint8_t* frames;
      uint8_t* out;
      CUDA_OK(cudaMalloc(&frames, (size_t)(T * n)));
      CUDA_OK(cudaMalloc(&out, (size_t)n));
      fill_random(frames, (size_t)(T * n), 7);
      for (int variant : {4, 5, 11, 27, 59, 43, 12, 28, 13, 29}) {
        comix_median_cuda_set_variant(variant);
        for (int r = 0; r < 2; ++r)
          if (comix_median_u8_cuda(frames, T, n, out, nullptr) != COMIX_OK) return 2;
        CUDA_OK(cudaDeviceSynchronize());
        std::printf("profiled: %s T=300 1920x1080x3 (2 launches)\n", median_name(variant));
      }
      return 0;
    }
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("SKIPPED: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::string rows;
  auto emit = [&](const char* kernel, const char* shape, double ms, double bytes, double copy_rw) {
    double gbs = bytes / ms / 1e6;
    std::printf("%-22s %-26s %10.3f ms %9.1f GB/s %6.1f%% of copy\n", kernel, shape, ms, gbs, 100.0 * gbs / copy_rw);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"kernel\":\"%s\",\"shape\":\"%s\",\"ms\":%.5f,\"gbps\":%.2f,\"pct_copy\":%.2f}",
                  rows.empty() ? "" : ",", kernel, shape, ms, gbs, 100.0 * gbs / copy_rw);
    rows += buf;
  };

  // Ceiling: device-to-device copy of 2 GiB, counting bytes read + written.
  const size_t copy_bytes = (size_t)2 << 30;
  uint8_t *src, *dst;
  CUDA_OK(cudaMalloc(&src, copy_bytes));
  CUDA_OK(cudaMalloc(&dst, copy_bytes));
  fill_random(src, copy_bytes, 1);
  double copy_ms = time_ms([&](int) { CUDA_OK(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice)); }, 10);
  const double copy_rw = 2.0 * copy_bytes / copy_ms / 1e6;  // GB/s read+write
  std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  std::printf("copy D2D 2 GiB: %.3f ms = %.1f GB/s read+write (%.1f GB/s copied)\n", copy_ms, copy_rw, copy_rw / 2);
  CUDA_OK(cudaFree(dst));
  CUDA_OK(cudaFree(src));

  if (nn_only) {
    bench_nn(emit, copy_rw);
    bench_transpose(emit, copy_rw);
  } else {
  // COMIX_BENCH_MEDIAN_VARIANTS=-1,4,5 (a comma list) times only those; default: all of them
  std::vector<int> median_variants = {-1, 0, 8, 3, 10, 4, 20, 5, 21, 7, 23, 11, 27, 59, 43, 12, 28, 13, 29, 14, 30};
  if (const char* list = std::getenv("COMIX_BENCH_MEDIAN_VARIANTS")) {
    median_variants.clear();
    for (const char* p = list; *p;) {
      char* end = nullptr;
      median_variants.push_back((int)std::strtol(p, &end, 10));
      if (end == p) break;
      p = *end == ',' ? end + 1 : end;
    }
  }
  struct Size { const char* name; int64_t n; };
  const Size sizes[] = {{"224x224x3", 224 * 224 * 3}, {"1920x1080x3", 1920LL * 1080 * 3}};
  for (const Size& s : sizes) {
    for (int64_t T : {16, 72, 300, 500}) {  // 500: 4-group tiles no longer fit (versions 11, 17 on 2 groups)
      const size_t bytes = (size_t)(T * s.n);
      const int copies = bytes < ((size_t)512 << 20) ? 4 : 1;
      uint8_t* frames;
      uint8_t* out;
      CUDA_OK(cudaMalloc(&frames, bytes * copies));
      CUDA_OK(cudaMalloc(&out, (size_t)s.n));
      fill_random(frames, bytes * copies, 2 + T);
      for (int variant : median_variants) {
        comix_median_cuda_set_variant(variant);
        double ms = time_ms([&](int i) {
          if (comix_median_u8_cuda(frames + (i % copies) * bytes, T, s.n, out, nullptr) != COMIX_OK) std::exit(2);
        }, 20);
        char shape[64];
        std::snprintf(shape, sizeof shape, "T=%lld %s", (long long)T, s.name);
        emit(median_name(variant), shape, ms, (double)bytes, copy_rw);
      }
      comix_median_cuda_set_variant(-1);
      if (T == 300 && s.n > 1000000) {  // the same at 1080p on video-like data
        fill_video_like(frames, T, s.n, 9);
        for (int variant : median_variants) {
          comix_median_cuda_set_variant(variant);
          double ms = time_ms([&](int) {
            if (comix_median_u8_cuda(frames, T, s.n, out, nullptr) != COMIX_OK) std::exit(2);
          }, 20);
          emit(median_name(variant), "T=300 1080p video-like", ms, (double)bytes, copy_rw);
        }
        comix_median_cuda_set_variant(-1);
      }
      CUDA_OK(cudaFree(frames));
      CUDA_OK(cudaFree(out));
    }
  }
  // Mixing: one CoMix stream (8 videos x 128 frames) at 224x224x3, f32 and bf16 out.
  {
    const int64_t B = 8, F = 128, n = 224 * 224 * 3;
    uint8_t *x, *bg;
    void* out;
    CUDA_OK(cudaMalloc(&x, (size_t)(B * F * n)));
    CUDA_OK(cudaMalloc(&bg, (size_t)(B * n)));
    CUDA_OK(cudaMalloc(&out, (size_t)(B * F * n) * 4));
    fill_random(x, (size_t)(B * F * n), 5);
    fill_random(bg, (size_t)(B * n), 6);
    for (int dt : {COMIX_DTYPE_F32, COMIX_DTYPE_BF16}) {
      double ms = time_ms([&](int) {
        if (comix_background_mix_cuda(x, bg, B, F, n, 0.3f, dt, out, nullptr) != COMIX_OK) std::exit(2);
      }, 20);
      double bytes = (double)(B * F * n) * (1 + (dt == COMIX_DTYPE_F32 ? 4 : 2)) + (double)(B * n);
      emit(dt == COMIX_DTYPE_F32 ? "background_mix f32" : "background_mix bf16", "8x128x224x224x3", ms, bytes, copy_rw);
    }
    CUDA_OK(cudaFree(x));
    CUDA_OK(cudaFree(bg));
    CUDA_OK(cudaFree(out));
  }
  // SupCon GEMM path: the row kernels between the cuBLAS products (the products themselves are
  // cuBLAS's; see RESULTS.md). S filled with random similarities in [-10, 10]; bytes counted as
  // the minimum HBM traffic: statistics = S read once; statistics + P = read + write (the kernel
  // reads the row a second time, from L2 when the rows in flight fit it); W = read + write.
  {
    const int64_t N = 4096, V = 2, D = 128, M = N * V;
    const int64_t wsb = comix_supcon_cuda_workspace_bytes(N, V, D, COMIX_SUPCON_NORMALIZE);
    float* feat;
    float* S;
    void* ws;
    CUDA_OK(cudaMalloc(&feat, (size_t)(M * D) * 4));
    CUDA_OK(cudaMalloc(&S, (size_t)(M * M) * 4));
    CUDA_OK(cudaMalloc(&ws, (size_t)wsb));
    {
      std::mt19937 g(7);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      std::vector<float> h((size_t)(M * D));
      for (auto& v : h) v = u(g);
      CUDA_OK(cudaMemcpy(feat, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
      std::vector<float> hs((size_t)M * 1024);
      for (auto& v : hs) v = 10.0f * u(g);
      for (int64_t r = 0; r < M; r += 1024)
        CUDA_OK(cudaMemcpy(S + r * M, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
    }
    if (comix_supcon_cuda_gemm_prep(feat, N, V, D, nullptr, nullptr, COMIX_SUPCON_NORMALIZE, ws, wsb, nullptr) != COMIX_OK)
      std::exit(2);
    const double sb = (double)M * M * 4;
    double ms = time_ms([&](int) {
      if (comix_supcon_cuda_gemm_rows(N, V, D, S, M, 0, M, 0, ws, wsb, nullptr) != COMIX_OK) std::exit(2);
    }, 10);
    emit("supcon_gemm stats", "S 8192x8192", ms, sb, copy_rw);
    ms = time_ms([&](int) {
      if (comix_supcon_cuda_gemm_sym(N, V, D, S, M, ws, wsb, nullptr) != COMIX_OK) std::exit(2);
    }, 10);
    emit("supcon_gemm W=P+P^T", "S 8192x8192", ms, 2 * sb, copy_rw);
    ms = time_ms([&](int) {
      if (comix_supcon_cuda_gemm_rows(N, V, D, S, M, 0, M, 1, ws, wsb, nullptr) != COMIX_OK) std::exit(2);
    }, 10);
    emit("supcon_gemm stats+P", "S 8192x8192", ms, 2 * sb, copy_rw);
    CUDA_OK(cudaFree(feat));
    CUDA_OK(cudaFree(S));
    CUDA_OK(cudaFree(ws));
  }
  }
  if (json) {
    FILE* f = std::fopen(json, "w");
    if (f) {
      std::fprintf(f, "{\"device\":\"%s\",\"copy_rw_gbps\":%.2f,\"rows\":[%s]}\n", prop.name, copy_rw, rows.c_str());
      std::fclose(f);
    }
  }
  return 0;
}
