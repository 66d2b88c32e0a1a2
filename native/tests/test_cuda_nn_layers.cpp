// CUDA nn layer kernels (native/include/comix/nn_layers.h) against float64 oracles written here,
// on fresh random inputs (seed printed; COMIX_TEST_SEED replays), with NaN-poisoned outputs so an
// unwritten element fails. Inputs are first rounded to the activation type, so the oracle sees
// exactly what the GPU sees. Bounds: |gpu - ref| <= rtol*|ref| + atol, rtol 1e-4 / atol 1e-5
// (times max(1, max|ref|)) for float32 outputs, rtol 1e-2 / atol 1e-3 (same scaling) for bf16
// activation outputs; printed: worst error / bound (<= 1 passes). Max pooling (forward value and
// argmax), pad/crop and casts must be exact.
// Argument validation is checked first (it needs no device); then the test exits 77 (ctest:
// skipped) when no GPU answers, saying why.
#include <cuda_runtime.h>

#include <cmath>
#include <memory>
#include <string>

#include "comix/nn_layers.h"
#include "comix_math.cuh"
#include "cuda_test_util.h"
#include "nn_math.cuh"
#include "test_util.h"

namespace {

const int F32 = COMIX_DTYPE_F32, BF16 = COMIX_DTYPE_BF16;
const char* dname(int dt) { return dt == F32 ? "f32" : "bf16"; }
size_t esz(int dt) { return dt == F32 ? 4 : 2; }

float bf2f(uint16_t b) {
  const uint32_t u = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void round_to(std::vector<float>& v, int dt) {
  if (dt == BF16)
    for (auto& x : v) x = bf2f(comix::f32_to_bf16(x));
}

std::vector<float> normal(size_t n, double mu = 0.0, double sigma = 1.0, int dt = F32) {
  std::normal_distribution<double> nd(mu, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = (float)nd(rng());
  round_to(v, dt);
  return v;
}

// A device buffer holding n elements of dtype dt, starting `off` bytes into the allocation (off > 0
// misaligns it, which forces the scalar paths).
struct Buf {
  std::unique_ptr<Dev<uint8_t>> d;
  size_t n, off;
  int dt;
  Buf(size_t count, int dtype, size_t offset = 0) : d(new Dev<uint8_t>(count * esz(dtype) + offset)), n(count), off(offset), dt(dtype) {
    CUDA_OK(cudaMemset(d->p, 0xFF, count * esz(dtype) + offset));  // NaN in f32 and bf16
  }
  Buf(const std::vector<float>& v, int dtype, size_t offset = 0) : Buf(v.size(), dtype, offset) { set(v); }
  void* p() const { return d->p + off; }
  void set(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * esz(dt));
    for (size_t i = 0; i < v.size(); ++i) {
      if (dt == F32) {
        std::memcpy(&b[i * 4], &v[i], 4);
      } else {
        const uint16_t h = comix::f32_to_bf16(v[i]);
        std::memcpy(&b[i * 2], &h, 2);
      }
    }
    CUDA_OK(cudaMemcpy(p(), b.data(), b.size(), cudaMemcpyHostToDevice));
  }
  std::vector<float> get() const {
    std::vector<uint8_t> b(n * esz(dt));
    CUDA_OK(cudaMemcpy(b.data(), p(), b.size(), cudaMemcpyDeviceToHost));
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
      if (dt == F32) {
        std::memcpy(&v[i], &b[i * 4], 4);
      } else {
        uint16_t h;
        std::memcpy(&h, &b[i * 2], 2);
        v[i] = bf2f(h);
      }
    }
    return v;
  }
};

// float32 device vector (statistics, parameters)
struct FBuf {
  Dev<float> d;
  explicit FBuf(const std::vector<float>& v) : d(v) {}
  explicit FBuf(size_t n) : d(std::vector<float>(n, NAN)) {}
  float* p() const { return d.p; }
  std::vector<float> get() const { return d.get(); }
};

struct Tol {
  double rtol, atol;
};
Tol tol_for(int dt) { return dt == F32 ? Tol{1e-4, 1e-5} : Tol{1e-2, 1e-3}; }
const Tol kF32{1e-4, 1e-5}, kExact{0.0, 0.0};

void compare(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref, Tol t) {
  double mag = 1.0;
  for (double r : ref)
    if (std::isfinite(r)) mag = std::max(mag, std::fabs(r));  // infinities (cast tests) must not scale atol
  const double atol = t.atol * mag;
  double worst = 0;
  int64_t bad = 0, first = -1;
  const size_t n = std::min(got.size(), ref.size());
  for (size_t i = 0; i < n; ++i) {
    const double e = std::fabs((double)got[i] - ref[i]);
    const bool ok = std::isfinite(got[i]) == std::isfinite(ref[i]) && (!std::isfinite(ref[i]) || e <= t.rtol * std::fabs(ref[i]) + atol);
    if (std::isfinite(ref[i]) && std::isfinite(got[i])) {
      const double allowed = t.rtol * std::fabs(ref[i]) + atol;
      worst = std::max(worst, allowed > 0 ? e / allowed : (e > 0 ? INFINITY : 0.0));
    }
    if (!ok) {
      if (first < 0) first = (int64_t)i;
      ++bad;
    }
  }
  std::printf("  %-58s n=%-9zu worst err/bound %.2e%s\n", what.c_str(), n, worst, bad ? "  <-- FAIL" : "");
  CHECK(got.size() == ref.size(), "%s: size %zu vs %zu", what.c_str(), got.size(), ref.size());
  if (bad)
    CHECK(false, "%s: %lld bad elements, first %lld: got %.9g want %.9g", what.c_str(), (long long)bad, (long long)first,
          (double)got[(size_t)first], ref[(size_t)first]);
}

std::vector<double> to_d(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// ---------------- batch norm ----------------

void ref_stats(const std::vector<float>& x, int64_t M, int64_t C, std::vector<double>& mean, std::vector<double>& var) {
  mean.assign((size_t)C, 0.0);
  var.assign((size_t)C, 0.0);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) mean[(size_t)c] += x[(size_t)(r * C + c)];
  for (auto& m : mean) m /= (double)M;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double d = x[(size_t)(r * C + c)] - mean[(size_t)c];
      var[(size_t)c] += d * d;
    }
  for (auto& v : var) v /= (double)M;
}

void test_bn_stats(int64_t M, int64_t C, int dt, double mu, double sigma, size_t off = 0) {
  const auto x = normal((size_t)(M * C), mu, sigma, dt);
  std::vector<double> rm, rv;
  ref_stats(x, M, C, rm, rv);
  Buf dx(x, dt, off);
  FBuf m((size_t)C), v((size_t)C);
  const size_t wsb = comix_nn_bn_stats_workspace(M, C);
  Dev<uint8_t> ws(wsb);
  CUDA_OK(cudaMemset(ws.p, 0xFF, wsb));
  const int st = comix_nn_bn_stats_cuda(dx.p(), dt, M, C, m.p(), v.p(), ws.p, wsb, nullptr);
  CHECK(st == COMIX_OK, "bn_stats status %d", st);
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "bn_stats %s M=%lld C=%lld mu=%g off=%zu mean", dname(dt), (long long)M, (long long)C, mu, off);
  compare(name, m.get(), rm, kF32);
  std::snprintf(name, sizeof name, "bn_stats %s M=%lld C=%lld mu=%g off=%zu var", dname(dt), (long long)M, (long long)C, mu, off);
  compare(name, v.get(), rv, kF32);
}

