// CPU vs CUDA parity for every comix_cuda op on fresh random inputs: the median must be
// identical byte for byte (direct and streamed paths, aligned and odd sizes, large T that
// forces the narrow-tile and direct kernels), mixing within 1e-6 (f32) and bit-identical bf16
// up to one rounding step. Exits 77 (ctest: skipped) when no GPU answers, saying why.
#include <cuda_runtime.h>

#include <vector>

#include "comix/background_mix.h"
#include "comix/temporal_median.h"
#include "cuda_test_util.h"
#include "test_util.h"



// One random input, its CPU median and one upload serve every kernel variant: when each variant
// made its own, generating the 1080p x 300 input and its reference over and over took most of
// this test's 75 s on an H200 (2026-11-26).
static void check_median(int64_t T, int64_t n, int levels, int offset, const std::vector<int>& variants) {
  auto f = random_frames(T * n, levels);
  std::vector<uint8_t> ref((size_t)n), got((size_t)n);
  CHECK(comix_median_u8_cpu(f.data(), T, n, ref.data(), 0) == COMIX_OK, "cpu median");
  Dev<uint8_t> df((size_t)(T * n) + offset), dout((size_t)n + offset);
  CUDA_OK(cudaMemcpy(df.p + offset, f.data(), (size_t)(T * n), cudaMemcpyHostToDevice));
  for (int variant : variants) {
    CHECK(comix_median_cuda_set_variant(variant) == COMIX_OK, "variant %d", variant);
    CUDA_OK(cudaMemset(dout.p, 0xAB, (size_t)n + offset));
    int st = comix_median_u8_cuda(df.p + offset, T, n, dout.p + offset, nullptr);
    CHECK(st == COMIX_OK, "cuda median status %d (variant %d)", st, variant);
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(got.data(), dout.p + offset, (size_t)n, cudaMemcpyDeviceToHost));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += got[(size_t)i] != ref[(size_t)i];
    CHECK(bad == 0, "median variant %d T=%lld n=%lld offset=%d: %lld mismatches", variant, (long long)T,
          (long long)n, offset, (long long)bad);
  }
  comix_median_cuda_set_variant(-1);
}

