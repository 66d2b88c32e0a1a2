// CPU vs CUDA parity for SupCon (every path: single block, tiled, generic reference) and the
// cross-entropy family, on fresh random inputs, with NaN-poisoned outputs. The CPU path is
// itself checked against a float64 oracle (test_supcon_cpu). Tested bound: loss and gradient
// within 1e-5 relative (gradient: max|gpu - cpu| / max|cpu|) for M = N*V <= 2048, and 5e-5 for
// M = 8192 (fp32 online log-sum-exp over 16 partial sums per row); with COMIX_SUPCON_TF32 (tiled
// path, D >= 64) 2e-3 (loss) and 2e-2 (gradient). Also: the CoMix shape
// [16, 2, 12] must be a single kernel launch (counted by capturing the call into a CUDA graph).
// Also the GEMM path's stages with the products done on the host (check_gemm_stages).
// Exits 77 (ctest: skipped) when no GPU answers, saying why.
#include <cuda_runtime.h>

#include <cmath>

#include "comix/cross_entropy.h"
#include "comix/supcon.h"
#include "cuda_test_util.h"
#include "test_util.h"



struct Case {
  const char* name;
  int64_t N, V, D;
  bool labels, mask, normalize, vmajor;
  int classes;
  float tau = 0.5f, tau_b = 0.07f, scale = 0.3f;
  double tol = 1e-5;
};

// Relative loss error, gradient error (max |got - want| / max |want|) and whether every element is finite.
struct Errors {
  double loss, grad;
  bool finite;
};

static Errors errors(float loss, double ref_loss, const std::vector<float>& g, const std::vector<float>& ref) {
  Errors e{ref_loss != 0 ? std::fabs(loss - ref_loss) / std::fabs(ref_loss) : std::fabs((double)loss), 0, true};
  double worst = 0, mag = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    e.finite &= std::isfinite(g[i]);
    worst = std::max(worst, std::fabs((double)g[i] - (double)ref[i]));
    mag = std::max(mag, std::fabs((double)ref[i]));
  }
  e.grad = mag > 0 ? worst / mag : worst;
  return e;
}

static void check(const Case& c, int path, bool accumulate, bool tf32 = false) {
  const int64_t M = c.N * c.V, n = M * c.D;
  std::normal_distribution<float> nd(0.0f, c.scale);
  std::vector<float> x((size_t)n);
  for (auto& v : x) v = nd(rng());
  std::vector<int64_t> lab;
  std::vector<uint8_t> msk;
  if (c.labels)
    for (int64_t i = 0; i < c.N; ++i) lab.push_back((int64_t)(rng()() % (uint64_t)c.classes));
  if (c.mask)
    for (int64_t i = 0; i < c.N; ++i) msk.push_back(rng()() % 5 < 3 ? 1 : 0);
  const int flags = (c.normalize ? COMIX_SUPCON_NORMALIZE : 0) | (c.vmajor ? COMIX_SUPCON_VIEW_MAJOR : 0) |
                    (accumulate ? COMIX_SUPCON_ACCUMULATE : 0);
  const int gpu_flags = flags | (tf32 ? COMIX_SUPCON_TF32 : 0);
  const float gscale = accumulate ? -1.5f : 1.0f;
  std::vector<float> ref((size_t)n, accumulate ? 0.5f : 0.0f);
  double ref_loss = 0;
  CHECK(comix_supcon_f32_cpu(x.data(), c.N, c.V, c.D, lab.empty() ? nullptr : lab.data(),
                             msk.empty() ? nullptr : msk.data(), c.tau, c.tau_b, flags, gscale, &ref_loss, ref.data(),
                             0) == COMIX_OK, "cpu supcon");
  Dev<float> dx(x), dloss(1);
  Dev<int64_t> dlab(lab);
  Dev<uint8_t> dmsk(msk);
  Dev<float> dg(std::vector<float>((size_t)n, accumulate ? 0.5f : NAN));  // poison unless accumulating
  const int64_t wsb = comix_supcon_cuda_workspace_bytes(c.N, c.V, c.D, flags);
  Dev<unsigned char> ws((size_t)wsb);
  CUDA_OK(cudaMemset(ws.p, 0xFF, (size_t)wsb));  // NaN-ish garbage: every used byte must be written first
  const float poison = NAN;
  CUDA_OK(cudaMemcpy(dloss.p, &poison, 4, cudaMemcpyHostToDevice));
  const int st = comix_supcon_cuda_path(dx.p, c.N, c.V, c.D, lab.empty() ? nullptr : dlab.p,
                                        msk.empty() ? nullptr : dmsk.p, c.tau, c.tau_b, gpu_flags, gscale, dloss.p, dg.p,
                                        ws.p, wsb, nullptr, path);
  CHECK(st == COMIX_OK, "%s path %d: status %d", c.name, path, st);
  CUDA_OK(cudaDeviceSynchronize());
  const float loss = dloss.get()[0];
  const std::vector<float> g = dg.get();
  const Errors err = errors(loss, ref_loss, g, ref);
  const double le = err.loss, ge = err.grad;
  const bool finite = err.finite;
  // TF32 (10-bit mantissa inputs, fp32 accumulation): tested bound 2e-3 (loss), 2e-2 (gradient)
  const double ltol = tf32 ? 2e-3 : c.tol, gtol = tf32 ? 2e-2 : c.tol;
  std::printf("  %-26s%s path %d acc %d M=%-6lld D=%-4lld loss %.8g (cpu %.8g) err %.2e grad err %.2e\n", c.name, tf32 ? " tf32" : "", path,
              accumulate, (long long)M, (long long)c.D, loss, ref_loss, le, ge);
  CHECK(finite, "%s path %d: non-finite gradient element (unwritten?)", c.name, path);
  CHECK(le <= ltol, "%s path %d tf32 %d: loss rel err %.3e", c.name, path, tf32, le);
  CHECK(ge <= gtol, "%s path %d tf32 %d: grad rel err %.3e", c.name, path, tf32, ge);
}

