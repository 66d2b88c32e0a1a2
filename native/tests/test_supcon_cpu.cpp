// SupCon / InfoNCE on the CPU against a float64 oracle written the obvious way (full M x M
// matrices, labels compared pair by pair, gradient (G + G^T) Z / tau), on fresh random inputs:
// only the other view positive, many positives, masked rows, all rows masked, sizes that are
// not tile multiples, V = 1, 2, 3, with and without normalisation, both layouts, accumulation.
// The oracle's gradient is itself checked by central finite differences in float64 on tiny
// cases, and so are the cross-entropy family's. Error: max|got - ref| / max|ref| per tensor.
#include <cmath>

#include "comix/cross_entropy.h"
#include "comix/supcon.h"
#include "test_util.h"

struct Case {
  int64_t N, V, D;
  bool labels, mask, normalize, vmajor;
  int classes;
  double tau = 0.5, tau_b = 0.07;
  double scale = 0.3;
  int per_label = 0;  // > 0: fixed labels of at most per_label samples, spread over the batch (sample i in
                      // label i % ceil(N / per_label)); else random labels of `classes`
};

struct Ref {
  double loss;
  std::vector<double> grad;
};

static int64_t off(int64_t r, const Case& c) {
  int64_t v = r / c.N, n = r % c.N;
  return c.vmajor ? r * c.D : (n * c.V + v) * c.D;
}

static Ref oracle(const std::vector<double>& x, const Case& c, const std::vector<int64_t>& lab,
                  const std::vector<uint8_t>& msk) {
  const int64_t M = c.N * c.V, D = c.D;
  std::vector<double> z((size_t)(M * D)), inv((size_t)M, 1.0);
  std::vector<int> act((size_t)M);
  for (int64_t r = 0; r < M; ++r) {
    act[(size_t)r] = msk.empty() ? 1 : msk[(size_t)(r % c.N)];
    double nrm = 0;
    for (int64_t d = 0; d < D; ++d) nrm += x[(size_t)(off(r, c) + d)] * x[(size_t)(off(r, c) + d)];
    nrm = std::sqrt(nrm);
    inv[(size_t)r] = c.normalize ? 1.0 / std::max(nrm, 1e-12) : 1.0;
    for (int64_t d = 0; d < D; ++d) z[(size_t)(r * D + d)] = x[(size_t)(off(r, c) + d)] * inv[(size_t)r];
  }
  auto label = [&](int64_t r) { return lab.empty() ? r % c.N : lab[(size_t)(r % c.N)]; };
  std::vector<double> s((size_t)(M * M));
  for (int64_t a = 0; a < M; ++a)
    for (int64_t k = 0; k < M; ++k) {
      double d = 0;
      for (int64_t j = 0; j < D; ++j) d += z[(size_t)(a * D + j)] * z[(size_t)(k * D + j)];
      s[(size_t)(a * M + k)] = d / c.tau;
    }
  std::vector<double> G((size_t)(M * M), 0.0), rl((size_t)M, 0.0);
  std::vector<int> valid((size_t)M, 0);
  int64_t A = 0;
  double total = 0;
  for (int64_t a = 0; a < M; ++a) {
    if (!act[(size_t)a]) continue;
    double mx = -INFINITY;
    int64_t npos = 0;
    for (int64_t k = 0; k < M; ++k)
      if (k != a && act[(size_t)k]) {
        mx = std::max(mx, s[(size_t)(a * M + k)]);
        npos += label(k) == label(a);
      }
    if (npos == 0) continue;
    double den = 0;
    for (int64_t k = 0; k < M; ++k)
      if (k != a && act[(size_t)k]) den += std::exp(s[(size_t)(a * M + k)] - mx);
    const double lse = mx + std::log(den);
    double l = 0;
    for (int64_t k = 0; k < M; ++k)
      if (k != a && act[(size_t)k]) {
        const double p = std::exp(s[(size_t)(a * M + k)] - lse);
        const double y = label(k) == label(a) ? 1.0 / (double)npos : 0.0;
        if (y > 0) l -= (s[(size_t)(a * M + k)] - lse) / (double)npos;
        G[(size_t)(a * M + k)] = p - y;
      }
    valid[(size_t)a] = 1;
    total += l;
    ++A;
  }
  Ref ref;
  const double f = c.tau / c.tau_b;
  ref.loss = A ? f * total / (double)A : 0.0;
  ref.grad.assign((size_t)(M * D), 0.0);
  if (!A) return ref;
  const double cc = f / (double)A / c.tau;
  for (int64_t a = 0; a < M; ++a) {
    if (!act[(size_t)a]) continue;
    std::vector<double> dz((size_t)D, 0.0);
    for (int64_t k = 0; k < M; ++k) {
      const double w = cc * (G[(size_t)(a * M + k)] + G[(size_t)(k * M + a)]);
      for (int64_t j = 0; j < D; ++j) dz[(size_t)j] += w * z[(size_t)(k * D + j)];
    }
    double dot = 0;
    for (int64_t j = 0; j < D; ++j) dot += dz[(size_t)j] * z[(size_t)(a * D + j)];
    for (int64_t j = 0; j < D; ++j) {
      double g = dz[(size_t)j];
      if (c.normalize) g = (g - z[(size_t)(a * D + j)] * dot) * inv[(size_t)a];
      ref.grad[(size_t)(off(a, c) + j)] = g;
    }
  }
  return ref;
}

