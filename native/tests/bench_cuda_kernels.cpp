// Native timing of the comix CUDA kernels with CUDA events, beside the card's own ceilings
// (device-to-device copy bandwidth). Not a test: scripts/gpu-check runs it and RESULTS.md
// records what it prints. Inputs are random (never zeros); small problems rotate over several
// input copies so repeated runs do not just measure L2.
//   bench_cuda_kernels [--json FILE]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "comix/background_mix.h"
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

// Names of the median variants in the timing table (comix_median_cuda_set_variant numbers).
static const char* median_name(int variant) {
  switch (variant) {
    case -1: return "median_u8 auto";
    case 0: return "median_u8 vset";
    case 8: return "median_u8 vset-w0";
    case 10: return "median_u8 half-w0";
    case 4: return "median_u8 bitslice";     // version 11: bit planes, 4 groups per warp
    case 20: return "median_u8 bitslice-n";  // the same, 2 groups per warp (narrow)
    default: return "median_u8 hist";
  }
}

int main(int argc, char** argv) {
  const char* json = nullptr;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--json")) json = argv[i + 1];
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

  struct Size { const char* name; int64_t n; };
  const Size sizes[] = {{"224x224x3", 224 * 224 * 3}, {"1920x1080x3", 1920LL * 1080 * 3}};
  for (const Size& s : sizes) {
    for (int64_t T : {16, 72, 300}) {
      const size_t bytes = (size_t)(T * s.n);
      const int copies = bytes < ((size_t)512 << 20) ? 4 : 1;
      uint8_t* frames;
      uint8_t* out;
      CUDA_OK(cudaMalloc(&frames, bytes * copies));
      CUDA_OK(cudaMalloc(&out, (size_t)s.n));
      fill_random(frames, bytes * copies, 2 + T);
      for (int variant : {-1, 0, 8, 3, 10, 4, 20}) {
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
        for (int variant : {-1, 0, 8, 3, 10, 4, 20}) {
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
  if (json) {
    FILE* f = std::fopen(json, "w");
    if (f) {
      std::fprintf(f, "{\"device\":\"%s\",\"copy_rw_gbps\":%.2f,\"rows\":[%s]}\n", prop.name, copy_rw, rows.c_str());
      std::fclose(f);
    }
  }
  return 0;
}
