// A/B timing of two builds of the CPU SupCon kernel in one process.
//
// The build VM's speed drifts by up to ~10% within minutes, more than most single changes gain,
// so timing one build and then the other misleads. This driver dlopen()s two copies of
// libcomix_cpu.so and alternates calls (A, B, A, B, ...), so both see the same machine; it
// prints each build's median, 25th percentile and minimum, the loss, and a hash of the gradient's
// bits (equal hashes: the change kept every bit). Session 6 judged each SupCon change this way.
//
//   cmake -S native -B /tmp/a -DCOMIX_CUDA=OFF && cmake --build /tmp/a -j2   # the "before" tree
//   cmake -S native -B /tmp/b -DCOMIX_CUDA=OFF && cmake --build /tmp/b -j2   # the "after" tree
//   /tmp/b/bench_supcon_ab /tmp/a/libcomix_cpu.so /tmp/b/libcomix_cpu.so [calls 30] [threads 0]
//       [N 1024] [D 512] [V 2]
//
// Input: NT-Xent over L2-normalised standard Gaussian rows, tau = base = 0.1 (as SupConBench).
// Each build keeps its own helper threads; a build's helpers may still spin briefly while the
// other build's call starts, which both builds suffer alike.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "comix/supcon.h"  // the signature only: each build's copy is found by dlsym

typedef decltype(&comix_supcon_f32_cpu) supcon_fn;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s libA.so libB.so [calls] [threads] [N] [D] [V]\n", argv[0]);
    return 2;
  }
  const int calls = argc > 3 ? std::atoi(argv[3]) : 30, threads = argc > 4 ? std::atoi(argv[4]) : 0;
  const int64_t N = argc > 5 ? std::atoll(argv[5]) : 1024, D = argc > 6 ? std::atoll(argv[6]) : 512;
  const int64_t V = argc > 7 ? std::atoll(argv[7]) : 2;
  if (calls < 1 || N < 1 || D < 1 || V < 1) {
    std::fprintf(stderr, "calls, N, D and V must be >= 1\n");
    return 2;
  }
  supcon_fn fn[2];
  for (int w = 0; w < 2; ++w) {
    void* h = dlopen(argv[1 + w], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      std::fprintf(stderr, "cannot load %s: %s\n", argv[1 + w], dlerror());
      return 1;
    }
    fn[w] = reinterpret_cast<supcon_fn>(dlsym(h, "comix_supcon_f32_cpu"));
    if (!fn[w]) {
      std::fprintf(stderr, "%s has no comix_supcon_f32_cpu\n", argv[1 + w]);
      return 1;
    }
  }
  std::vector<float> x((size_t)(N * V * D)), g(x.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (float& v : x) v = nd(rng);
  std::vector<double> t[2];
  double loss[2] = {0, 0};
  unsigned long long hash[2] = {0, 0};
  for (int i = 0; i < 2 * (calls + 2); ++i) {
    const int w = i & 1;
    const auto a = std::chrono::steady_clock::now();
    const int st = fn[w](x.data(), N, V, D, nullptr, nullptr, 0.1f, 0.1f, COMIX_SUPCON_NORMALIZE, 1.0f, &loss[w], g.data(),
                         threads);
    const auto b = std::chrono::steady_clock::now();
    if (st != 0) {
      std::fprintf(stderr, "build %c returned status %d\n", w ? 'B' : 'A', st);
      return 1;
    }
    if (i >= 4) t[w].push_back(std::chrono::duration<double, std::milli>(b - a).count());
    unsigned long long h = 1469598103934665603ull;  // FNV-1a over the gradient's bits
    for (float v : g) {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      h = (h ^ u) * 1099511628211ull;
    }
    hash[w] = h;
  }
  for (int w = 0; w < 2; ++w) {
    std::sort(t[w].begin(), t[w].end());
    std::printf("%c: median %.2f p25 %.2f min %.2f ms  loss %.9f  grad hash %016llx\n", w ? 'B' : 'A',
                t[w][t[w].size() / 2], t[w][t[w].size() / 4], t[w][0], loss[w], hash[w]);
  }
  return 0;
}