// The GEMM path's stages (prep, rows, sym, finish) with the three products done on the host in
// float64 (this library has no cuBLAS; CudaOps runs them there): one stored S with the symmetric W
// (ld padded to 32 floats: float4 row kernels), or row blocks of `block` rows with P + P^T (ld = M + 1
// when block is odd: unaligned rows, the scalar kernels).
static void check_gemm_stages(const Case& c, int64_t block, bool symmetric, bool accumulate) {
  const int64_t M = c.N * c.V, D = c.D, n = M * D;
  std::normal_distribution<float> nd(0.0f, c.scale);
  std::vector<float> x((size_t)n);
  for (auto& v : x) v = nd(rng());
  std::vector<int64_t> lab;
  std::vector<uint8_t> msk;
  if (c.labels)
    for (int64_t i = 0; i < c.N; ++i) lab.push_back((int64_t)(rng()() % (uint64_t)c.classes));
  if (c.mask)
    for (int64_t i = 0; i < c.N; ++i) msk.push_back(rng()() % 5 < 3 ? 1 : 0);
  const int flags = (c.normalize ? COMIX_SUPCON_NORMALIZE : 0) | (c.vmajor ? COMIX_SUPCON_VIEW_MAJOR : 0) |
                    (accumulate ? COMIX_SUPCON_ACCUMULATE : 0);
  const float gscale = accumulate ? -1.5f : 1.0f;
  std::vector<float> ref((size_t)n, accumulate ? 0.5f : 0.0f);
  double ref_loss = 0;
  CHECK(comix_supcon_f32_cpu(x.data(), c.N, c.V, c.D, lab.empty() ? nullptr : lab.data(),
                             msk.empty() ? nullptr : msk.data(), c.tau, c.tau_b, flags, gscale, &ref_loss, ref.data(),
                             0) == COMIX_OK, "cpu supcon");
  Dev<float> dx(x), dloss(1);
  Dev<int64_t> dlab(lab);
  Dev<uint8_t> dmsk(msk);
  Dev<float> dg(std::vector<float>((size_t)n, accumulate ? 0.5f : NAN));
  const int64_t wsb = comix_supcon_cuda_workspace_bytes(c.N, c.V, c.D, flags);
  Dev<unsigned char> ws((size_t)wsb);
  CUDA_OK(cudaMemset(ws.p, 0xFF, (size_t)wsb));
  const int64_t zoff = comix_supcon_cuda_workspace_offset(c.N, c.V, c.D, flags, 0);
  const int64_t dzoff = comix_supcon_cuda_workspace_offset(c.N, c.V, c.D, flags, 1);
  CHECK(zoff >= 0 && dzoff >= 0 && dzoff + n * 4 <= wsb, "workspace offsets %lld %lld", (long long)zoff,
        (long long)dzoff);
  CHECK(comix_supcon_cuda_gemm_prep(dx.p, c.N, c.V, c.D, lab.empty() ? nullptr : dlab.p,
                                    msk.empty() ? nullptr : dmsk.p, flags, ws.p, wsb, nullptr) == COMIX_OK, "gemm_prep");
  std::vector<float> z((size_t)n);
  CUDA_OK(cudaMemcpy(z.data(), ws.p + zoff, (size_t)n * 4, cudaMemcpyDeviceToHost));
  const int64_t ld = symmetric || block % 2 == 0 ? (M + 31) / 32 * 32 : M + 1;
  const int64_t rows = symmetric ? M : block;
  Dev<float> S((size_t)(rows * ld));
  std::vector<float> hs((size_t)(rows * ld));
  std::vector<double> dz((size_t)n, 0.0);
  const float inv_tau = 1.0f / c.tau;
  auto sim = [&](int64_t r0, int64_t b) {  // S_blk = Z_blk Z^T / tau, as cuBLAS would (fp32 result)
    for (int64_t i = 0; i < b; ++i)
      for (int64_t k = 0; k < ld; ++k) {
        double acc = 0;
        if (k < M)
          for (int64_t d = 0; d < D; ++d) acc += (double)z[(size_t)((r0 + i) * D + d)] * z[(size_t)(k * D + d)];
        hs[(size_t)(i * ld + k)] = k < M ? (float)acc * inv_tau : NAN;  // padding is never read
      }
    CUDA_OK(cudaMemcpy(S.p, hs.data(), (size_t)(b * ld) * 4, cudaMemcpyHostToDevice));
  };
  if (symmetric) {
    sim(0, M);
    CHECK(comix_supcon_cuda_gemm_rows(c.N, c.V, c.D, S.p, ld, 0, M, 0, ws.p, wsb, nullptr) == COMIX_OK, "gemm_rows");
    CHECK(comix_supcon_cuda_gemm_sym(c.N, c.V, c.D, S.p, ld, ws.p, wsb, nullptr) == COMIX_OK, "gemm_sym");
    CUDA_OK(cudaMemcpy(hs.data(), S.p, (size_t)(M * ld) * 4, cudaMemcpyDeviceToHost));
    for (int64_t a = 0; a < M; ++a)
      for (int64_t k = 0; k < M; ++k) {
        const double w = hs[(size_t)(a * ld + k)];
        if (w != 0.0)
          for (int64_t d = 0; d < D; ++d) dz[(size_t)(a * D + d)] += w * z[(size_t)(k * D + d)];
      }
  } else {
    for (int64_t r0 = 0; r0 < M; r0 += block) {
      const int64_t b = std::min(block, M - r0);
      sim(r0, b);
      CHECK(comix_supcon_cuda_gemm_rows(c.N, c.V, c.D, S.p, ld, r0, b, 1, ws.p, wsb, nullptr) == COMIX_OK,
            "gemm_rows");
      CUDA_OK(cudaMemcpy(hs.data(), S.p, (size_t)(b * ld) * 4, cudaMemcpyDeviceToHost));
      for (int64_t i = 0; i < b; ++i)
        for (int64_t k = 0; k < M; ++k) {
          const double pv = hs[(size_t)(i * ld + k)];
          if (pv == 0.0) continue;
          for (int64_t d = 0; d < D; ++d) {
            dz[(size_t)((r0 + i) * D + d)] += pv * z[(size_t)(k * D + d)];  // P_blk Z
            dz[(size_t)(k * D + d)] += pv * z[(size_t)((r0 + i) * D + d)];  // P_blk^T Z_blk
          }
        }
    }
  }
  std::vector<float> dzf(dz.begin(), dz.end());
  CUDA_OK(cudaMemcpy(ws.p + dzoff, dzf.data(), (size_t)n * 4, cudaMemcpyHostToDevice));
  const float poison = NAN;
  CUDA_OK(cudaMemcpy(dloss.p, &poison, 4, cudaMemcpyHostToDevice));
  CHECK(comix_supcon_cuda_gemm_finish(c.N, c.V, c.D, c.tau, c.tau_b, flags, gscale, dloss.p, dg.p, ws.p, wsb,
                                      nullptr) == COMIX_OK, "gemm_finish");
  CUDA_OK(cudaDeviceSynchronize());
  const float loss = dloss.get()[0];
  const std::vector<float> g = dg.get();
  const Errors err = errors(loss, ref_loss, g, ref);
  const double le = err.loss, ge = err.grad;
  const bool finite = err.finite;
  std::printf("  %-26s gemm stages %s block %-5lld acc %d M=%-6lld loss %.8g (cpu %.8g) err %.2e grad err %.2e\n",
              c.name, symmetric ? "sym " : "P+Pt", (long long)rows, accumulate, (long long)M, loss, ref_loss, le, ge);
  CHECK(finite, "%s gemm stages: non-finite gradient element (unwritten?)", c.name);
  CHECK(le <= c.tol, "%s gemm stages: loss rel err %.3e", c.name, le);
  CHECK(ge <= c.tol, "%s gemm stages: grad rel err %.3e", c.name, ge);
}