static double rel_err(const std::vector<double>& ref, const double* got, size_t n) {
  double worst = 0, mag = 0;
  for (size_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::fabs(got[i] - ref[i]));
    mag = std::max(mag, std::fabs(ref[i]));
  }
  return mag > 0 ? worst / mag : worst;
}

static void make_inputs(const Case& c, std::vector<float>& xf, std::vector<int64_t>& lab, std::vector<uint8_t>& msk) {
  std::normal_distribution<float> nd(0.0f, (float)c.scale);
  xf.resize((size_t)(c.N * c.V * c.D));
  for (auto& v : xf) v = nd(rng());
  lab.clear();
  msk.clear();
  if (c.labels) {
    std::uniform_int_distribution<int> ld(0, c.classes - 1);
    for (int64_t i = 0; i < c.N; ++i) lab.push_back(c.per_label > 0 ? i % ((c.N + c.per_label - 1) / c.per_label) : ld(rng()));
  }
  if (c.mask) {
    std::bernoulli_distribution bd(0.6);
    for (int64_t i = 0; i < c.N; ++i) msk.push_back(bd(rng()) ? 1 : 0);
  }
}

static int flags_of(const Case& c) {
  return (c.normalize ? COMIX_SUPCON_NORMALIZE : 0) | (c.vmajor ? COMIX_SUPCON_VIEW_MAJOR : 0);
}

static void check_case(const char* name, const Case& c, int threads) {
  std::vector<float> xf;
  std::vector<int64_t> lab;
  std::vector<uint8_t> msk;
  make_inputs(c, xf, lab, msk);
  std::vector<double> xd(xf.begin(), xf.end());
  const Ref ref = oracle(xd, c, lab, msk);
  const size_t n = xf.size();
  // float32 path
  std::vector<float> g(n, NAN);
  double loss = NAN;
  int st = comix_supcon_f32_cpu(xf.data(), c.N, c.V, c.D, lab.empty() ? nullptr : lab.data(),
                                msk.empty() ? nullptr : msk.data(), (float)c.tau, (float)c.tau_b, flags_of(c), 1.0f,
                                &loss, g.data(), threads);
  CHECK(st == COMIX_OK, "%s: status %d", name, st);
  std::vector<double> gd(g.begin(), g.end());
  const double le = ref.loss != 0 ? std::fabs(loss - ref.loss) / std::fabs(ref.loss) : std::fabs(loss);
  const double ge = rel_err(ref.grad, gd.data(), n);
  std::printf("  %-28s N=%-4lld V=%lld D=%-4lld loss %.9g (ref %.9g) loss err %.2e grad err %.2e\n", name,
              (long long)c.N, (long long)c.V, (long long)c.D, loss, ref.loss, le, ge);
  CHECK(le <= 1e-5, "%s: f32 loss rel err %.3e", name, le);
  CHECK(ge <= 1e-5, "%s: f32 grad rel err %.3e", name, ge);
  // float64 path
  std::vector<double> g64(n, NAN);
  double loss64 = NAN;
  st = comix_supcon_f64_cpu(xd.data(), c.N, c.V, c.D, lab.empty() ? nullptr : lab.data(),
                            msk.empty() ? nullptr : msk.data(), c.tau, c.tau_b, flags_of(c), 1.0, &loss64, g64.data(),
                            threads);
  CHECK(st == COMIX_OK, "%s: f64 status %d", name, st);
  const double le64 = ref.loss != 0 ? std::fabs(loss64 - ref.loss) / std::fabs(ref.loss) : std::fabs(loss64);
  const double ge64 = rel_err(ref.grad, g64.data(), n);
  CHECK(le64 <= 1e-12, "%s: f64 loss rel err %.3e", name, le64);
  CHECK(ge64 <= 1e-11, "%s: f64 grad rel err %.3e", name, ge64);
  // accumulation with a scale: grad = 0.25 + (-2) * dL
  std::vector<float> ga(n, 0.25f);
  double la = 0;
  st = comix_supcon_f32_cpu(xf.data(), c.N, c.V, c.D, lab.empty() ? nullptr : lab.data(),
                            msk.empty() ? nullptr : msk.data(), (float)c.tau, (float)c.tau_b,
                            flags_of(c) | COMIX_SUPCON_ACCUMULATE, -2.0f, &la, ga.data(), threads);
  CHECK(st == COMIX_OK, "%s: accumulate status", name);
  double worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs((double)ga[i] - (0.25 - 2.0 * (double)g[i])));
  CHECK(worst <= 1e-6, "%s: accumulate mismatch %.3e", name, worst);
}