std::vector<float> positive(size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = (float)u(rng());
  return v;
}

void test_bn_forward(int64_t M, int64_t C, int dt, bool relu, bool affine, bool alias, size_t off = 0) {
  const auto x = normal((size_t)(M * C), 0.5, 2.0, dt);
  const auto mean = normal((size_t)C, 0.5, 0.3), var = positive((size_t)C, 0.2, 5.0);
  const auto gamma = normal((size_t)C, 1.0, 0.5), beta = normal((size_t)C, 0.0, 0.5);
  const float eps = 1e-3f;
  std::vector<double> ref((size_t)(M * C));
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = (size_t)(r * C + c);
      double y = (x[i] - (double)mean[(size_t)c]) / std::sqrt((double)var[(size_t)c] + (double)eps);
      if (affine) y = y * gamma[(size_t)c] + beta[(size_t)c];
      ref[i] = relu && y < 0 ? 0.0 : y;
    }
  Buf dx(x, dt, off);
  Buf dy(x.size(), dt, off);
  FBuf dm(mean), dv(var), dg(gamma), db(beta);
  void* out = alias ? dx.p() : dy.p();
  const int st = comix_nn_bn_forward_cuda(dx.p(), dt, M, C, dm.p(), dv.p(), eps, affine ? dg.p() : nullptr,
                                          affine ? db.p() : nullptr, relu ? 1 : 0, out, nullptr);
  CHECK(st == COMIX_OK, "bn_forward status %d", st);
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "bn_forward %s M=%lld C=%lld relu=%d affine=%d alias=%d off=%zu", dname(dt),
                (long long)M, (long long)C, relu, affine, alias, off);
  compare(name, alias ? dx.get() : dy.get(), ref, tol_for(dt));
}

void test_bn_running(int64_t C, int64_t M) {
  const auto rm = normal((size_t)C), rv = positive((size_t)C, 0.5, 2), m = normal((size_t)C), v = positive((size_t)C, 0.1, 3);
  const double mom = 0.01;
  std::vector<double> em((size_t)C), ev((size_t)C);
  for (size_t c = 0; c < (size_t)C; ++c) {
    em[c] = (1 - mom) * rm[c] + mom * m[c];
    ev[c] = (1 - mom) * rv[c] + mom * v[c] * (M > 1 ? (double)M / (double)(M - 1) : 1.0);
  }
  FBuf drm(rm), drv(rv), dm(m), dv(v);
  const int st = comix_nn_bn_running_update_cuda(drm.p(), drv.p(), dm.p(), dv.p(), C, mom, M, nullptr);
  CHECK(st == COMIX_OK, "running status %d", st);
  CUDA_OK(cudaDeviceSynchronize());
  compare("bn_running mean C=" + std::to_string(C) + " M=" + std::to_string(M), drm.get(), em, kF32);
  compare("bn_running var C=" + std::to_string(C) + " M=" + std::to_string(M), drv.get(), ev, kF32);
}

// fused: y (post-ReLU output) given, masks dy. dx_mode: 0 none, 1 own buffer, 2 alias dy.
void test_bn_backward(int64_t M, int64_t C, int dt, bool training, bool fused, int dx_mode, bool affine, size_t off = 0) {
  const auto x = normal((size_t)(M * C), 0.3, 1.5, dt);
  const auto dyv = normal((size_t)(M * C), 0.0, 1.0, dt);
  auto yv = normal((size_t)(M * C), 0.0, 1.0, dt);
  for (auto& v : yv) v = v < 0 ? 0.0f : v;  // post-ReLU: about half exact zeros
  const auto mean = normal((size_t)C, 0.3, 0.2), var = positive((size_t)C, 0.5, 3.0), gamma = normal((size_t)C, 1.0, 0.4);
  const float eps = 1e-3f;
  const auto dg0 = normal((size_t)C), db0 = normal((size_t)C);  // accumulated into
  std::vector<double> sg((size_t)C, 0.0), sgx((size_t)C, 0.0), rdx((size_t)(M * C));
  auto g_at = [&](size_t i) { return fused ? (yv[i] > 0 ? (double)dyv[i] : 0.0) : (double)dyv[i]; };
  std::vector<double> is((size_t)C);
  for (size_t c = 0; c < (size_t)C; ++c) is[c] = 1.0 / std::sqrt((double)var[c] + (double)eps);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = (size_t)(r * C + c);
      const double g = g_at(i), xh = (x[i] - (double)mean[(size_t)c]) * is[(size_t)c];
      sg[(size_t)c] += g;
      sgx[(size_t)c] += g * xh;
    }
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = (size_t)(r * C + c), cc = (size_t)c;
      const double g = g_at(i), xh = (x[i] - (double)mean[cc]) * is[cc], k = (affine ? gamma[cc] : 1.0) * is[cc];
      rdx[i] = training ? k * (g - sg[cc] / (double)M - xh * sgx[cc] / (double)M) : g * k;
    }
  std::vector<double> rdg((size_t)C), rdb((size_t)C);
  for (size_t c = 0; c < (size_t)C; ++c) rdg[c] = dg0[c] + sgx[c], rdb[c] = db0[c] + sg[c];
  Buf bx(x, dt, off), bdy(dyv, dt, off), by(yv, dt, off), bdx(x.size(), dt, off);
  FBuf dm(mean), dv(var), dgm(gamma), ddg(dg0), ddb(db0);
  const size_t wsb = comix_nn_bn_backward_workspace(M, C);
  Dev<uint8_t> ws(wsb);
  CUDA_OK(cudaMemset(ws.p, 0xFF, wsb));
  void* dxp = dx_mode == 0 ? nullptr : dx_mode == 1 ? bdx.p() : bdy.p();
  const int st = comix_nn_bn_backward_cuda(bx.p(), fused ? by.p() : nullptr, bdy.p(), dt, M, C, dm.p(), dv.p(), eps,
                                           affine ? dgm.p() : nullptr, training ? 1 : 0, dxp, ddg.p(), ddb.p(), ws.p,
                                           wsb, nullptr);
  CHECK(st == COMIX_OK, "bn_backward status %d", st);
  CUDA_OK(cudaDeviceSynchronize());
  char name[200];
  std::snprintf(name, sizeof name, "bn_backward %s M=%lld C=%lld train=%d fused=%d dx=%d affine=%d off=%zu", dname(dt),
                (long long)M, (long long)C, training, fused, dx_mode, affine, off);
  if (dx_mode) compare(std::string(name) + " dx", dx_mode == 1 ? bdx.get() : bdy.get(), rdx, tol_for(dt));
  compare(std::string(name) + " dgamma", ddg.get(), rdg, kF32);
  compare(std::string(name) + " dbeta", ddb.get(), rdb, kF32);
}

// ---------------- ReLU, cast, axpy, channel sums ----------------

