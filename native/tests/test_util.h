// Tiny test helpers shared by the native tests: a seeded RNG (fresh seed per run, printed so a
// failure can be replayed with COMIX_TEST_SEED), oracles written the obvious way.
#ifndef COMIX_TEST_UTIL_H
#define COMIX_TEST_UTIL_H
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

static int g_failures = 0;
#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
      std::fprintf(stderr, __VA_ARGS__);                              \
      std::fprintf(stderr, "\n");                                     \
      ++g_failures;                                                   \
    }                                                                 \
  } while (0)

inline std::mt19937_64& rng() {
  static std::mt19937_64 g([] {
    const char* s = std::getenv("COMIX_TEST_SEED");
    uint64_t seed = s ? std::strtoull(s, nullptr, 10)
                      : (uint64_t)std::chrono::high_resolution_clock::now().time_since_epoch().count();
    std::printf("seed %llu (set COMIX_TEST_SEED to replay)\n", (unsigned long long)seed);
    return seed;
  }());
  return g;
}

// Random frames; `levels` < 256 makes ties common (the hard case for a median).
inline std::vector<uint8_t> random_frames(int64_t count, int levels = 256) {
  std::vector<uint8_t> v((size_t)count);
  std::uniform_int_distribution<int> d(0, levels - 1);
  for (auto& x : v) x = (uint8_t)d(rng());
  return v;
}

// numpy.median(axis=0).astype(uint8), by sorting each element's values.
inline std::vector<uint8_t> median_oracle(const std::vector<uint8_t>& f, int64_t T, int64_t n) {
  std::vector<uint8_t> out((size_t)n);
  std::vector<double> col((size_t)T);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < T; ++t) col[(size_t)t] = f[(size_t)(t * n + i)];
    std::sort(col.begin(), col.end());
    double m = (T % 2) ? col[(size_t)(T / 2)] : (col[(size_t)(T / 2 - 1)] + col[(size_t)(T / 2)]) / 2.0;
    out[(size_t)i] = (uint8_t)m;  // truncation, as numpy's astype
  }
  return out;
}

inline double mix_oracle(uint8_t x, uint8_t bg, double gamma) {
  return (1.0 - gamma) * (x * 2.0 / 255.0 - 1.0) + gamma * (bg * 2.0 / 255.0 - 1.0);
}

inline float bf16_to_f32(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline int finish(const char* name) {
  if (g_failures) {
    std::printf("%s: %d failure(s)\n", name, g_failures);
    return 1;
  }
  std::printf("%s: all checks passed\n", name);
  return 0;
}
#endif
