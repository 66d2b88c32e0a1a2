// The SupCon CPU kernel body, included once per instruction set by supcon.cpp, each time inside
// its own namespace and under its own `#pragma GCC target`, so the 64-byte vector code compiles
// to AVX-512, AVX2+FMA or baseline SSE2 (no include guard on purpose; no includes here).
typedef float vf16 __attribute__((vector_size(64)));
typedef double vd8 __attribute__((vector_size(64)));

template <class T> struct VecOf;
template <> struct VecOf<float> { typedef vf16 type; };
template <> struct VecOf<double> { typedef vd8 type; };

constexpr int kRows = 8;  // rows per micro-tile

constexpr int kNV = 2;  // vectors per micro-tile row (3 measured no faster, and pads D = 128 to 144)

// C[8][kNV*L] = A[8][K] * B[K][kNV*L]: A read as scalars (A[i*lda + k]), B as kNV vectors per k.
template <class T>
COMIX_ALWAYS_INLINE void micro(const T* A, int64_t lda, const T* B, int64_t ldb, int64_t K, T* C, int64_t ldc) {
  typedef typename VecOf<T>::type V;
  constexpr int L = (int)(sizeof(V) / sizeof(T));
  V c[kRows][kNV];
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) c[i][v] = V{};
  for (int64_t k = 0; k < K; ++k) {
    V b[kNV];
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) std::memcpy(&b[v], B + k * ldb + v * L, sizeof(V));
#pragma GCC unroll 8
    for (int i = 0; i < kRows; ++i) {
      const T a = A[i * lda + k];
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) c[i][v] += a * b[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) std::memcpy(C + i * ldc + v * L, &c[i][v], sizeof(V));
}

// exp for x <= 0 (clamped to [-87, 0]), branch-free so loops over it vectorise; relative error
// about 2e-7 (Cephes expf polynomial on the reduced argument).
COMIX_ALWAYS_INLINE float exp_neg(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 0.0f ? 0.0f : x;
  // round to nearest by the 1.5 * 2^23 trick (|x * log2 e| < 2^22 here): no libm call, vectorises
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t e = (int32_t)n + 127;
  const uint32_t bits = (uint32_t)e << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return y * scale;
}
COMIX_ALWAYS_INLINE double exp_neg(double x) { return std::exp(x < 0.0 ? x : 0.0); }


template <class T>
struct SCache {
  std::mutex mu;
  std::unique_ptr<T[]> buf;
  size_t n = 0;
};
template <class T>
SCache<T>& s_cache() {
  static SCache<T> c;
  return c;
}

// Reusable work buffers (slots 1-3: Z, its GEMM panels, its gradient panels). A fresh multi-MB
// std::vector per call was page-faulted in and zeroed every time (~5% of a 1024 x 2 x 512 call);
// a cached one is uninitialised and written in full below. A concurrent call gets its own. The
// process keeps each slot (up to 256 MiB, per element type and instruction set; the S cache up to
// 512 MiB) for its lifetime.
template <class T, int SLOT>
SCache<T>& slot_cache() {
  static SCache<T> c;
  return c;
}

template <class T, int SLOT>
T* work_buffer(size_t n, std::unique_lock<std::mutex>& lock, std::unique_ptr<T[]>& own) {
  SCache<T>& c = slot_cache<T, SLOT>();
  if (n * sizeof(T) <= ((size_t)256 << 20)) lock = std::unique_lock<std::mutex>(c.mu, std::try_to_lock);
  if (lock.owns_lock()) {
    if (c.n < n) {
      c.buf.reset();
      c.n = 0;  // stays consistent if the allocation below throws
      c.buf.reset(new T[n]);
      c.n = n;
    }
    return c.buf.get();
  }
  own.reset(new T[n]);
  return own.get();
}