void test_relu(int64_t n, int dt, size_t off) {
  auto x = normal((size_t)n, 0.0, 1.0, dt);
  for (size_t i = 0; i < x.size(); i += 7) x[i] = 0.0f;
  std::vector<double> ry((size_t)n);
  for (size_t i = 0; i < (size_t)n; ++i) ry[i] = x[i] > 0 ? x[i] : 0.0;
  Buf bx(x, dt, off), by((size_t)n, dt, off);
  CHECK(comix_nn_relu_forward_cuda(bx.p(), dt, n, by.p(), nullptr) == COMIX_OK, "relu fwd");
  CUDA_OK(cudaDeviceSynchronize());
  const auto y = by.get();
  compare(std::string("relu_forward ") + dname(dt) + " n=" + std::to_string(n) + " off=" + std::to_string(off), y, ry, kExact);
  const auto dy = normal((size_t)n, 0.0, 1.0, dt);
  std::vector<double> rdx((size_t)n);
  for (size_t i = 0; i < (size_t)n; ++i) rdx[i] = y[i] > 0 ? dy[i] : 0.0;
  Buf bdy(dy, dt, off);
  CHECK(comix_nn_relu_backward_cuda(by.p(), bdy.p(), dt, n, bdy.p(), nullptr) == COMIX_OK, "relu bwd");  // in place
  CUDA_OK(cudaDeviceSynchronize());
  compare(std::string("relu_backward (dx = dy) ") + dname(dt) + " n=" + std::to_string(n), bdy.get(), rdx, kExact);
}

void test_cast(int64_t n, size_t off) {
  auto x = normal((size_t)n, 0.0, 3.0);
  // exact ties of the bf16 rounding, both parities, and specials
  if (n > 8) {
    x[0] = bf2f(0x3f80) + std::ldexp(1.0f, -8);  // 1 + half ulp: tie, rounds to even (1.0)
    x[1] = bf2f(0x3f81) + std::ldexp(1.0f, -8);  // odd + half ulp: rounds up
    x[2] = INFINITY;
    x[3] = -0.0f;
    x[4] = 3.4e38f;  // above the largest bf16: rounds to inf
  }
  Buf bx(x, F32, off), bb((size_t)n, BF16, off), bf((size_t)n, F32, off), bc((size_t)n, F32);
  CHECK(comix_nn_cast_cuda(bx.p(), F32, bb.p(), BF16, n, nullptr) == COMIX_OK, "cast f32->bf16");
  CHECK(comix_nn_cast_cuda(bb.p(), BF16, bf.p(), F32, n, nullptr) == COMIX_OK, "cast bf16->f32");
  CHECK(comix_nn_cast_cuda(bx.p(), F32, bc.p(), F32, n, nullptr) == COMIX_OK, "cast copy");
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<uint16_t> bits((size_t)n);
  CUDA_OK(cudaMemcpy(bits.data(), bb.p(), (size_t)n * 2, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  for (size_t i = 0; i < (size_t)n; ++i) bad += bits[i] != comix::f32_to_bf16(x[i]);
  std::printf("  %-58s n=%-9lld %lld bits differ\n", ("cast f32->bf16 off=" + std::to_string(off)).c_str(), (long long)n, (long long)bad);
  CHECK(bad == 0, "cast f32->bf16: %lld elements differ from round-to-nearest-even", (long long)bad);
  std::vector<double> rb((size_t)n);
  for (size_t i = 0; i < (size_t)n; ++i) rb[i] = bf2f(comix::f32_to_bf16(x[i]));
  compare("cast bf16->f32", bf.get(), rb, kExact);
  compare("cast f32 copy", bc.get(), to_d(x), kExact);
}

void test_axpy(int64_t n, int dt, size_t off) {
  const auto x = normal((size_t)n, 0.0, 1.0, dt), y0 = normal((size_t)n);
  const float a = -0.75f;
  std::vector<double> ry((size_t)n);
  for (size_t i = 0; i < (size_t)n; ++i) ry[i] = y0[i] + (double)a * x[i];
  Buf bx(x, dt, off);
  Buf by(y0, F32, 0);  // y is float: 4-byte aligned always (a 2-byte offset is a misaligned-address fault)
  CHECK(comix_nn_axpy_cuda(a, bx.p(), dt, static_cast<float*>(by.p()), n, nullptr) == COMIX_OK, "axpy");
  CUDA_OK(cudaDeviceSynchronize());
  compare(std::string("axpy x ") + dname(dt) + " n=" + std::to_string(n) + " off=" + std::to_string(off), by.get(), ry, kF32);
}

void test_channel_sum(int64_t M, int64_t C, int dt, bool acc, size_t off = 0) {
  const auto dy = normal((size_t)(M * C), 0.2, 1.0, dt), o0 = normal((size_t)C);
  std::vector<double> ref((size_t)C, 0.0);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) ref[(size_t)c] += dy[(size_t)(r * C + c)];
  if (acc)
    for (size_t c = 0; c < (size_t)C; ++c) ref[c] += o0[c];
  Buf b(dy, dt, off);
  FBuf out(o0);
  if (!acc) CUDA_OK(cudaMemset(out.p(), 0xFF, (size_t)C * 4));
  const size_t wsb = comix_nn_channel_sum_workspace(M, C);
  Dev<uint8_t> ws(wsb);
  CHECK(comix_nn_channel_sum_cuda(b.p(), dt, M, C, out.p(), acc ? 1 : 0, ws.p, wsb, nullptr) == COMIX_OK, "channel_sum");
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "channel_sum %s M=%lld C=%lld acc=%d off=%zu", dname(dt), (long long)M, (long long)C, acc, off);
  compare(name, out.get(), ref, kF32);
}

// ---------------- pooling ----------------

struct PoolCase {
  const char* name;
  int64_t N, D, H, W, C;
  int k[3], s[3];
  int mode;       // 0 max (TF-SAME zero padding), 1 average (no padding)
  int kind;       // 0 normal, 1 post-ReLU quantised (many exact ties), 2 all negative (padded zeros win)
};

int tf_pad(int64_t size, int k, int s) {
  const int64_t p = size % s == 0 ? std::max(k - s, 0) : std::max<int64_t>(k - size % s, 0);
  return (int)p;
}