static void check_hist(int64_t T, int64_t n) {
  auto f = random_frames(T * n);
  std::vector<uint8_t> ref((size_t)n), got((size_t)n);
  CHECK(comix_median_u8_cpu(f.data(), T, n, ref.data(), 0) == COMIX_OK, "cpu median");
  Dev<uint8_t> df((size_t)(T * n)), dout((size_t)n);
  Dev<uint16_t> dh((size_t)n * 256);
  CUDA_OK(cudaMemcpy(df.p, f.data(), (size_t)(T * n), cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(dh.p, 0, (size_t)n * 512));
  const int64_t half = T / 2;
  if (half > 0) CHECK(comix_median_hist_fold_cuda(df.p, half, n, dh.p, nullptr) == COMIX_OK, "fold 1");
  CHECK(comix_median_hist_fold_cuda(df.p + half * n, T - half, n, dh.p, nullptr) == COMIX_OK, "fold 2");
  CHECK(comix_median_from_hist_cuda(dh.p, T, n, dout.p, nullptr) == COMIX_OK, "from hist");
  CUDA_OK(cudaDeviceSynchronize());
  CUDA_OK(cudaMemcpy(got.data(), dout.p, (size_t)n, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += got[(size_t)i] != ref[(size_t)i];
  CHECK(bad == 0, "hist median T=%lld n=%lld: %lld mismatches", (long long)T, (long long)n, (long long)bad);
}

static void check_mix(int64_t B, int64_t F, int64_t n, int dtype, int offset) {
  auto x = random_frames(B * F * n), bg = random_frames(B * n);
  const float gamma = std::uniform_real_distribution<float>(0.f, 0.5f)(rng());
  const size_t total = (size_t)(B * F * n), esz = dtype == COMIX_DTYPE_F32 ? 4 : 2;
  std::vector<unsigned char> ref(total * esz), got(total * esz);
  CHECK(comix_background_mix_cpu(x.data(), bg.data(), B, F, n, gamma, dtype, ref.data(), 0) == COMIX_OK, "cpu mix");
  Dev<uint8_t> dx(total + offset), dbg((size_t)(B * n) + offset), dout(total * esz + offset * esz);
  CUDA_OK(cudaMemcpy(dx.p + offset, x.data(), total, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dbg.p + offset, bg.data(), (size_t)(B * n), cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(dout.p, 0xFF, total * esz + offset * esz));
  CHECK(comix_background_mix_cuda(dx.p + offset, dbg.p + offset, B, F, n, gamma, dtype, dout.p + offset * esz,
                                  nullptr) == COMIX_OK, "cuda mix");
  CUDA_OK(cudaDeviceSynchronize());
  CUDA_OK(cudaMemcpy(got.data(), dout.p + offset * esz, total * esz, cudaMemcpyDeviceToHost));
  double worst = 0;
  for (size_t k = 0; k < total; ++k) {
    double a, b;
    if (dtype == COMIX_DTYPE_F32) {
      float fa, fb;
      std::memcpy(&fa, &ref[k * 4], 4);
      std::memcpy(&fb, &got[k * 4], 4);
      a = fa; b = fb;
    } else {
      uint16_t ua, ub;
      std::memcpy(&ua, &ref[k * 2], 2);
      std::memcpy(&ub, &got[k * 2], 2);
      a = bf16_to_f32(ua); b = bf16_to_f32(ub);
    }
    double err = std::fabs(a - b);
    if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
  }
  // f32: 1e-6 (the bound). bf16: FMA contraction on the GPU may move a value across a
  // rounding boundary: at most one bf16 step (2^-8 for |v| <= 1).
  double tol = dtype == COMIX_DTYPE_F32 ? 1e-6 : 1.0 / 256;
  CHECK(worst <= tol, "mix B=%lld F=%lld n=%lld dtype=%d offset=%d: max diff %g", (long long)B, (long long)F,
        (long long)n, dtype, offset, worst);
}

int main() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  const int64_t Ts[] = {1, 2, 3, 16, 64, 65, 72, 128, 129, 193, 255, 256, 300, 301, 320, 321, 500, 640, 641, 1000, 1817, 2500, 8000};
  const int64_t ns[] = {1, 13, 128, 4096, 4096 + 48, 224 * 224 * 3, 101 * 77 * 3};  // 4144: 16-byte rows, a part block
  // every kernel variant (4, 20: bit-sliced, 4 and 2 groups per warp; 5, 21: the same, version 12;
  // 7, 23: version 13, a tile's frames over 2 and 4 warps; 11, 27, 59, 43: version 14 on 1, 2, 3
  // and 4 warps per block, 128 < T <= 320 with 16-byte rows, else version 12; 12, 28: version 15
  // (bulk copies, sm_90) on 1 and 3 warps, else version 14; 13, 29: version 16 (rows staged in
  // global order) on 1 and 2 warps, T <= 320 with 16-byte rows, else version 12; 14, 30: version 17
  // = version 11 staged in global order, 4 and 2 groups per warp)
  const std::vector<int> variants = {-1, 0, 8, 3, 10, 4, 20, 5, 21, 7, 23, 11, 27, 59, 43, 12, 28, 13, 29, 14, 30};
  for (int64_t T : Ts)
    for (int64_t n : ns) {
      if (T * n > (int64_t)400e6 || (T >= 1000 && n > 4096 * 4)) continue;
      check_median(T, n, (T + n) % 3 == 0 ? 3 : 256, 0, variants);
    }
  check_median(16, 4096, 256, 3, variants);  // misaligned pointers take the byte path
  check_median(300, 1920 * 1080 * 3, 256, 0, variants);
  CHECK(comix_median_cuda_set_variant(6) == COMIX_ERR_ARGUMENT, "variant 6 was removed");
  CHECK(comix_median_cuda_set_variant(75) == COMIX_ERR_ARGUMENT, "version 14 has 4 block widths");
  CHECK(comix_median_cuda_set_variant(44) == COMIX_ERR_ARGUMENT, "version 15 has 2 block widths");
  CHECK(comix_median_cuda_set_variant(45) == COMIX_ERR_ARGUMENT, "version 16 has 2 block widths");
  CHECK(comix_median_cuda_set_variant(46) == COMIX_ERR_ARGUMENT, "version 17 has 2 tile widths");
  for (int64_t T : {1, 2, 7, 300}) check_hist(T, 4099);
  for (int dt : {COMIX_DTYPE_F32, COMIX_DTYPE_BF16}) {
    check_mix(1, 1, 1, dt, 0);
    check_mix(2, 8, 224 * 224 * 3, dt, 0);
    check_mix(3, 5, 1001, dt, 0);
    check_mix(2, 4, 4096, dt, 1);
  }
  return finish("cuda_parity");
}