template <class T>
int supcon_run(const Problem<T>& P, double* loss_out, int threads) {
  typedef typename VecOf<T>::type Vt;
  constexpr int64_t NB = kNV * (int64_t)(sizeof(Vt) / sizeof(T));  // micro-tile columns
  constexpr int64_t CB = 8 * NB;                                  // columns per tile
  const bool vmajor = (P.flags & COMIX_SUPCON_VIEW_MAJOR) != 0;
  const bool normalize = (P.flags & COMIX_SUPCON_NORMALIZE) != 0;
  const bool accumulate = (P.flags & COMIX_SUPCON_ACCUMULATE) != 0;
  const int64_t N = P.N, V = P.V, D = P.D, Mall = N * V;

  // ---- 1. active rows, label groups ----
  std::vector<int64_t> rows;  // active row -> original row r
  rows.reserve((size_t)Mall);
  for (int64_t r = 0; r < Mall; ++r)
    if (!P.mask || P.mask[r % N]) rows.push_back(r);
  const int64_t M = (int64_t)rows.size();
  std::vector<int32_t> group((size_t)M);
  int64_t G = 0;
  {
    std::unordered_map<int64_t, int32_t> ids;
    for (int64_t i = 0; i < M; ++i) {
      const int64_t n = rows[(size_t)i] % N;
      const int64_t key = P.labels ? P.labels[n] : n;
      auto it = ids.find(key);
      if (it == ids.end()) it = ids.emplace(key, (int32_t)G++).first;
      group[(size_t)i] = it->second;
    }
  }
  std::vector<int64_t> gcount((size_t)G, 0);
  for (int64_t i = 0; i < M; ++i) gcount[(size_t)group[(size_t)i]]++;

  auto write_zero_grad = [&] {
    if (!P.grad || accumulate) return;
    std::memset(P.grad, 0, (size_t)(Mall * D) * sizeof(T));
  };
  if (M == 0) {
    *loss_out = 0.0;
    write_zero_grad();
    return COMIX_OK;
  }

  const int64_t Mp = (M + NB - 1) / NB * NB, Dp = (D + NB - 1) / NB * NB;
  const double work = 3.0 * (double)M * (double)M * (double)(D + 8);
  const int nthreads = work < 4e6 ? 1 : threads;
  std::unique_lock<std::mutex> zlock, ztlock, zglock;
  std::unique_ptr<T[]> zown, ztown, zgown;
  // Z: the active rows (normalised if asked), zero-padded to Mp x Dp
  T* const Z = work_buffer<T, 1>((size_t)(Mp * Dp), zlock, zown);
  std::vector<double> invnorm((size_t)M, 1.0);
  std::vector<uint8_t> clamped((size_t)M, 0);
  comix::parallel_for(Mp, 64, nthreads, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      T* dst = Z + i * Dp;
      if (i >= M) {
        std::fill(dst, dst + Dp, T(0));
        continue;
      }
      const T* src = P.x + comix::supcon_row_offset(rows[(size_t)i], N, V, D, vmajor);
      if (normalize) {
        double ss = 0;
        for (int64_t d = 0; d < D; ++d) ss += (double)src[d] * (double)src[d];
        const double nrm = std::sqrt(ss);
        const double den = nrm > 1e-12 ? nrm : 1e-12;
        clamped[(size_t)i] = !(nrm > 1e-12);
        invnorm[(size_t)i] = 1.0 / den;
        for (int64_t d = 0; d < D; ++d) dst[d] = (T)((double)src[d] / den);
      } else {
        for (int64_t d = 0; d < D; ++d) dst[d] = src[d];
      }
      std::fill(dst + D, dst + Dp, T(0));
    }
  });
  // panels: Zt[(jb*D + d)*NB + j] = Z[jb*NB + j][d]
  T* const Zt = work_buffer<T, 2>((size_t)(Mp * D), ztlock, ztown);
  comix::parallel_for(Mp / NB, 1, nthreads, [&](int64_t b0, int64_t b1, int) {
    for (int64_t jb = b0; jb < b1; ++jb)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < NB; ++j) Zt[(size_t)((jb * D + d) * NB + j)] = Z[(size_t)((jb * NB + j) * Dp + d)];
  });
  // pass-2 panels of Z: for column tile t and feature chunk c, the CB x NB block
  // Zg[((t * Dp/NB + c) * CB + k) * NB + q] = Z[t*CB + k][c*NB + q], contiguous, so the
  // gradient product streams it (Z itself has a power-of-two row stride for common D, and
  // walking its rows at that stride thrashes a few L1 sets); rows past Mp are zeros.
  const int64_t ntp = (Mp + CB - 1) / CB, nch = Dp / NB;
  T* const Zg = work_buffer<T, 3>((size_t)(ntp * nch * CB * NB), zglock, zgown);
  comix::parallel_for(ntp * CB, 64, nthreads, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r / CB, k = r % CB;
      for (int64_t c = 0; c < nch; ++c) {
        T* dst = Zg + ((t * nch + c) * CB + k) * NB;
        if (r < Mp) std::memcpy(dst, Z + r * Dp + c * NB, (size_t)NB * sizeof(T));
        else std::fill(dst, dst + NB, T(0));
      }
    }
  });
  // per-label sums (float64, rows added in index order for every column) and positive counts
  std::vector<double> gsum((size_t)(G * D), 0.0);
  comix::parallel_for(D, 16, nthreads, [&](int64_t d0, int64_t d1, int) {
    for (int64_t i = 0; i < M; ++i) {
      double* gs = gsum.data() + (int64_t)group[(size_t)i] * D;
      const T* z = Z + i * Dp;
      for (int64_t d = d0; d < d1; ++d) gs[d] += (double)z[d];
    }
  });
  const double inv_tau = 1.0 / P.tau;

  std::vector<double> lse((size_t)Mp, 0.0), inv_npos((size_t)M, 0.0), rowloss((size_t)M, 0.0);
  std::vector<T> lse_t((size_t)Mp, T(0)), valid_t((size_t)Mp, T(0));
  const int64_t nblocks = Mp / kRows;
  const int64_t ntiles = (M + CB - 1) / CB;

  // ---- 1b. small enough: S = Z Z^T / tau once, upper tiles only (symmetry), mirrored, and
  // both passes read it (1.5 M^2 D multiply-adds instead of 3). Otherwise both passes recompute
  // their tiles. The limit can be lowered with COMIX_SUPCON_CPU_MAX_S_BYTES (tests use it).
  int64_t max_s_bytes = (int64_t)1 << 31;
  if (const char* env = std::getenv("COMIX_SUPCON_CPU_MAX_S_BYTES")) max_s_bytes = std::atoll(env);
  const bool stored = Mp * Mp * (int64_t)sizeof(T) <= max_s_bytes;
  std::unique_ptr<T[]> Sown;
  std::unique_lock<std::mutex> cache_lock;
  T* Sm = nullptr;
  if (stored) {
    // Up to 512 MiB stay cached between calls (page faults of a fresh buffer cost ~10%); a
    // concurrent call, or a larger matrix, gets its own buffer. Uninitialised on purpose: every
    // entry read below is written first.
    const size_t need = (size_t)(Mp * Mp);
    SCache<T>& cache = s_cache<T>();
    if (need * sizeof(T) <= ((size_t)512 << 20)) cache_lock = std::unique_lock<std::mutex>(cache.mu, std::try_to_lock);
    if (cache_lock.owns_lock()) {
      if (cache.n < need) {
        cache.buf.reset();
        cache.n = 0;  // stays consistent if the allocation below throws
        cache.buf.reset(new T[need]);
        cache.n = need;
      }
      Sm = cache.buf.get();
    } else {
      Sown.reset(new T[need]);
      Sm = Sown.get();
    }
    const int64_t nt = (Mp + CB - 1) / CB;
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (int64_t I = 0; I < nt; ++I)
      for (int64_t J = I; J < nt; ++J) pairs.emplace_back(I, J);
    comix::parallel_for((int64_t)pairs.size(), 1, nthreads, [&](int64_t u0, int64_t u1, int) {
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t r0 = pairs[(size_t)u].first * CB, c0 = pairs[(size_t)u].second * CB;
        const int64_t rw = std::min<int64_t>(CB, Mp - r0), cw = std::min<int64_t>(CB, Mp - c0);
        for (int64_t i = r0; i < r0 + rw; i += kRows) {
          for (int64_t jb = 0; jb < cw / NB; ++jb)
            micro<T>(Z + i * Dp, Dp, Zt + (c0 / NB + jb) * D * NB, NB, D, Sm + i * Mp + c0 + jb * NB, Mp);
          for (int64_t r = i; r < i + kRows; ++r)
            for (int64_t j = c0; j < c0 + cw; ++j) Sm[r * Mp + j] = (T)(Sm[r * Mp + j] * (T)inv_tau);
        }
      }
    });
    comix::parallel_for((int64_t)pairs.size(), 1, nthreads, [&](int64_t u0, int64_t u1, int) {
      for (int64_t u = u0; u < u1; ++u) {
        if (pairs[(size_t)u].first == pairs[(size_t)u].second) continue;
        const int64_t r0 = pairs[(size_t)u].first * CB, c0 = pairs[(size_t)u].second * CB;
        const int64_t rw = std::min<int64_t>(CB, Mp - r0), cw = std::min<int64_t>(CB, Mp - c0);
        for (int64_t jj = c0; jj < c0 + cw; jj += 16)  // 16 x 16 blocks of the transpose
          for (int64_t ii = r0; ii < r0 + rw; ii += 16)
            for (int64_t j = jj; j < std::min(jj + 16, c0 + cw); ++j)
              for (int64_t i = ii; i < std::min(ii + 16, r0 + rw); ++i) Sm[j * Mp + i] = Sm[i * Mp + j];
      }
    });
  }
  // The scaled similarity tile rows i0..i0+7, columns j0..j0+wp-1: in the stored matrix (row
  // stride Mp; pass 2 overwrites its own rows with W, no other thread reads them), or computed
  // into `tile` (row stride CB).
  auto sim_tile = [&](int64_t i0, int64_t j0, int64_t wp, T* tile) -> std::pair<T*, int64_t> {
    if (stored) return {Sm + i0 * Mp + j0, Mp};
    for (int64_t jb = 0; jb < wp / NB; ++jb)
      micro<T>(Z + i0 * Dp, Dp, Zt + (j0 / NB + jb) * D * NB, NB, D, tile + jb * NB, CB);
    for (int i = 0; i < kRows; ++i)
      for (int64_t j = 0; j < wp; ++j) tile[i * CB + j] = (T)(tile[i * CB + j] * (T)inv_tau);
    return {tile, CB};
  };

  // ---- 2. pass 1: row statistics ----
  comix::parallel_for(nblocks, 1, nthreads, [&](int64_t b0, int64_t b1, int) {
    std::vector<T> S((size_t)(kRows * CB));
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * kRows;
      if (i0 >= M) break;
      double m[kRows], l[kRows];
      for (int i = 0; i < kRows; ++i) { m[i] = -std::numeric_limits<double>::infinity(); l[i] = 0.0; }
      for (int64_t t = 0; t < ntiles; ++t) {
        const int64_t j0 = t * CB, w = std::min<int64_t>(CB, M - j0);
        const int64_t wp = (w + NB - 1) / NB * NB;
        const auto st = sim_tile(i0, j0, wp, S.data());
        for (int i = 0; i < kRows && i0 + i < M; ++i) {
          const T* s = st.first + i * st.second;
          const int64_t self = i0 + i - j0;
          // lane-wise max and sum (16 independent lanes vectorise without -ffast-math); the
          // anchor itself is not in the denominator
          constexpr int kL = 16;
          T lane[kL];
          for (int q = 0; q < kL; ++q) lane[q] = -std::numeric_limits<T>::infinity();
          const int64_t wv = w / kL * kL;
          for (int64_t j0 = 0; j0 < wv; j0 += kL)
            for (int q = 0; q < kL; ++q) {
              const T v = j0 + q == self ? -std::numeric_limits<T>::infinity() : s[j0 + q];
              lane[q] = v > lane[q] ? v : lane[q];
            }
          T mx = -std::numeric_limits<T>::infinity();
          for (int64_t j = wv; j < w; ++j) {
            const T v = j == self ? -std::numeric_limits<T>::infinity() : s[j];
            mx = v > mx ? v : mx;
          }
          for (int q = 0; q < kL; ++q) mx = lane[q] > mx ? lane[q] : mx;
          if (mx == -std::numeric_limits<T>::infinity()) continue;  // only the anchor itself
          if ((double)mx > m[i]) {
            l[i] = m[i] == -std::numeric_limits<double>::infinity() ? 0.0 : l[i] * std::exp(m[i] - (double)mx);
            m[i] = (double)mx;
          }
          const T mt = (T)m[i];
          for (int q = 0; q < kL; ++q) lane[q] = T(0);
          for (int64_t j0 = 0; j0 < wv; j0 += kL)
            for (int q = 0; q < kL; ++q) lane[q] += j0 + q == self ? T(0) : exp_neg((T)(s[j0 + q] - mt));
          T acc = 0;
          for (int64_t j = wv; j < w; ++j) acc += j == self ? T(0) : exp_neg((T)(s[j] - mt));
          for (int q = 0; q < kL; ++q) acc += lane[q];
          l[i] += (double)acc;
        }
      }
      for (int i = 0; i < kRows && i0 + i < M; ++i) {
        const int64_t a = i0 + i;
        const int64_t npos = gcount[(size_t)group[(size_t)a]] - 1;  // rows of the label, minus the anchor
        if (npos <= 0 || !(l[i] > 0.0)) continue;
        const T* z = Z + a * Dp;
        const double* gs = gsum.data() + (int64_t)group[(size_t)a] * D;
        double possum = 0.0;
        for (int64_t d = 0; d < D; ++d) possum += (double)z[d] * (gs[d] - (double)z[d]);
        possum *= inv_tau;
        lse[(size_t)a] = m[i] + std::log(l[i]);
        inv_npos[(size_t)a] = 1.0 / (double)npos;
        rowloss[(size_t)a] = lse[(size_t)a] - possum / (double)npos;
        lse_t[(size_t)a] = (T)lse[(size_t)a];
        valid_t[(size_t)a] = T(1);
      }
    }
  });

  int64_t A = 0;
  double total = 0.0;
  for (int64_t a = 0; a < M; ++a)
    if (valid_t[(size_t)a] != T(0)) { ++A; total += rowloss[(size_t)a]; }
  const double factor = P.tau / P.tau_b;
  *loss_out = A > 0 ? factor * total / (double)A : 0.0;
  if (!P.grad) return COMIX_OK;
  if (A == 0) {
    if (accumulate) return COMIX_OK;
    write_zero_grad();
    return COMIX_OK;
  }
  const double cg = factor / (double)A * inv_tau * P.gscale;  // c/tau times the caller's scale
  if (!accumulate && M < Mall) write_zero_grad();  // masked rows get 0; active rows below

  // ---- 3. pass 2: gradient ----
  comix::parallel_for(nblocks, 1, nthreads, [&](int64_t b0, int64_t b1, int) {
    std::vector<T> S((size_t)(kRows * CB)), tmp((size_t)(kRows * Dp));
    std::vector<double> acc((size_t)(kRows * Dp));
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * kRows;
      if (i0 >= M) break;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = 0; t < ntiles; ++t) {
        const int64_t j0 = t * CB, w = std::min<int64_t>(CB, M - j0);
        const int64_t wp = (w + NB - 1) / NB * NB;
        const auto st = sim_tile(i0, j0, wp, S.data());
        for (int i = 0; i < kRows; ++i) {
          T* s = st.first + i * st.second;
          const int64_t a = i0 + i;
          if (a >= M) { std::fill(s, s + wp, T(0)); continue; }
          const T la = lse_t[(size_t)a], va = valid_t[(size_t)a];
          const T* lk = lse_t.data() + j0;
          const T* vk = valid_t.data() + j0;
          for (int64_t j = 0; j < w; ++j) {
            const T x = s[j];
            s[j] = va * exp_neg((T)(x - la)) + vk[j] * exp_neg((T)(x - lk[j]));
          }
          for (int64_t j = w; j < wp; ++j) s[j] = T(0);
          const int64_t self = a - j0;
          if (self >= 0 && self < w) s[self] = T(0);
        }
        // W rows at the stored matrix's stride (Mp, a large power of two) would alias in L1 over
        // the Dp/NB passes below: give the micro-kernel a compact copy (row stride CB).
        const T* wt = st.first;
        if (st.second != CB) {
          for (int i = 0; i < kRows; ++i) std::memcpy(S.data() + i * CB, st.first + i * st.second, (size_t)wp * sizeof(T));
          wt = S.data();
        }
        for (int64_t d0 = 0; d0 < Dp; d0 += NB)
          micro<T>(wt, CB, Zg + ((t * nch + d0 / NB) * CB) * NB, NB, wp, tmp.data() + d0, Dp);
        for (int64_t e = 0; e < kRows * Dp; ++e) acc[(size_t)e] += (double)tmp[(size_t)e];
      }
      for (int i = 0; i < kRows && i0 + i < M; ++i) {
        const int64_t a = i0 + i;
        const T* z = Z + a * Dp;
        const double* gs = gsum.data() + (int64_t)group[(size_t)a] * D;
        double* dz = acc.data() + i * Dp;  // sum_k W_ak z_k, turned into dL/dz_a in place
        const double ip2 = 2.0 * inv_npos[(size_t)a];
        double dot = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          dz[d] = cg * (dz[d] - ip2 * (gs[d] - (double)z[d]));
          dot += dz[d] * (double)z[d];
        }
        T* out = P.grad + comix::supcon_row_offset(rows[(size_t)a], N, V, D, vmajor);
        const double inv = invnorm[(size_t)a];
        const bool cl = clamped[(size_t)a] != 0;
        for (int64_t d = 0; d < D; ++d) {
          double g = dz[d];
          if (normalize) g = cl ? g * inv : (g - (double)z[d] * dot) * inv;
          out[d] = accumulate ? (T)((double)out[d] + g) : (T)g;
        }
      }
    }
  });
  return COMIX_OK;
}