void test_pool(const PoolCase& pc, int dt, size_t off = 0) {
  const int64_t in[3] = {pc.D, pc.H, pc.W};
  int pf[3];
  int64_t out[3];
  for (int i = 0; i < 3; ++i) {
    if (pc.mode == 0) {
      const int p = tf_pad(in[i], pc.k[i], pc.s[i]);
      pf[i] = p / 2;
      out[i] = (in[i] + p - pc.k[i]) / pc.s[i] + 1;
    } else {
      pf[i] = 0;
      out[i] = (in[i] - pc.k[i]) / pc.s[i] + 1;
    }
  }
  const int64_t N = pc.N, C = pc.C, D = pc.D, H = pc.H, W = pc.W, OD = out[0], OH = out[1], OW = out[2];
  auto x = normal((size_t)(N * D * H * W * C), 0.0, 1.0, dt);
  if (pc.kind == 1)
    for (auto& v : x) v = v < 0 ? 0.0f : std::round(v * 2.0f) / 2.0f;  // many zeros and repeated values
  if (pc.kind == 2)
    for (auto& v : x) v = -std::fabs(v) - 0.25f;
  const size_t ny = (size_t)(N * OD * OH * OW * C);
  std::vector<double> ry(ny);
  std::vector<int> ram(ny);
  const int kvol = pc.k[0] * pc.k[1] * pc.k[2];
  auto xat = [&](int64_t n, int64_t d, int64_t h, int64_t w, int64_t c) { return (double)x[(size_t)((((n * D + d) * H + h) * W + w) * C + c)]; };
  for (int64_t n = 0; n < N; ++n)
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t c = 0; c < C; ++c) {
            double best = -INFINITY, sum = 0;
            int bi = 0, wi = 0;
            for (int a = 0; a < pc.k[0]; ++a)
              for (int b = 0; b < pc.k[1]; ++b)
                for (int e = 0; e < pc.k[2]; ++e, ++wi) {
                  const int64_t d = od * pc.s[0] - pf[0] + a, h = oh * pc.s[1] - pf[1] + b, w = ow * pc.s[2] - pf[2] + e;
                  const bool in_ = d >= 0 && d < D && h >= 0 && h < H && w >= 0 && w < W;
                  const double v = in_ ? xat(n, d, h, w, c) : 0.0;  // padded zeros (max); average never pads
                  if (v > best) best = v, bi = wi;
                  sum += v;
                }
            const size_t o = (size_t)((((n * OD + od) * OH + oh) * OW + ow) * C + c);
            ry[o] = pc.mode == 0 ? best : sum / kvol;
            ram[o] = bi;
          }
  Buf bx(x, dt, off), by(ny, dt, off);
  Dev<uint8_t> am(ny + 4);
  CUDA_OK(cudaMemset(am.p, 0xEE, ny + 4));
  uint8_t* amp = am.p + (off ? 1 : 0);
  const int st = comix_nn_pool3d_forward_cuda(bx.p(), dt, N, D, H, W, C, pc.k, pc.s, pf, OD, OH, OW, pc.mode, by.p(),
                                              pc.mode == 0 ? amp : nullptr, nullptr);
  CHECK(st == COMIX_OK, "%s: pool forward status %d", pc.name, st);
  CUDA_OK(cudaDeviceSynchronize());
  char name[200];
  std::snprintf(name, sizeof name, "pool %s %s off=%zu fwd", pc.name, dname(dt), off);
  // max: the value is one of the (exact) inputs; average: a rounded mean
  compare(name, by.get(), ry, pc.mode == 0 ? kExact : tol_for(dt));
  if (pc.mode == 0) {
    std::vector<uint8_t> got(ny);
    CUDA_OK(cudaMemcpy(got.data(), amp, ny, cudaMemcpyDeviceToHost));
    int64_t bad = 0;
    for (size_t i = 0; i < ny; ++i) bad += got[i] != ram[i];
    std::printf("  %-58s %lld argmax differ\n", (std::string(name) + " argmax").c_str(), (long long)bad);
    CHECK(bad == 0, "%s: %lld argmax entries differ (first maximum in scan order expected)", name, (long long)bad);
  }
  // backward: scatter in the oracle (the kernel gathers)
  const auto dy = normal(ny, 0.0, 1.0, dt);
  std::vector<double> rdx((size_t)(N * D * H * W * C), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t c = 0; c < C; ++c) {
            const size_t o = (size_t)((((n * OD + od) * OH + oh) * OW + ow) * C + c);
            int wi = 0;
            for (int a = 0; a < pc.k[0]; ++a)
              for (int b = 0; b < pc.k[1]; ++b)
                for (int e = 0; e < pc.k[2]; ++e, ++wi) {
                  const int64_t d = od * pc.s[0] - pf[0] + a, h = oh * pc.s[1] - pf[1] + b, w = ow * pc.s[2] - pf[2] + e;
                  if (!(d >= 0 && d < D && h >= 0 && h < H && w >= 0 && w < W)) continue;  // padded: dropped
                  const size_t i = (size_t)((((n * D + d) * H + h) * W + w) * C + c);
                  if (pc.mode == 1) rdx[i] += dy[o] / kvol;
                  else if (wi == ram[o]) rdx[i] += dy[o];
                }
          }
  Buf bdy(dy, dt, off), bdx(x.size(), dt, off);
  const int st2 = comix_nn_pool3d_backward_cuda(bdy.p(), dt, N, D, H, W, C, pc.k, pc.s, pf, OD, OH, OW, pc.mode,
                                                pc.mode == 0 ? amp : nullptr, bdx.p(), nullptr);
  CHECK(st2 == COMIX_OK, "%s: pool backward status %d", pc.name, st2);
  CUDA_OK(cudaDeviceSynchronize());
  std::snprintf(name, sizeof name, "pool %s %s off=%zu bwd", pc.name, dname(dt), off);
  compare(name, bdx.get(), rdx, tol_for(dt));
}

// ---------------- pad / crop ----------------

// D, H, W (and channels C -> CP) zero-padded, and the crop back, exact (outputs poisoned first):
// CP == 0 takes the plain entry points (comix_nn_pad5d_cuda / crop5d, C channels), CP > 0 the
// channel-padding ones; off misaligns every pointer by that many bytes.
void test_pad(int64_t N, int64_t D, int64_t H, int64_t W, int64_t C, int64_t CP, const int f[3], const int b[3],
              int dt, size_t off = 0) {
  const bool plain = CP == 0;
  if (plain) CP = C;
  const int64_t Dp = D + f[0] + b[0], Hp = H + f[1] + b[1], Wp = W + f[2] + b[2];
  const auto x = normal((size_t)(N * D * H * W * C), 0.0, 1.0, dt);
  std::vector<double> ry((size_t)(N * Dp * Hp * Wp * CP), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          for (int64_t c = 0; c < C; ++c)
            ry[(size_t)((((n * Dp + d + f[0]) * Hp + h + f[1]) * Wp + w + f[2]) * CP + c)] =
                x[(size_t)((((n * D + d) * H + h) * W + w) * C + c)];
  Buf bx(x, dt, off), by(ry.size(), dt, off), bc(x.size(), dt, off);
  if (plain) {
    CHECK(comix_nn_pad5d_cuda(bx.p(), dt, N, D, H, W, C, f, b, by.p(), nullptr) == COMIX_OK, "pad5d");
    CHECK(comix_nn_crop5d_cuda(by.p(), dt, N, D, H, W, C, f, b, bc.p(), nullptr) == COMIX_OK, "crop5d");
  } else {
    CHECK(comix_nn_pad5d_channels_cuda(bx.p(), dt, N, D, H, W, C, CP, f, b, by.p(), nullptr) == COMIX_OK,
          "pad5d_channels");
    CHECK(comix_nn_crop5d_channels_cuda(by.p(), dt, N, D, H, W, C, CP, f, b, bc.p(), nullptr) == COMIX_OK,
          "crop5d_channels");
  }
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "pad5d%s %s C=%lld->%lld front %d,%d,%d back %d,%d,%d off=%zu",
                plain ? "" : "_channels", dname(dt), (long long)C, (long long)CP, f[0], f[1], f[2], b[0], b[1], b[2],
                off);
  compare(name, by.get(), ry, kExact);
  compare(std::string(plain ? "crop5d" : "crop5d_channels") + " (round trip) " + dname(dt), bc.get(), to_d(x), kExact);
}

// ---------------- im2col ----------------

// cols [N*OD*OH*OW, KD*KH*KW*C] against a plain loop, exact (output poisoned first); and the
// refusal of a window that would reach past the input.
void test_im2col(int64_t N, int64_t D, int64_t H, int64_t W, int64_t C, const int k[3], const int st[3], int dt) {
  const int64_t OD = (D - k[0]) / st[0] + 1, OH = (H - k[1]) / st[1] + 1, OW = (W - k[2]) / st[2] + 1;
  const int64_t K = (int64_t)k[0] * k[1] * k[2] * C, rows = N * OD * OH * OW;
  const auto x = normal((size_t)(N * D * H * W * C), 0.0, 1.0, dt);
  std::vector<double> ref((size_t)(rows * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t m = ((n * OD + od) * OH + oh) * OW + ow;
          for (int kd = 0; kd < k[0]; ++kd)
            for (int kh = 0; kh < k[1]; ++kh)
              for (int kw = 0; kw < k[2]; ++kw)
                for (int64_t c = 0; c < C; ++c)
                  ref[(size_t)(m * K + ((kd * k[1] + kh) * k[2] + kw) * C + c)] =
                      x[(size_t)((((n * D + od * st[0] + kd) * H + oh * st[1] + kh) * W + ow * st[2] + kw) * C + c)];
        }
  Buf bx(x, dt), bc((size_t)(rows * K), dt);
  const int rc = comix_nn_im2col3d_cuda(bx.p(), dt, N, D, H, W, C, k, st, OD, OH, OW, bc.p(), nullptr);
  CHECK(rc == COMIX_OK, "im2col status %d", rc);
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "im2col3d %s [%lld,%lld,%lld,%lld,%lld] k %d,%d,%d s %d,%d,%d", dname(dt),
                (long long)N, (long long)D, (long long)H, (long long)W, (long long)C, k[0], k[1], k[2], st[0], st[1],
                st[2]);
  compare(name, bc.get(), ref, kExact);
  CHECK(comix_nn_im2col3d_cuda(bx.p(), dt, N, D, H, W, C, k, st, OD + 1, OH, OW, bc.p(), nullptr) == COMIX_ERR_ARGUMENT,
        "im2col with a window past the input must be refused");
}

