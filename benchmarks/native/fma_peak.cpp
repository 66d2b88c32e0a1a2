// The machine's fp32 multiply-add ceiling, the floor every CPU kernel figure in RESULTS.md is
// counted against: 12 independent chains of 16-lane FMAs per thread (enough to cover the FMA
// latency), register-only, on 1 thread and then on every hardware thread at once.
//
//   g++ -O2 -march=native -std=c++17 -pthread benchmarks/native/fma_peak.cpp -o /tmp/fma_peak && /tmp/fma_peak
//
// (benchmarks/run-cpu.sh builds and runs it into env.txt.) Prints G fp32 FMA/s; one FMA is two
// FLOPs. The 16-lane vector type compiles to one 512-bit op with AVX-512, two 256-bit ones with
// AVX2, four with SSE, so the figure is the ceiling for whatever the compiler may use here.
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

typedef float vf16 __attribute__((vector_size(64)));

static float chains(long iters) {
  vf16 a[12];
  const vf16 b = vf16{} + 1.0000001f, c = vf16{} + 1e-7f;
  for (int i = 0; i < 12; ++i) a[i] = vf16{} + (float)i;
  for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = a[i] * b + c;
  }
  float s = 0;
  for (int i = 0; i < 12; ++i) s += a[i][0] + a[i][15];
  return s;
}

int main() {
  const long iters = 100000000;
  const unsigned hw = std::thread::hardware_concurrency() ? std::thread::hardware_concurrency() : 1;
  for (unsigned th : {1u, hw}) {
    std::vector<float> sink(th);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < th; ++t) pool.emplace_back([&, t] { sink[t] = chains(iters); });
    for (auto& t : pool) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("fp32 FMA peak, %u thread%s: %.1f G FMA/s (checksum %g)\n", th, th == 1 ? "" : "s",
                th * (double)iters * 12 * 16 / s / 1e9, (double)sink[0]);
    if (hw == 1) break;
  }
  return 0;
}