// Central differences of the oracle's loss vs the oracle's gradient (float64, tiny cases), and
// of the f64 library path.
static void check_fd(const Case& c) {
  std::vector<float> xf;
  std::vector<int64_t> lab;
  std::vector<uint8_t> msk;
  make_inputs(c, xf, lab, msk);
  std::vector<double> x(xf.begin(), xf.end());
  const Ref ref = oracle(x, c, lab, msk);
  std::vector<double> g((size_t)x.size());
  double loss = 0;
  CHECK(comix_supcon_f64_cpu(x.data(), c.N, c.V, c.D, lab.empty() ? nullptr : lab.data(),
                             msk.empty() ? nullptr : msk.data(), c.tau, c.tau_b, flags_of(c), 1.0, &loss, g.data(),
                             1) == COMIX_OK, "fd f64 status");
  double worst = 0, mag = 0;
  const double h = 1e-6;
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double lp = oracle(x, c, lab, msk).loss;
    x[i] = keep - h;
    const double lm = oracle(x, c, lab, msk).loss;
    x[i] = keep;
    const double fd = (lp - lm) / (2 * h);
    worst = std::max({worst, std::fabs(fd - ref.grad[i]), std::fabs(fd - g[i])});
    mag = std::max(mag, std::fabs(fd));
  }
  std::printf("  finite differences N=%lld V=%lld D=%lld norm=%d mask=%d: rel err %.2e\n", (long long)c.N,
              (long long)c.V, (long long)c.D, c.normalize, c.mask, worst / mag);
  CHECK(worst <= 1e-6 * std::max(1.0, mag), "finite differences: %.3e (|g| %.3e)", worst, mag);
}

static void check_all_masked() {
  std::vector<float> x(5 * 2 * 7, 1.0f), g(x.size(), 123.0f);
  std::vector<uint8_t> m(5, 0);
  double loss = 99;
  CHECK(comix_supcon_f32_cpu(x.data(), 5, 2, 7, nullptr, m.data(), 0.5f, 0.07f, 0, 1.0f, &loss, g.data(), 0) ==
        COMIX_OK, "all masked status");
  CHECK(loss == 0.0, "all masked: loss %g", loss);
  bool zero = true;
  for (float v : g) zero &= v == 0.0f;
  CHECK(zero, "all masked: gradient not zero");
}

static void check_bad_args() {
  float x[8] = {0};
  float g[8];
  double l;
  CHECK(comix_supcon_f32_cpu(x, 0, 2, 2, nullptr, nullptr, 0.5f, 0.07f, 0, 1, &l, g, 1) == COMIX_ERR_ARGUMENT, "N=0");
  CHECK(comix_supcon_f32_cpu(x, 2, 2, 2, nullptr, nullptr, 0.0f, 0.07f, 0, 1, &l, g, 1) == COMIX_ERR_ARGUMENT, "tau 0");
  CHECK(comix_supcon_f32_cpu(x, 2, 2, 2, nullptr, nullptr, 0.5f, -1.f, 0, 1, &l, g, 1) == COMIX_ERR_ARGUMENT, "tau_b");
  CHECK(comix_supcon_f32_cpu(nullptr, 2, 2, 2, nullptr, nullptr, 0.5f, 0.07f, 0, 1, &l, g, 1) == COMIX_ERR_ARGUMENT,
        "null");
}