static int count_kernel_launches(int64_t N, int64_t V, int64_t D) {
  std::vector<float> x((size_t)(N * V * D), 0.1f);
  Dev<float> dx(x), dg(x.size()), dloss(1);
  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  const int st = comix_supcon_cuda(dx.p, N, V, D, nullptr, nullptr, 0.5f, 0.07f, 0, 1.0f, dloss.p, dg.p, nullptr, 0, s);
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  CHECK(st == COMIX_OK, "captured supcon status %d", st);
  size_t nodes = 0;
  CUDA_OK(cudaGraphGetNodes(graph, nullptr, &nodes));
  CUDA_OK(cudaGraphDestroy(graph));
  CUDA_OK(cudaStreamDestroy(s));
  return (int)nodes;
}

static void check_ce() {
  const int64_t B = 37, C = 12;
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x((size_t)(B * C)), y((size_t)(B * C));
  for (auto& v : x) v = nd(rng());
  for (auto& v : y) v = nd(rng());
  std::vector<int64_t> lab((size_t)B);
  for (auto& v : lab) v = (int64_t)(rng()() % C);
  std::vector<float> ref_g((size_t)(B * C)), ref_p((size_t)(B * C)), ref_dx((size_t)(B * C));
  double ref_loss;
  comix_ce_smooth_f32_cpu(x.data(), B, C, lab.data(), 0.1f, 1.0f, 0, &ref_loss, ref_g.data(), 1);
  comix_softmax_f32_cpu(x.data(), B, C, ref_p.data(), 1);
  comix_softmax_backward_f32_cpu(ref_p.data(), y.data(), B, C, 0, ref_dx.data(), 1);
  std::vector<int64_t> ref_pl((size_t)B);
  std::vector<uint8_t> ref_pm((size_t)B);
  comix_pseudo_labels_f32_cpu(x.data(), y.data(), B, C, 0.7f, ref_pl.data(), ref_pm.data());
  Dev<float> dx(x), dy(y), dl(1), dgr(std::vector<float>(x.size(), NAN)), dp(std::vector<float>(x.size(), NAN)),
      ddx(std::vector<float>(x.size(), NAN));
  Dev<int64_t> dlab(lab), dpl((size_t)B);
  Dev<uint8_t> dpm((size_t)B);
  CHECK(comix_ce_smooth_cuda(dx.p, B, C, dlab.p, 0.1f, 1.0f, 0, dl.p, dgr.p, nullptr) == COMIX_OK, "ce cuda");
  CHECK(comix_softmax_cuda(dx.p, B, C, dp.p, nullptr) == COMIX_OK, "softmax cuda");
  CHECK(comix_softmax_backward_cuda(dp.p, dy.p, B, C, 0, ddx.p, nullptr) == COMIX_OK, "softmax bwd cuda");
  CHECK(comix_pseudo_labels_cuda(dx.p, dy.p, B, C, 0.7f, dpl.p, dpm.p, nullptr) == COMIX_OK, "pseudo cuda");
  CUDA_OK(cudaDeviceSynchronize());
  const float loss = dl.get()[0];
  CHECK(std::fabs(loss - ref_loss) <= 1e-5 * std::fabs(ref_loss), "ce loss %.8g vs %.8g", loss, ref_loss);
  auto maxdiff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double w = 0;
    for (size_t i = 0; i < a.size(); ++i) w = std::max(w, std::isfinite(a[i]) ? std::fabs((double)a[i] - b[i]) : 1e30);
    return w;
  };
  CHECK(maxdiff(dgr.get(), ref_g) <= 1e-6, "ce grad differs %.3e", maxdiff(dgr.get(), ref_g));
  CHECK(maxdiff(dp.get(), ref_p) <= 1e-6, "softmax differs");
  CHECK(maxdiff(ddx.get(), ref_dx) <= 1e-5, "softmax backward differs");
  const auto pl = dpl.get();
  const auto pm = dpm.get();
  int64_t bad = 0;
  for (int64_t i = 0; i < B; ++i) bad += pl[(size_t)i] != ref_pl[(size_t)i] || pm[(size_t)i] != ref_pm[(size_t)i];
  CHECK(bad == 0, "pseudo labels: %lld rows differ", (long long)bad);
}