// ---------------- weight reorders ----------------

// KRSC with CinP >= Cin channels (zeros past Cin), and the gradient back from it, through the
// padded entry points, or (CiP == 0) the plain ones with CinP = Cin.
void test_weights(int64_t Co, int64_t Ci, int64_t CiP, int64_t kT, int64_t kH, int64_t kW, int dt) {
  const bool plain = CiP == 0;
  if (plain) CiP = Ci;
  const int64_t Sz = kT * kH * kW, n = Co * Ci * Sz, np = Co * CiP * Sz;
  const auto w = normal((size_t)n);
  std::vector<double> rk((size_t)np, 0.0);
  for (int64_t co = 0; co < Co; ++co)
    for (int64_t ci = 0; ci < Ci; ++ci)
      for (int64_t s = 0; s < Sz; ++s) {
        const float v = w[(size_t)((co * Ci + ci) * Sz + s)];
        rk[(size_t)((co * Sz + s) * CiP + ci)] = dt == F32 ? v : bf2f(comix::f32_to_bf16(v));
      }
  FBuf dw(w);
  Buf out((size_t)np, dt);
  CUDA_OK(cudaMemset(out.p(), 0xFF, (size_t)np * esz(dt)));
  CHECK((plain ? comix_nn_weight_to_krsc_cuda(dw.p(), Co, Ci, kT, kH, kW, out.p(), dt, nullptr)
               : comix_nn_weight_to_krsc_padded_cuda(dw.p(), Co, Ci, CiP, kT, kH, kW, out.p(), dt, nullptr)) == COMIX_OK,
        "to_krsc");
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "weight_to_krsc%s %s [%lld,%lld->%lld,%lld,%lld,%lld]", plain ? "" : "_padded",
                dname(dt), (long long)Co, (long long)Ci, (long long)CiP, (long long)kT, (long long)kH, (long long)kW);
  compare(name, out.get(), rk, kExact);
  const auto g = normal((size_t)np, 0.0, 1.0, dt), g0 = normal((size_t)n);
  Buf bg(g, dt);
  for (int acc = 0; acc < 2; ++acc) {
    std::vector<double> rg((size_t)n);
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t ci = 0; ci < Ci; ++ci)
        for (int64_t s = 0; s < Sz; ++s) {
          const size_t i = (size_t)((co * Ci + ci) * Sz + s);
          rg[i] = (acc ? g0[i] : 0.0) + g[(size_t)((co * Sz + s) * CiP + ci)];
        }
    FBuf grad(g0);
    if (!acc) CUDA_OK(cudaMemset(grad.p(), 0xFF, (size_t)n * 4));
    CHECK((plain ? comix_nn_weight_grad_from_krsc_cuda(bg.p(), dt, Co, Ci, kT, kH, kW, grad.p(), acc, nullptr)
                 : comix_nn_weight_grad_from_krsc_padded_cuda(bg.p(), dt, Co, Ci, CiP, kT, kH, kW, grad.p(), acc,
                                                              nullptr)) == COMIX_OK,
          "from_krsc");
    CUDA_OK(cudaDeviceSynchronize());
    compare(std::string(name) + " grad acc=" + std::to_string(acc), grad.get(), rg, kF32);
  }
}

// ---------------- NDHWC <-> NCDHW transposes ----------------

// x [N, S, C] -> NCDHW [N, C, S] and back, both exact, outputs poisoned first.
void test_transpose(int64_t N, int64_t S, int64_t C, int dt, size_t off = 0) {
  const size_t n = (size_t)(N * S * C);
  const auto x = normal(n, 0.0, 1.0, dt);
  std::vector<double> rt(n);
  for (int64_t b = 0; b < N; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t c = 0; c < C; ++c) rt[(size_t)((b * C + c) * S + s)] = x[(size_t)((b * S + s) * C + c)];
  Buf bx(x, dt, off), bt(n, dt, off), bb(n, dt, off);
  const int st1 = comix_nn_ndhwc_to_ncdhw_cuda(bx.p(), dt, N, S, C, bt.p(), nullptr);
  const int st2 = comix_nn_ncdhw_to_ndhwc_cuda(bt.p(), dt, N, S, C, bb.p(), nullptr);
  CHECK(st1 == COMIX_OK && st2 == COMIX_OK, "transpose status %d / %d", st1, st2);
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "ndhwc_to_ncdhw %s N=%lld S=%lld C=%lld off=%zu", dname(dt), (long long)N,
                (long long)S, (long long)C, off);
  compare(name, bt.get(), rt, kExact);
  std::snprintf(name, sizeof name, "ncdhw_to_ndhwc %s (round trip)", dname(dt));
  compare(name, bb.get(), to_d(x), kExact);
}

// ---------------- dropout ----------------