// ---- cross-entropy family ----
static double ce_oracle(const std::vector<double>& x, int64_t B, int64_t C, const std::vector<int64_t>& y, double eps) {
  double tot = 0;
  for (int64_t i = 0; i < B; ++i) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, x[(size_t)(i * C + c)]);
    for (int64_t c = 0; c < C; ++c) s += std::exp(x[(size_t)(i * C + c)] - m);
    for (int64_t c = 0; c < C; ++c) {
      const double t = (c == y[(size_t)i] ? 1 - eps : 0) + eps / (double)C;
      tot -= t * (x[(size_t)(i * C + c)] - m - std::log(s));
    }
  }
  return tot / (double)B;
}

static void check_ce() {
  const int64_t B = 9, C = 12;
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x((size_t)(B * C)), g((size_t)(B * C));
  for (auto& v : x) v = nd(rng());
  std::vector<int64_t> y((size_t)B);
  for (auto& v : y) v = (int64_t)(rng()() % C);
  double loss;
  CHECK(comix_ce_smooth_f32_cpu(x.data(), B, C, y.data(), 0.1f, 1.0f, 0, &loss, g.data(), 1) == COMIX_OK, "ce");
  std::vector<double> xd(x.begin(), x.end());
  const double ref = ce_oracle(xd, B, C, y, 0.1);
  CHECK(std::fabs(loss - ref) <= 1e-5 * std::fabs(ref), "ce loss %.9g vs %.9g", loss, ref);
  double worst = 0;
  for (size_t i = 0; i < xd.size(); ++i) {
    const double k = xd[i], h = 1e-6;
    xd[i] = k + h;
    const double lp = ce_oracle(xd, B, C, y, 0.1);
    xd[i] = k - h;
    const double lm = ce_oracle(xd, B, C, y, 0.1);
    xd[i] = k;
    worst = std::max(worst, std::fabs((lp - lm) / (2 * h) - g[i]));
  }
  CHECK(worst <= 2e-6, "ce grad vs finite differences %.3e", worst);
  std::vector<int64_t> bad = y;
  bad[3] = C;
  CHECK(comix_ce_smooth_f32_cpu(x.data(), B, C, bad.data(), 0.1f, 1.0f, 0, &loss, g.data(), 1) == COMIX_ERR_ARGUMENT,
        "ce bad label");
  // softmax + backward vs finite differences of sum(w * softmax(x))
  std::vector<float> p(x.size()), w(x.size()), dx(x.size());
  for (auto& v : w) v = nd(rng());
  CHECK(comix_softmax_f32_cpu(x.data(), B, C, p.data(), 1) == COMIX_OK, "softmax");
  CHECK(comix_softmax_backward_f32_cpu(p.data(), w.data(), B, C, 0, dx.data(), 1) == COMIX_OK, "softmax bwd");
  worst = 0;
  for (int64_t i = 0; i < B; ++i)
    for (int64_t c = 0; c < C; ++c) {
      auto f = [&](double delta) {
        double m = -INFINITY, s = 0, r = 0;
        std::vector<double> row(C);
        for (int64_t j = 0; j < C; ++j) row[(size_t)j] = x[(size_t)(i * C + j)] + (j == c ? delta : 0);
        for (double v : row) m = std::max(m, v);
        for (double v : row) s += std::exp(v - m);
        for (int64_t j = 0; j < C; ++j) r += w[(size_t)(i * C + j)] * std::exp(row[(size_t)j] - m) / s;
        return r;
      };
      worst = std::max(worst, std::fabs((f(1e-6) - f(-1e-6)) / 2e-6 - dx[(size_t)(i * C + c)]));
    }
  CHECK(worst <= 2e-6, "softmax backward vs finite differences %.3e", worst);
  // pseudo labels: a row made confident, one made flat
  std::vector<float> a((size_t)(2 * C), 0.0f), b((size_t)(2 * C), 0.0f);
  a[5] = 10.0f;
  b[5] = 6.0f;
  std::vector<int64_t> pl(2);
  std::vector<uint8_t> pm(2);
  CHECK(comix_pseudo_labels_f32_cpu(a.data(), b.data(), 2, C, 0.7f, pl.data(), pm.data()) == COMIX_OK, "pseudo");
  CHECK(pl[0] == 5 && pm[0] == 1 && pm[1] == 0 && pl[1] == 0, "pseudo labels %lld %d %lld %d", (long long)pl[0], pm[0],
        (long long)pl[1], pm[1]);
}

