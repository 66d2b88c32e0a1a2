// CPU kernels against their oracles: temporal median (direct and streamed through the
// histogram) vs a sort-based numpy.median, background mixing vs float64.
#include "comix/background_mix.h"
#include "comix/temporal_median.h"
#include "comix_math.cuh"
#include "test_util.h"

static void check_median(int64_t T, int64_t n, int levels, int threads) {
  auto f = random_frames(T * n, levels);
  auto ref = median_oracle(f, T, n);
  std::vector<uint8_t> out((size_t)n, 0xAB);
  // poison: values the median can't equal everywhere
  int st = comix_median_u8_cpu(f.data(), T, n, out.data(), threads);
  CHECK(st == COMIX_OK, "status %d", st);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += out[(size_t)i] != ref[(size_t)i];
  CHECK(bad == 0, "median T=%lld n=%lld levels=%d: %lld mismatches", (long long)T, (long long)n, levels, (long long)bad);

  // streamed: fold in uneven chunks, then read out
  std::vector<uint16_t> hist((size_t)n * 256, 0);
  for (int64_t t0 = 0; t0 < T;) {
    int64_t c = std::min<int64_t>(T - t0, 1 + (int64_t)(rng()() % 7));
    CHECK(comix_median_hist_fold_cpu(f.data() + t0 * n, c, n, hist.data(), threads) == COMIX_OK, "fold");
    t0 += c;
  }
  std::fill(out.begin(), out.end(), 0xCD);
  CHECK(comix_median_from_hist_cpu(hist.data(), T, n, out.data(), threads) == COMIX_OK, "from_hist");
  bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += out[(size_t)i] != ref[(size_t)i];
  CHECK(bad == 0, "hist median T=%lld n=%lld: %lld mismatches", (long long)T, (long long)n, (long long)bad);
}

static void check_mix(int64_t B, int64_t F, int64_t n, int dtype) {
  auto x = random_frames(B * F * n), bg = random_frames(B * n);
  const float gamma = std::uniform_real_distribution<float>(0.f, 0.5f)(rng());
  std::vector<float> o32((size_t)(B * F * n), NAN);
  std::vector<uint16_t> o16((size_t)(B * F * n), 0xFFFF);
  void* out = dtype == COMIX_DTYPE_F32 ? (void*)o32.data() : (void*)o16.data();
  CHECK(comix_background_mix_cpu(x.data(), bg.data(), B, F, n, gamma, dtype, out, 2) == COMIX_OK, "mix status");
  double worst = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t i = 0; i < n; ++i) {
        size_t k = (size_t)((b * F + f) * n + i);
        double ref = mix_oracle(x[k], bg[(size_t)(b * n + i)], gamma);
        double got = dtype == COMIX_DTYPE_F32 ? o32[k] : bf16_to_f32(o16[k]);
        double err = std::fabs(got - ref);
        if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
      }
  double tol = dtype == COMIX_DTYPE_F32 ? 1e-6 : 1.0 / 256;  // bf16: 8 bits of mantissa on |v| <= 1
  CHECK(worst <= tol, "mix B=%lld F=%lld n=%lld dtype=%d: max abs error %g", (long long)B, (long long)F, (long long)n,
        dtype, worst);
}

int main() {
  // T = 1 and 2, odd and even, ties, tiles not a multiple of the tile width, more than 255 rows
  const int64_t Ts[] = {1, 2, 3, 4, 7, 16, 33, 72, 255, 256, 300, 511, 600};
  const int64_t ns[] = {1, 5, 127, 128, 129, 3 * 17 * 13};
  for (int64_t T : Ts)
    for (int64_t n : ns) check_median(T, n, (T + n) % 3 == 0 ? 4 : 256, (int)(1 + (T + n) % 3));
  // errors
  uint8_t b = 0;
  CHECK(comix_median_u8_cpu(nullptr, 1, 1, &b, 1) == COMIX_ERR_ARGUMENT, "null frames");
  CHECK(comix_median_u8_cpu(&b, 0, 1, &b, 1) == COMIX_ERR_ARGUMENT, "T=0");
  // bf16 rounding: nearest even
  CHECK(comix::f32_to_bf16(1.0f) == 0x3F80, "bf16(1)");
  CHECK(comix::f32_to_bf16(1.00390625f) == 0x3F80, "tie rounds to even");
  CHECK(comix::f32_to_bf16(1.01171875f) == 0x3F82, "tie rounds to even (odd)");
  for (int dt : {COMIX_DTYPE_F32, COMIX_DTYPE_BF16}) {
    check_mix(1, 1, 1, dt);
    check_mix(2, 3, 4097, dt);
    check_mix(3, 8, 224 * 3 + 5, dt);
  }
  float dummy;
  CHECK(comix_background_mix_cpu(&b, &b, 1, 1, 1, 1.5f, COMIX_DTYPE_F32, &dummy, 1) == COMIX_ERR_ARGUMENT, "gamma>1");
  CHECK(comix_background_mix_cpu(&b, &b, 1, 1, 1, NAN, COMIX_DTYPE_F32, &dummy, 1) == COMIX_ERR_ARGUMENT, "gamma NaN");
  return finish("cpu_kernels");
}