void test_dropout(int64_t n, float p, int dt, size_t off) {
  const auto x = normal((size_t)n, 0.0, 1.0, dt), dy = normal((size_t)n, 0.0, 1.0, dt);
  const uint64_t seed = rng()(), offset = rng()() % 1000000;
  const double scale = p < 1 ? 1.0 / (1.0 - (double)p) : 0.0;
  std::vector<double> ry((size_t)n), rdx((size_t)n);
  std::vector<uint8_t> rm((size_t)n);
  int64_t kept = 0;
  for (size_t i = 0; i < (size_t)n; ++i) {
    rm[i] = comix::dropout_uniform(seed, offset + i) >= p ? 1 : 0;
    kept += rm[i];
    ry[i] = rm[i] ? x[i] * scale : 0.0;
    rdx[i] = rm[i] ? dy[i] * scale : 0.0;
  }
  Buf bx(x, dt, off), by((size_t)n, dt, off), bdy(dy, dt, off), bdx((size_t)n, dt, off);
  Dev<uint8_t> mask((size_t)n + 4);
  uint8_t* mp = mask.p + (off ? 1 : 0);
  CHECK(comix_nn_dropout_forward_cuda(bx.p(), dt, n, p, seed, offset, by.p(), mp, nullptr) == COMIX_OK, "dropout fwd");
  CHECK(comix_nn_dropout_backward_cuda(bdy.p(), dt, n, p, mp, bdx.p(), nullptr) == COMIX_OK, "dropout bwd");
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<uint8_t> gm((size_t)n);
  CUDA_OK(cudaMemcpy(gm.data(), mp, (size_t)n, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  for (size_t i = 0; i < (size_t)n; ++i) bad += gm[i] != rm[i];
  char name[160];
  std::snprintf(name, sizeof name, "dropout %s n=%lld p=%g off=%zu", dname(dt), (long long)n, (double)p, off);
  std::printf("  %-58s kept %.4f (expect %.4f), %lld mask bits differ\n", name, (double)kept / (double)n, 1.0 - p, (long long)bad);
  CHECK(bad == 0, "%s: mask differs from the host hash in %lld places", name, (long long)bad);
  if (n >= 100000) CHECK(std::fabs((double)kept / (double)n - (1.0 - p)) < 0.01, "%s: keep rate off", name);
  compare(std::string(name) + " y", by.get(), ry, tol_for(dt));
  compare(std::string(name) + " dx", bdx.get(), rdx, tol_for(dt));
}

// > 2^31 elements (64-bit indexing): in-place ReLU and dropout on 2^31 + 37 bf16 values, checked at
// both ends. Runs only when the device has the memory free.
void test_huge() {
  const int64_t n = (1ll << 31) + 37;
  size_t fr = 0, tot = 0;
  CUDA_OK(cudaMemGetInfo(&fr, &tot));
  if (fr < (size_t)n * 3 + (1ull << 30)) {
    std::printf("  huge (2^31+37 elements): skipped, %.1f GiB free\n", (double)fr / (1 << 30));
    return;
  }
  uint16_t* x = nullptr;
  uint8_t* m = nullptr;
  CUDA_OK(cudaMalloc(&x, (size_t)n * 2));
  CUDA_OK(cudaMalloc(&m, (size_t)n));
  CUDA_OK(cudaMemset(x, 0xC0, (size_t)n * 2));  // 0xC0C0: -6.0 in bf16
  const std::vector<uint16_t> tail(64, 0x4040);  // 3.0
  CUDA_OK(cudaMemcpy(x + n - 64, tail.data(), 128, cudaMemcpyHostToDevice));
  CHECK(comix_nn_relu_forward_cuda(x, BF16, n, x, nullptr) == COMIX_OK, "huge relu");
  const uint64_t seed = 1234;
  CHECK(comix_nn_dropout_forward_cuda(x, BF16, n, 0.5f, seed, 0, x, m, nullptr) == COMIX_OK, "huge dropout");
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<uint16_t> head(64), end(64);
  std::vector<uint8_t> mend(64);
  CUDA_OK(cudaMemcpy(head.data(), x, 128, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(end.data(), x + n - 64, 128, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(mend.data(), m + n - 64, 64, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  for (int i = 0; i < 64; ++i) {
    bad += head[(size_t)i] != 0;
    const bool keep = comix::dropout_uniform(seed, (uint64_t)(n - 64 + i)) >= 0.5f;
    bad += mend[(size_t)i] != (keep ? 1 : 0);
    bad += bf2f(end[(size_t)i]) != (keep ? 6.0f : 0.0f);
  }
  std::printf("  huge (2^31+37 bf16, in place relu + dropout): %lld bad\n", (long long)bad);
  CHECK(bad == 0, "huge: %lld wrong elements at the ends", (long long)bad);
  cudaFree(x);
  cudaFree(m);
}

// ---------------- argument validation (needs no device) ----------------

void test_arguments() {
  float f = 0;
  uint8_t b = 0;
  void* p = &f;
  const int k[3] = {3, 3, 3}, s[3] = {2, 2, 2}, pf[3] = {1, 1, 1}, bad_pf[3] = {3, 0, 0}, z[3] = {0, 0, 0};
  const int k_big[3] = {7, 7, 7};
  int fails = 0;
  auto expect = [&](int st, const char* what) {
    if (st != COMIX_ERR_ARGUMENT) {
      std::fprintf(stderr, "FAIL argument check: %s returned %d\n", what, st);
      ++fails;
    }
  };
  expect(comix_nn_bn_stats_cuda(nullptr, F32, 4, 4, &f, &f, p, 1 << 20, nullptr), "stats null x");
  expect(comix_nn_bn_stats_cuda(p, 2, 4, 4, &f, &f, p, 1 << 20, nullptr), "stats bad dtype");
  expect(comix_nn_bn_stats_cuda(p, F32, 0, 4, &f, &f, p, 1 << 20, nullptr), "stats M=0");
  expect(comix_nn_bn_stats_cuda(p, F32, 4, 4, &f, &f, p, 1, nullptr), "stats small workspace");
  expect(comix_nn_bn_forward_cuda(p, F32, 4, -1, &f, &f, 1e-3f, nullptr, nullptr, 0, p, nullptr), "bn fwd C<0");
  expect(comix_nn_bn_forward_cuda(p, F32, 4, 4, &f, &f, -1.0f, nullptr, nullptr, 0, p, nullptr), "bn fwd eps<0");
  expect(comix_nn_bn_running_update_cuda(&f, &f, &f, &f, 4, 1.5, 10, nullptr), "running momentum 1.5");
  expect(comix_nn_bn_backward_cuda(p, nullptr, p, F32, 4, 4, &f, &f, 1e-3f, nullptr, 1, p, &f, &f, nullptr, 0, nullptr),
         "bn bwd null ws");
  expect(comix_nn_relu_forward_cuda(p, F32, 0, p, nullptr), "relu n=0");
  expect(comix_nn_relu_backward_cuda(nullptr, p, F32, 4, p, nullptr), "relu bwd null y");
  expect(comix_nn_pool3d_forward_cuda(p, F32, 1, 4, 4, 4, 8, k, s, bad_pf, 2, 2, 2, 0, p, &b, nullptr), "pool pad >= kernel");
  expect(comix_nn_pool3d_forward_cuda(p, F32, 1, 4, 4, 4, 8, k, s, pf, 2, 2, 2, 1, p, nullptr, nullptr), "avg with padding");
  expect(comix_nn_pool3d_forward_cuda(p, F32, 1, 4, 4, 4, 8, k, s, z, 2, 2, 2, 1, p, nullptr, nullptr), "avg window outside");
  expect(comix_nn_pool3d_forward_cuda(p, F32, 1, 8, 8, 8, 8, k_big, s, z, 1, 1, 1, 0, p, &b, nullptr), "max window > 256");
  expect(comix_nn_pool3d_forward_cuda(p, F32, 1, 4, 4, 4, 8, k, s, pf, 0, 2, 2, 0, p, &b, nullptr), "pool OD=0");
  expect(comix_nn_pool3d_backward_cuda(p, F32, 1, 4, 4, 4, 8, k, s, pf, 2, 2, 2, 0, nullptr, p, nullptr), "max bwd no argmax");
  expect(comix_nn_pad5d_cuda(p, F32, 1, 4, 4, 4, 8, nullptr, z, p, nullptr), "pad null front");
  expect(comix_nn_crop5d_cuda(p, BF16, 1, 4, 4, 0, 8, z, z, p, nullptr), "crop W=0");
  expect(comix_nn_cast_cuda(p, F32, p, 3, 4, nullptr), "cast bad dtype");
  expect(comix_nn_axpy_cuda(1.0f, p, F32, nullptr, 4, nullptr), "axpy null y");
  expect(comix_nn_channel_sum_cuda(p, F32, 4, 4, &f, 0, p, 0, nullptr), "channel sum small ws");
  expect(comix_nn_weight_to_krsc_cuda(&f, 1, 0, 1, 1, 1, p, F32, nullptr), "to_krsc Cin=0");
  expect(comix_nn_weight_grad_from_krsc_cuda(p, BF16, 1, 1, 1, 1, 1, nullptr, 0, nullptr), "from_krsc null grad");
  expect(comix_nn_pad5d_channels_cuda(p, F32, 1, 4, 4, 4, 8, 4, z, z, p, nullptr), "pad channels CP < C");
  expect(comix_nn_crop5d_channels_cuda(p, BF16, 1, 4, 4, 4, 3, 8, nullptr, z, p, nullptr), "crop channels null front");
  expect(comix_nn_weight_to_krsc_padded_cuda(&f, 1, 4, 3, 1, 1, 1, p, F32, nullptr), "to_krsc CinP < Cin");
  expect(comix_nn_weight_grad_from_krsc_padded_cuda(p, BF16, 1, 3, 2, 1, 1, 1, &f, 0, nullptr), "from_krsc CinP < Cin");
  expect(comix_nn_ndhwc_to_ncdhw_cuda(p, F32, 1, 4, 4, p, nullptr), "to_ncdhw in place");
  expect(comix_nn_ndhwc_to_ncdhw_cuda(p, F32, 0, 4, 4, &b, nullptr), "to_ncdhw N=0");
  expect(comix_nn_ncdhw_to_ndhwc_cuda(p, 2, 1, 4, 4, &b, nullptr), "to_ndhwc bad dtype");
  expect(comix_nn_ncdhw_to_ndhwc_cuda(nullptr, BF16, 1, 4, 4, p, nullptr), "to_ndhwc null x");
  expect(comix_nn_ncdhw_to_ndhwc_cuda(p, F32, 1, 0, 4, &b, nullptr), "to_ndhwc S=0");
  expect(comix_nn_dropout_forward_cuda(p, F32, 4, 1.5f, 1, 0, p, &b, nullptr), "dropout p>1");
  expect(comix_nn_dropout_backward_cuda(p, F32, 4, 0.5f, nullptr, p, nullptr), "dropout bwd null mask");
  // misaligned for the element type (would fault on the device)
  char* cp = reinterpret_cast<char*>(&f);
  expect(comix_nn_relu_forward_cuda(cp + 2, F32, 4, p, nullptr), "relu f32 at a 2-byte offset");
  expect(comix_nn_relu_forward_cuda(cp + 1, BF16, 4, p, nullptr), "relu bf16 at an odd address");
  expect(comix_nn_axpy_cuda(1.0f, cp + 2, BF16, reinterpret_cast<float*>(cp + 2), 4, nullptr), "axpy y at a 2-byte offset");
  expect(comix_nn_bn_forward_cuda(p, F32, 4, 4, reinterpret_cast<float*>(cp + 1), &f, 1e-3f, nullptr, nullptr, 0, p, nullptr),
         "bn fwd mean misaligned");
  std::printf("argument validation: %d failure(s)\n", fails);
  g_failures += fails;
}

// The batch-norm backward formula the oracles above use, against central finite differences of
// the training-mode forward (batch statistics recomputed from x) with a fused ReLU, in float64 on
// the host: L = sum w * relu(bn(x)). Needs no device.
void test_bn_formula_fd() {
  const int64_t M = 6, C = 2;
  const double eps = 1e-3;
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> x((size_t)(M * C)), w(x.size()), gamma = {1.3, -0.7}, beta = {0.2, 0.1};
  for (auto& v : x) v = nd(rng());
  for (auto& v : w) v = nd(rng());
  auto forward = [&](const std::vector<double>& in, std::vector<double>* y, std::vector<double>* mean,
                     std::vector<double>* var) {
    std::vector<double> m((size_t)C, 0.0), v((size_t)C, 0.0), out(in.size());
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) m[(size_t)c] += in[(size_t)(r * C + c)] / (double)M;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) v[(size_t)c] += std::pow(in[(size_t)(r * C + c)] - m[(size_t)c], 2) / (double)M;
    double L = 0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const size_t i = (size_t)(r * C + c);
        const double yy = std::max(0.0, (in[i] - m[(size_t)c]) / std::sqrt(v[(size_t)c] + eps) * gamma[(size_t)c] + beta[(size_t)c]);
        out[i] = yy;
        L += w[i] * yy;
      }
    if (y) *y = out;
    if (mean) *mean = m;
    if (var) *var = v;
    return L;
  };
  std::vector<double> y, mean, var;
  forward(x, &y, &mean, &var);
  std::vector<double> sg((size_t)C, 0.0), sgx((size_t)C, 0.0);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = (size_t)(r * C + c), cc = (size_t)c;
      const double g = y[i] > 0 ? w[i] : 0.0, xh = (x[i] - mean[cc]) / std::sqrt(var[cc] + eps);
      sg[cc] += g;
      sgx[cc] += g * xh;
    }
  double worst = 0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = (size_t)(r * C + c), cc = (size_t)c;
      const double is = 1.0 / std::sqrt(var[cc] + eps), g = y[i] > 0 ? w[i] : 0.0, xh = (x[i] - mean[cc]) * is;
      const double dx = gamma[cc] * is * (g - sg[cc] / (double)M - xh * sgx[cc] / (double)M);
      std::vector<double> xp = x, xm = x;
      const double h = 1e-6;
      xp[i] += h;
      xm[i] -= h;
      const double fd = (forward(xp, nullptr, nullptr, nullptr) - forward(xm, nullptr, nullptr, nullptr)) / (2 * h);
      worst = std::max(worst, std::fabs(fd - dx) / (std::fabs(fd) + 1e-3));
    }
  std::printf("bn backward formula vs finite differences (fused ReLU, training): worst rel %.2e\n", worst);
  CHECK(worst < 1e-5, "bn backward formula disagrees with finite differences: %.3e", worst);
}

}  // namespace