int main() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("skipped: no usable CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  const Case cases[] = {
      {"comix shape", 16, 2, 12, true, false, false, false, 8, 0.5f, 0.07f, 0.6f},
      {"infonce other view only", 37, 2, 19, false, false, false, false, 0},
      {"infonce normalized", 37, 2, 19, false, false, true, false, 0, 0.1f, 0.1f, 1.0f},
      {"many positives V=3", 50, 3, 33, true, false, true, true, 4, 0.07f, 0.07f, 1.0f},
      {"masked rows", 45, 2, 21, true, true, false, false, 5},
      {"V=1 labels", 61, 1, 17, true, false, false, false, 9},
      {"multi-tile 300x2x64", 300, 2, 64, true, true, false, false, 50, 0.5f, 0.07f, 0.2f},
      {"multi-tile 301x2x130 norm", 301, 2, 130, false, false, true, false, 0, 0.1f, 0.07f, 1.0f},
      {"D=200 norm (finalize)", 97, 2, 200, true, false, true, true, 7, 0.2f, 0.07f, 1.0f},
      {"1024x2x128 norm", 1024, 2, 128, false, false, true, false, 0, 0.1f, 0.07f, 1.0f},
  };
  for (const Case& c : cases)
    for (int path : {1, 2, 3}) {
      const int64_t M = c.N * c.V;
      const bool tiny_fits = (2 * M * c.D + M * (M + 1) + 7 * M + 2) * 4 <= (int64_t)prop.sharedMemPerBlock;
      if (path == 1 && !tiny_fits) continue;
      check(c, path, false);
      check(c, path, true);
      if (path == 2 && c.D >= 64) check(c, path, false, true);  // TF32 tensor-core tiles
    }
  check({"4096x2x128 (large)", 4096, 2, 128, false, false, true, false, 0, 0.1f, 0.07f, 1.0f, 5e-5}, 2, false);
  check({"4096x2x128 (large)", 4096, 2, 128, false, false, true, false, 0, 0.1f, 0.07f, 1.0f, 5e-5}, 3, false);
  check({"4096x2x128 (large)", 4096, 2, 128, false, false, true, false, 0, 0.1f, 0.07f, 1.0f, 5e-5}, 2, false, true);
  // all rows masked: loss 0, gradient 0, on every path
  for (int path : {1, 2, 3}) {
    std::vector<float> x(5 * 2 * 7, 1.0f);
    std::vector<uint8_t> m(5, 0);
    Dev<float> dx(x), dg(std::vector<float>(x.size(), NAN)), dl(1);
    Dev<uint8_t> dm(m);
    const int64_t wsb = comix_supcon_cuda_workspace_bytes(5, 2, 7, 0);
    Dev<unsigned char> ws((size_t)wsb);
    CHECK(comix_supcon_cuda_path(dx.p, 5, 2, 7, nullptr, dm.p, 0.5f, 0.07f, 0, 1.0f, dl.p, dg.p, ws.p, wsb, nullptr,
                                 path) == COMIX_OK, "all masked path %d", path);
    CUDA_OK(cudaDeviceSynchronize());
    bool zero = dl.get()[0] == 0.0f;
    for (float v : dg.get()) zero &= v == 0.0f;
    CHECK(zero, "all masked path %d: loss or gradient not zero", path);
  }
  // GEMM path stages (host products): symmetric W, and P + P^T over row blocks (aligned and not)
  for (const Case& c : cases) {
    if (c.N * c.V > 700) continue;  // host products are O(M^2 D)
    check_gemm_stages(c, c.N * c.V, true, false);
    check_gemm_stages(c, 16, false, true);
    check_gemm_stages(c, 7, false, false);
  }
  const int launches = count_kernel_launches(16, 2, 12);
  std::printf("  CoMix shape [16, 2, 12]: %d kernel launch(es)\n", launches);
  CHECK(launches == 1, "CoMix shape took %d launches", launches);
  check_ce();
  return finish("cuda_supcon");
}