int main() {
  std::printf("supcon CPU vs float64 oracle\n");
  for (int variant = 0; variant < 4; ++variant) {
    // 0, 1, 3: stored similarity matrix, 1 thread / all threads / 13 threads (more workers than
    // cores and than tile pairs); 2: the recompute path (forced)
    const int threads = variant == 0 ? 1 : variant == 3 ? 13 : 0;
    if (variant == 2) setenv("COMIX_SUPCON_CPU_MAX_S_BYTES", "0", 1);
    std::printf(" variant %d (%s, threads %d)\n", variant, variant == 2 ? "recomputed tiles" : "stored S", threads);
    check_case("infonce other view only", {37, 2, 19, false, false, false, false, 0}, threads);
    check_case("infonce normalized", {37, 2, 19, false, false, true, false, 0, 0.1, 0.1, 1.0}, threads);
    check_case("many positives", {50, 2, 33, true, false, false, false, 3}, threads);
    check_case("many positives normalized", {50, 3, 33, true, false, true, true, 4, 0.07, 0.07, 1.0}, threads);
    check_case("masked rows", {45, 2, 21, true, true, false, false, 5}, threads);
    check_case("masked rows normalized", {45, 2, 21, false, true, true, false, 0}, threads);
    check_case("V=1 labels", {61, 1, 17, true, false, false, false, 9}, threads);
    check_case("V=3 view-major", {29, 3, 40, true, true, false, true, 6}, threads);
    check_case("comix shape", {16, 2, 12, true, false, false, false, 8, 0.5, 0.07, 0.6}, threads);
    check_case("multi-tile 300x2x64", {300, 2, 64, true, false, false, false, 50, 0.5, 0.07, 0.2}, threads);
    check_case("multi-tile 301x2x130 norm", {301, 2, 130, false, false, true, false, 0, 0.1, 0.07, 1.0}, threads);
    check_case("multi-tile 700x2x300 masked", {700, 2, 300, true, true, false, false, 40, 0.5, 0.07, 0.2}, threads);
    check_case("multi-tile wide logit range", {300, 2, 16, true, false, false, false, 20, 0.1, 0.07, 0.8}, threads);
    check_case("M=1 (no pair at all)", {1, 1, 5, false, false, false, false, 0}, threads);
    check_case("M=2 normalized", {1, 2, 3, false, false, true, false, 0, 0.1, 0.1, 1.0}, threads);
    check_case("M=3 V=3 view-major", {1, 3, 7, false, false, false, true, 0}, threads);
    check_case("D=1, 2 row tiles", {129, 2, 1, false, false, false, false, 0, 0.5, 0.07, 1.0}, threads);
    check_case("513x1x129 labels masked", {513, 1, 129, true, true, false, false, 30, 0.5, 0.07, 0.3}, threads);
    check_case("65x2x255 masked", {65, 2, 255, false, true, false, false, 0, 0.5, 0.07, 0.3}, threads);
    // labels of 4, 8 and 9 rows spread over 3 row tiles: positives summed from their rows up to 8
    // rows per label (kSmallLabel; positives in other tiles), per-label sums from 9
    check_case("multi-tile labels of 4", {300, 1, 40, true, false, false, false, 0, 0.5, 0.07, 0.3, 4}, threads);
    check_case("multi-tile labels of 8", {300, 1, 40, true, false, false, false, 0, 0.5, 0.07, 0.3, 8}, threads);
    check_case("multi-tile labels of 9", {300, 1, 40, true, false, false, false, 0, 0.5, 0.07, 0.3, 9}, threads);
    check_case("multi-tile 2 views x 4", {150, 2, 40, true, true, true, false, 0, 0.5, 0.07, 0.3, 4}, threads);
  }
  unsetenv("COMIX_SUPCON_CPU_MAX_S_BYTES");
  check_fd({3, 2, 4, false, false, false, false, 0});
  check_fd({4, 2, 3, true, true, true, false, 2, 0.3, 0.07, 1.0});
  check_fd({3, 3, 2, true, false, false, true, 2, 0.5, 0.07, 1.0});
  check_fd({5, 1, 3, true, false, true, false, 2, 0.5, 0.07, 1.0});
  check_all_masked();
  check_bad_args();
  check_ce();
  return finish("supcon_cpu");
}