int main() {
  test_arguments();
  test_bn_formula_fd();
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    if (g_failures) return finish("cuda_nn_layers");
    std::printf("skipped: no usable CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  rng();  // prints the seed

  for (int dt : {F32, BF16}) {
    test_bn_stats(1, 3, dt, 0.0, 1.0);
    test_bn_stats(1, 64, dt, 2.0, 1.0);
    test_bn_stats(7, 17, dt, 0.5, 2.0);
    test_bn_stats(1000, 64, dt, -3.0, 0.5);
    test_bn_stats(1000, 64, dt, 1.0, 1.0, esz(dt));  // misaligned: scalar path
    test_bn_stats(3001, 832, dt, 0.2, 1.0);
    test_bn_stats(5000, 1, dt, 100.0, 0.1);  // large mean, small spread: the shift must save it
  }
  test_bn_stats(1ll << 22, 8, F32, 5.0, 0.5);  // 4 M rows x 8
  test_bn_stats(1ll << 22, 8, BF16, 1.0, 2.0);
  test_bn_stats(300007, 192, F32, 0.0, 1.0);

  for (int dt : {F32, BF16}) {
    test_bn_forward(1, 3, dt, false, true, false);
    test_bn_forward(333, 17, dt, true, true, false);
    test_bn_forward(1000, 64, dt, true, true, true);  // y aliases x
    test_bn_forward(1000, 64, dt, false, false, false);
    test_bn_forward(999, 832, dt, true, true, false, esz(dt));
    test_bn_forward(100000, 192, dt, true, true, true);
  }
  test_bn_running(17, 1);
  test_bn_running(832, 100352);

  for (int dt : {F32, BF16}) {
    for (int training = 0; training < 2; ++training)
      for (int fused = 0; fused < 2; ++fused) {
        test_bn_backward(513, 17, dt, training, fused, 1, true);
        test_bn_backward(1000, 64, dt, training, fused, 2, true);  // dx aliases dy
        test_bn_backward(257, 832, dt, training, fused, 1, false, esz(dt));
      }
    test_bn_backward(2, 3, dt, true, false, 1, true);
    test_bn_backward(4000, 64, dt, true, true, 0, true);  // no input gradient
    test_bn_backward(50000, 192, dt, true, true, 1, true);
  }
  test_bn_backward(1ll << 20, 8, F32, true, false, 1, true);

  for (int dt : {F32, BF16}) {
    for (size_t off : {(size_t)0, esz(dt)}) {
      test_relu(1, dt, off);
      test_relu(1001, dt, off);
      test_relu(1 << 20, dt, off);
      test_axpy(3, dt, off);
      test_axpy(100003, dt, off);
      test_dropout(5, 0.5f, dt, off);
      test_dropout(200003, 0.3f, dt, off);
    }
    test_dropout(1000, 0.0f, dt, 0);
    test_dropout(1000, 1.0f, dt, 0);
    test_channel_sum(1, 5, dt, false);
    test_channel_sum(1, 64, dt, true);
    test_channel_sum(100000, 64, dt, false);
    test_channel_sum(100000, 64, dt, true, esz(dt));
    test_channel_sum(20001, 3, dt, true);
    test_channel_sum(3000, 832, dt, false);
  }
  test_cast(1, 0);
  test_cast(100003, 0);
  test_cast(100003, 4);

  const PoolCase pools[] = {
      {"max 3x3x3 s2 odd sizes C=17", 2, 5, 7, 9, 17, {3, 3, 3}, {2, 2, 2}, 0, 0},
      {"max 3x3x3 s2 odd sizes C=64 relu ties", 2, 5, 7, 9, 64, {3, 3, 3}, {2, 2, 2}, 0, 1},
      {"max 1x3x3 s1,2,2 T=1 C=64", 3, 1, 8, 11, 64, {1, 3, 3}, {1, 2, 2}, 0, 0},
      {"max 1x3x3 s1,2,2 C=32 relu ties", 2, 4, 9, 10, 32, {1, 3, 3}, {1, 2, 2}, 0, 1},
      {"max 2x2x2 s2 C=3", 2, 4, 6, 7, 3, {2, 2, 2}, {2, 2, 2}, 0, 0},
      {"max 3x3x3 s1 C=48 relu ties", 1, 4, 7, 7, 48, {3, 3, 3}, {1, 1, 1}, 0, 1},
      {"max 2x2x2 s2 T=1 C=8 negatives", 1, 1, 5, 5, 8, {2, 2, 2}, {2, 2, 2}, 0, 2},
      {"max 3x3x3 s2 C=16 negatives", 2, 3, 6, 5, 16, {3, 3, 3}, {2, 2, 2}, 0, 2},
      {"avg 2x7x7 s1 C=40", 2, 3, 7, 7, 40, {2, 7, 7}, {1, 1, 1}, 1, 0},
      {"avg 3x3x3 s2 overlapping C=5", 2, 5, 7, 9, 5, {3, 3, 3}, {2, 2, 2}, 1, 0},
      {"avg 1x2x2 s1 C=64", 1, 2, 5, 6, 64, {1, 2, 2}, {1, 1, 1}, 1, 0},
  };
  for (int wide = 0; wide < 2; ++wide) {  // 32-bit index path (these sizes), then the 64-bit one forced
    comix_nn_test_wide_index(wide);
    for (int dt : {F32, BF16})
      for (const PoolCase& pc : pools) {
        test_pool(pc, dt);
        if (pc.C % 4 == 0) test_pool(pc, dt, esz(dt));  // misaligned: scalar path
      }
  }
  comix_nn_test_wide_index(0);

  const int f1[3] = {1, 0, 2}, b1[3] = {0, 1, 1}, f0[3] = {0, 0, 0}, b2[3] = {1, 1, 0};
  for (int dt : {F32, BF16}) {  // one warp per row: scalar (C % 4 != 0 or misaligned) and 4-vector copies
    test_pad(2, 3, 4, 5, 5, 0, f1, b1, dt);  // CP 0: the plain entry points
    test_pad(2, 1, 6, 7, 64, 0, f1, b1, dt);
    test_pad(2, 1, 6, 7, 64, 0, f0, b2, dt, esz(dt));
    const int f3[3] = {2, 2, 2}, b4[3] = {3, 3, 3};
    test_pad(2, 8, 12, 10, 3, 0, f3, b4, dt);  // Conv3d_1a's TF-SAME padding, 3 channels
    test_pad(1, 2, 3, 40, 4, 0, f1, b1, dt);   // rows longer than a warp's 32 vectors
  }
  for (int dt : {F32, BF16}) {
    const int k7[3] = {7, 7, 7}, s2[3] = {2, 2, 2}, k323[3] = {3, 2, 3}, s121[3] = {1, 2, 1}, k1[3] = {1, 1, 1};
    test_im2col(1, 9, 11, 13, 3, k7, s2, dt);  // Conv3d_1a's kernel on a padded odd-sized input
    test_im2col(2, 4, 5, 6, 2, k323, s121, dt);
    test_im2col(3, 2, 3, 4, 5, k1, s121, dt);
  }
  for (int dt : {F32, BF16}) {
    test_weights(8, 5, 0, 3, 3, 3, dt);  // CiP 0: the plain entry points
    test_weights(64, 3, 0, 7, 7, 7, dt);
    test_weights(16, 832, 0, 1, 1, 1, dt);
    // Conv3d_1a's input and filter with 3 channels made 16 bytes wide (8 bf16 / 4 f32), and odd cases
    const int f2[3] = {2, 2, 2}, b3[3] = {3, 3, 3};
    test_pad(2, 8, 12, 10, 3, dt == BF16 ? 8 : 4, f2, b3, dt);
    test_pad(1, 3, 5, 7, 5, 8, f0, f0, dt);  // bf16: 16-byte stores; f32: 32 bytes, scalar
    test_pad(1, 2, 3, 3, dt == BF16 ? 3 : 2, dt == BF16 ? 4 : 2, f1, b1, dt);  // 8-byte rows: scalar stores
    test_pad(2, 1, 4, 3, 3, 3, f1, b1, dt);  // CP == C (no extra channels)
    test_weights(64, 3, dt == BF16 ? 8 : 4, 7, 7, 7, dt);
    test_weights(8, 5, 8, 3, 3, 3, dt);
    test_weights(4, 6, 6, 1, 1, 1, dt);  // CinP == Cin through the padded entry points
  }
  // transposes: the thin paths (C or S <= 16), the tiled path, the copy path (C or S == 1),
  // partial tiles, an I3D-sized sample (832 x 112*112), and more samples than grid.y holds
  for (int dt : {F32, BF16}) {
    for (int64_t C : {1, 3, 17, 64, 832})
      for (int64_t S : {1, 2, 5, 16, 17, 31, 33, 49, 100, 257, 1000, 12544}) {
        if (C * S > 2000000) continue;
        test_transpose(C * S > 200000 ? 1 : 3, S, C, dt);
      }
    test_transpose(1, 12544, 832, dt);
    test_transpose(2, 12544, 64, dt, esz(dt));  // start not aligned beyond the element size
    test_transpose(2, 3, 12544, dt);            // S thin, C wide
    test_transpose(5, 16, 16, dt);              // both thin
    test_transpose(70001, 2, 3, dt);            // N > 65535: the sample loop
  }
  test_transpose(70001, 17, 18, F32);
  test_huge();
  return finish("cuda_nn_layers");
}
