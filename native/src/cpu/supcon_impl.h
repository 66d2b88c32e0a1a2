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

// One micro-tile: C[8][kNV*L] (+)= A(i, k) * B[k*NB + v*L] over k < K, where B is a contiguous
// K x NB panel and A(i, k) = A[k*AKS + i*ais] with ais = AIS, or the run-time `ais` when AIS is 0
// (AKS 8 for a k-major packed copy; NB when A is read from the Z^T panels; 1 for rows of A).
// LOADC adds to C instead of overwriting it (float adds in the same order as one long K, so
// slicing K changes no bit).
template <class T, int AKS, int AIS, bool LOADC>
COMIX_ALWAYS_INLINE void micro_p(const T* A, int64_t ais, const T* B, int64_t K, T* C, int64_t ldc) {
  const int64_t is = AIS > 0 ? (int64_t)AIS : ais;
  typedef typename VecOf<T>::type V;
  constexpr int L = (int)(sizeof(V) / sizeof(T));
  constexpr int64_t NBc = kNV * L;
  V c[kRows][kNV];
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) {
      if (LOADC) std::memcpy(&c[i][v], C + i * ldc + v * L, sizeof(V));
      else c[i][v] = V{};
    }
  for (int64_t k = 0; k < K; ++k) {
    V b[kNV];
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) std::memcpy(&b[v], B + k * NBc + v * L, sizeof(V));
#pragma GCC unroll 8
    for (int i = 0; i < kRows; ++i) {
      const T a = A[k * AKS + i * is];
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) c[i][v] += a * b[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) std::memcpy(C + i * ldc + v * L, &c[i][v], sizeof(V));
}

// zt[d * NB + j] = zp[j * ldz + d] for j < NB, d < D: an NB-row panel of Z turned k-major. Float:
// 16 x 16 blocks transposed in registers by four perfect shuffles (row i with row i + 8; each
// rotates the (row, column) bit string by one, four give the transpose): 16 loads, 64 shuffles
// and 16 stores per block instead of 256 element loads and stores; the rest (and double) by 16-wide blocks that stay in L1.
template <class T, int64_t NB>
COMIX_ALWAYS_INLINE void transpose_panel(const T* zp, int64_t ldz, int64_t D, T* zt) {
  int64_t dv = 0;
  if constexpr (sizeof(T) == 4 && NB % 16 == 0) {
    dv = D / 16 * 16;
    for (int64_t j0 = 0; j0 < NB; j0 += 16)
      for (int64_t d0 = 0; d0 < dv; d0 += 16) {
        vf16 r[16];
        for (int i = 0; i < 16; ++i) std::memcpy(&r[i], zp + (j0 + i) * ldz + d0, sizeof(vf16));
        for (int step = 0; step < 4; ++step) {
          vf16 t[16];
          for (int i = 0; i < 8; ++i) {
            t[2 * i] = __builtin_shufflevector(r[i], r[i + 8], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            t[2 * i + 1] = __builtin_shufflevector(r[i], r[i + 8], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
          }
          for (int i = 0; i < 16; ++i) r[i] = t[i];
        }
        for (int i = 0; i < 16; ++i) std::memcpy(zt + (d0 + i) * NB + j0, &r[i], sizeof(vf16));
      }
  }
  for (int64_t d0 = dv; d0 < D; d0 += 16) {
    const int64_t dn = D - d0 < 16 ? D - d0 : 16;
    for (int64_t j = 0; j < NB; ++j)
      for (int64_t dd = 0; dd < dn; ++dd) zt[(d0 + dd) * NB + j] = zp[j * ldz + d0 + dd];
  }
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


// 64-byte aligned arrays: new T[] of a large size returns memory 16 bytes past a page boundary,
// so every 64-byte vector load of a panel straddled two cache lines.
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using ABuf = std::unique_ptr<T[], FreeDeleter>;
template <class T>
ABuf<T> abuf(size_t n) {
  const size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes > 0 ? bytes : 64);
  if (!p) throw std::bad_alloc();
  return ABuf<T>(static_cast<T*>(p));
}

template <class T>
struct SCache {
  std::mutex mu;
  ABuf<T> buf;
  size_t n = 0;
};
// Reusable work buffers (slot 0: S; 2: Zt panels; 3: Zg panels; 4: per-label sums). A fresh
// multi-MB buffer per call was page-faulted in (and, as a std::vector, zeroed) every time (~5-10%
// of a 1024 x 2 x 512 call); a cached one is uninitialised and every entry read is written first.
// A concurrent call, or a buffer over the slot's cap (512 MiB for S, else 256 MiB), gets its own.
// The process keeps each slot (per element type and instruction set) for its lifetime.
template <class T, int SLOT>
SCache<T>& slot_cache() {
  static SCache<T> c;
  return c;
}

template <class T, int SLOT>
T* work_buffer(size_t n, std::unique_lock<std::mutex>& lock, ABuf<T>& own) {
  SCache<T>& c = slot_cache<T, SLOT>();
  const size_t cap = (size_t)(SLOT == 0 ? 512 : 256) << 20;
  if (n * sizeof(T) <= cap) lock = std::unique_lock<std::mutex>(c.mu, std::try_to_lock);
  if (lock.owns_lock()) {
    if (c.n < n) {
      c.buf.reset();
      c.n = 0;  // stays consistent if the allocation below throws
      c.buf = abuf<T>(n);
      c.n = n;
    }
    return c.buf.get();
  }
  own = abuf<T>(n);
  return own.get();
}

template <class T>
int supcon_run(const Problem<T>& P, double* loss_out, int threads) {
  typedef typename VecOf<T>::type Vt;
  constexpr int64_t NB = kNV * (int64_t)(sizeof(Vt) / sizeof(T));  // micro-tile columns
  constexpr int64_t CB = 8 * NB;                                  // columns per tile
  constexpr int64_t KC = 512;  // features per slice of an S tile's product (a KC x NB panel of Z^T, 64 KiB float)
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
  std::unique_lock<std::mutex> ztlock, zglock;
  ABuf<T> ztown, zgown;
  // Z: the active rows (normalised if asked), zero-padded to Mp x Dp, is kept only in two packed
  // copies for the micro-kernel:
  //   Zt[(jb*D + d)*NB + j] = Z[jb*NB + j][d]: NB-row panels of Z^T (the S tiles' operands);
  //   Zg[((t * Dp/NB + c) * CB + k) * NB + q] = Z[t*CB + k][c*NB + q]: for column tile t and feature
  //   chunk c the contiguous CB x NB block the gradient product streams (Z itself has a
  //   power-of-two row stride for common D, and walking its rows at that stride thrashes a few
  //   L1 sets); rows past Mp are zeros.
  // One task per NB-row panel writes both from its rows while they are hot; rows are read back
  // from Zg (zrows below), so no row-major copy of Z is written.
  const int64_t ntp = (Mp + CB - 1) / CB, nch = Dp / NB;
  T* const Zt = work_buffer<T, 2>((size_t)(Mp * D), ztlock, ztown);
  T* const Zg = work_buffer<T, 3>((size_t)(ntp * nch * CB * NB), zglock, zgown);
  std::vector<double> invnorm((size_t)M, 1.0);
  std::vector<uint8_t> clamped((size_t)M, 0);
  comix::parallel_for(ntp * CB / NB, 1, nthreads, [&](int64_t b0, int64_t b1, int) {
    ABuf<T> Z = abuf<T>((size_t)(NB * Dp));  // the panel's rows
    for (int64_t jb = b0; jb < b1; ++jb) {
      for (int64_t i = jb * NB; i < (jb + 1) * NB; ++i) {
        const int64_t t = i / CB, k = i % CB;
        if (i >= Mp) {
          for (int64_t c = 0; c < nch; ++c) std::fill_n(Zg + ((t * nch + c) * CB + k) * NB, NB, T(0));
          continue;
        }
        T* dst = Z.get() + (i - jb * NB) * Dp;
        if (i >= M) {
          std::fill(dst, dst + Dp, T(0));
        } else {
          const T* src = P.x + comix::supcon_row_offset(rows[(size_t)i], N, V, D, vmajor);
          if (normalize) {
            double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 chains, not one latency-bound one
            int64_t d = 0;
            for (; d + 8 <= D; d += 8)
              for (int q = 0; q < 8; ++q) lane[q] += (double)src[d + q] * (double)src[d + q];
            for (; d < D; ++d) lane[0] += (double)src[d] * (double)src[d];
            const double nrm =
                std::sqrt(((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])));
            const double den = nrm > 1e-12 ? nrm : 1e-12;
            clamped[(size_t)i] = !(nrm > 1e-12);
            invnorm[(size_t)i] = 1.0 / den;
            const double inv = 1.0 / den;  // one rounding more than a division, far below float's
            for (d = 0; d < D; ++d) dst[d] = (T)((double)src[d] * inv);
          } else {
            for (int64_t d = 0; d < D; ++d) dst[d] = src[d];
          }
          std::fill(dst + D, dst + Dp, T(0));
        }
        for (int64_t c = 0; c < nch; ++c)
          std::memcpy(Zg + ((t * nch + c) * CB + k) * NB, dst + c * NB, (size_t)NB * sizeof(T));
      }
      if (jb * NB >= Mp) continue;
      transpose_panel<T, NB>(Z.get(), Dp, D, Zt + jb * D * NB);
    }
  });
  // features c*NB .. c*NB+NB-1 of row a of Z, in Zg
  auto zchunk = [&](int64_t a, int64_t c) -> const T* { return Zg + (((a / CB) * nch + c) * CB + a % CB) * NB; };
  // rows a0 .. a0+n-1 of Z, read back from Zg into out (row stride Dp); chunk-major, so rows of
  // one tile are read as contiguous runs of Zg
  auto zrows = [&](int64_t a0, int64_t n, T* out) {
    for (int64_t c = 0; c < nch; ++c)
      for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * Dp + c * NB, zchunk(a0 + i, c), (size_t)NB * sizeof(T));
  };
  // The members of each label, in index order.
  std::vector<int64_t> gstart((size_t)G + 1, 0), gmem((size_t)M);
  int64_t gmax = 0;
  for (int64_t g = 0; g < G; ++g) {
    gstart[(size_t)g + 1] = gstart[(size_t)g] + gcount[(size_t)g];
    gmax = std::max<int64_t>(gmax, gcount[(size_t)g]);
  }
  {
    std::vector<int64_t> fill(gstart.begin(), gstart.end() - 1);
    for (int64_t i = 0; i < M; ++i) gmem[(size_t)fill[(size_t)group[(size_t)i]]++] = i;
  }
  // The positives' feature sum of an anchor, sum over the other rows p of its label of z_p, is
  // needed once per anchor for the gradient and, when S is not stored or labels are large, once
  // for the loss (small labels with S stored take the loss's part from the S tiles: pps). Labels of at most kSmallLabel
  // rows (NT-Xent's pairs, CoMix's BGM pairs) have it summed from those rows when needed; larger
  // ones read it from per-label sums gsum[g * D + d] (float64, the label's rows added in index
  // order, each entry written once into a cached buffer) minus the anchor. For 1024 x 2 x 512 the
  // table (4 MB written, then read twice) cost ~1 ms of a ~36 ms call.
  constexpr int64_t kSmallLabel = 8;
  const bool small_labels = gmax <= kSmallLabel;
  std::unique_lock<std::mutex> gslock;
  ABuf<double> gsown;
  double* const gsum = small_labels ? nullptr : work_buffer<double, 4>((size_t)(G * D), gslock, gsown);
  if (!small_labels) {
    comix::parallel_for(nch, 1, nthreads, [&](int64_t c0, int64_t c1, int) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t d0 = c * NB, w = std::min<int64_t>(NB, D - d0);
        for (int64_t g = 0; g < G; ++g) {
          double acc[NB];
          for (int64_t q = 0; q < NB; ++q) acc[q] = 0.0;
          for (int64_t m = gstart[(size_t)g]; m < gstart[(size_t)g + 1]; ++m) {
            const T* z = zchunk(gmem[(size_t)m], c);
            for (int64_t q = 0; q < NB; ++q) acc[q] += (double)z[q];
          }
          std::memcpy(gsum + g * D + d0, acc, (size_t)w * sizeof(double));
        }
      }
    });
  }
  // pos[d] = sum over the other rows p of anchor a's label of z_p[d] for d < D (float64); z is row a
  auto positives = [&](int64_t a, const T* z, double* pos) {
    const int64_t g = group[(size_t)a];
    if (!small_labels) {
      const double* gs = gsum + g * D;
      for (int64_t d = 0; d < D; ++d) pos[d] = gs[d] - (double)z[d];
      return;
    }
    for (int64_t d = 0; d < D; ++d) pos[d] = 0.0;
    for (int64_t m = gstart[(size_t)g]; m < gstart[(size_t)g + 1]; ++m) {
      const int64_t b = gmem[(size_t)m];
      if (b == a) continue;
      for (int64_t c = 0; c < nch; ++c) {
        const T* zc = zchunk(b, c);
        const int64_t w = std::min<int64_t>(NB, D - c * NB);
        for (int64_t q = 0; q < w; ++q) pos[c * NB + q] += (double)zc[q];
      }
    }
  };
  const double inv_tau = 1.0 / P.tau;

  std::vector<double> lse((size_t)Mp, 0.0), inv_npos((size_t)M, 0.0), rowloss((size_t)M, 0.0);
  std::vector<T> lse_t((size_t)Mp, T(0)), valid_t((size_t)Mp, T(0));
  const int64_t nblocks = Mp / kRows;
  const int64_t ntiles = (M + CB - 1) / CB;

  // An anchor's statistics: lse, 1/|P(a)| and the row loss, from its max m and sum l of exp(s - m)
  // over k != a and the sum of s_ap over its positives; anchors without positives (or only
  // themselves) stay invalid.
  // The positives' sum from z (row a of Z); pos (Dp float64) scratch:
  auto pos_sim = [&](int64_t a, const T* z, double* pos) {
    positives(a, z, pos);
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 chains, not one latency-bound one
    int64_t d = 0;
    for (; d + 8 <= D; d += 8)
      for (int q = 0; q < 8; ++q) lane[q] += (double)z[d + q] * pos[d + q];
    for (; d < D; ++d) lane[0] += (double)z[d] * pos[d];
    return (((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]))) * inv_tau;
  };
  // whether anchor a has a positive and a finite denominator (m, l: its max and sum of exp(s - m))
  auto anchor_valid = [&](int64_t a, double l) { return gcount[(size_t)group[(size_t)a]] > 1 && l > 0.0; };
  // the statistics of a valid anchor a from m, l and possum = sum over its positives of s_ap
  auto row_stats = [&](int64_t a, double m, double l, double possum) {
    const int64_t npos = gcount[(size_t)group[(size_t)a]] - 1;  // rows of the label, minus the anchor
    lse[(size_t)a] = m + std::log(l);
    inv_npos[(size_t)a] = 1.0 / (double)npos;
    rowloss[(size_t)a] = lse[(size_t)a] - possum / (double)npos;
    lse_t[(size_t)a] = (T)lse[(size_t)a];
    valid_t[(size_t)a] = T(1);
  };
  // The loss; false when no gradient is to be written (none asked, or no valid anchor).
  double cg = 0.0;
  auto finish_loss = [&]() -> bool {
    int64_t A = 0;
    double total = 0.0;
    for (int64_t a = 0; a < M; ++a)
      if (valid_t[(size_t)a] != T(0)) { ++A; total += rowloss[(size_t)a]; }
    const double factor = P.tau / P.tau_b;
    *loss_out = A > 0 ? factor * total / (double)A : 0.0;
    if (!P.grad) return false;
    if (A == 0) {
      if (!accumulate) write_zero_grad();
      return false;
    }
    cg = factor / (double)A * inv_tau * P.gscale;  // c/tau times the caller's scale
    if (!accumulate && M < Mall) write_zero_grad();  // masked rows get 0; active rows below
    return true;
  };
  // dz = sum_k W_ak z_k for anchor a (float64, row of Dp), turned into dL/dz_a and written out
  // z: row a of Z; pos (Dp float64) scratch
  auto write_grad_row = [&](int64_t a, double* dz, const T* z, double* pos) {
    const double ip2 = 2.0 * inv_npos[(size_t)a];
    if (ip2 != 0.0) positives(a, z, pos);
    else std::fill(pos, pos + D, 0.0);  // no positives (or an invalid anchor): the term is 0
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t d = 0;
    for (; d + 8 <= D; d += 8)
      for (int q = 0; q < 8; ++q) {
        dz[d + q] = cg * (dz[d + q] - ip2 * pos[d + q]);
        lane[q] += dz[d + q] * (double)z[d + q];
      }
    for (; d < D; ++d) {
      dz[d] = cg * (dz[d] - ip2 * pos[d]);
      lane[0] += dz[d] * (double)z[d];
    }
    const double dot = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    T* out = P.grad + comix::supcon_row_offset(rows[(size_t)a], N, V, D, vmajor);
    const double inv = invnorm[(size_t)a];
    const bool cl = clamped[(size_t)a] != 0;
    for (int64_t d = 0; d < D; ++d) {
      double g = dz[d];
      if (normalize) g = cl ? g * inv : (g - (double)z[d] * dot) * inv;
      out[d] = accumulate ? (T)((double)out[d] + g) : (T)g;
    }
  };
  // Max and sum of exp(s - max) of one row segment, skipping index `self` (lanes vectorise
  // without -ffast-math); max -inf and sum 0 when nothing is left.
  auto seg_stats = [](const T* s, int64_t w, int64_t self, T& mx_out, T& sum_out) {
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
    mx_out = mx;
    sum_out = T(0);
    if (mx == -std::numeric_limits<T>::infinity()) return;
    for (int q = 0; q < kL; ++q) lane[q] = T(0);
    for (int64_t j0 = 0; j0 < wv; j0 += kL)
      for (int q = 0; q < kL; ++q) lane[q] += j0 + q == self ? T(0) : exp_neg((T)(s[j0 + q] - mx));
    T acc = 0;
    for (int64_t j = wv; j < w; ++j) acc += j == self ? T(0) : exp_neg((T)(s[j] - mx));
    for (int q = 0; q < kL; ++q) acc += lane[q];
    sum_out = acc;
  };

  // ---- 1b. small enough: S = Z Z^T / tau is stored, upper tiles only ----
  // Otherwise passes 2 and 3 below recompute their tiles. The limit can be lowered with
  // COMIX_SUPCON_CPU_MAX_S_BYTES (tests use it).
  int64_t max_s_bytes = (int64_t)1 << 31;
  if (const char* env = std::getenv("COMIX_SUPCON_CPU_MAX_S_BYTES")) max_s_bytes = std::atoll(env);
  const int64_t nt = (Mp + CB - 1) / CB;
  constexpr int64_t TS = CB * CB;  // one CB x CB tile, stored contiguously
  const bool stored = nt * nt * TS * (int64_t)sizeof(T) <= max_s_bytes;
  if (stored) {
    // S tile-major: tile (I, J) is the contiguous CB x CB block at tile(I, J). Passes 2s and 3s
    // fill the upper tiles (I <= J) row-major; pass 3s also writes each lower tile (J, I) as
    // the transpose of W's upper one, packed for the gradient's micro-kernel.
    std::unique_lock<std::mutex> slock;
    ABuf<T> sown;
    T* const Sm = work_buffer<T, 0>((size_t)(nt * nt * TS), slock, sown);
    auto tile = [Sm, nt](int64_t I, int64_t J) { return Sm + (I * nt + J) * TS; };
    const int nw = comix::resolve_threads(nthreads);
    // tile pairs, the full off-diagonal ones first (the diagonal ones cost about half), taken
    // by whichever worker is free
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (int64_t I = 0; I < nt; ++I)
      for (int64_t J = I + 1; J < nt; ++J) pairs.emplace_back(I, J);
    for (int64_t I = 0; I < nt; ++I) pairs.emplace_back(I, I);
    const int64_t npairs = (int64_t)pairs.size();

    // ---- 2s. S tiles and their row statistics, both ways ----
    // pm/pl[a * nt + t]: max and sum of exp(s - max) of anchor a's similarities to column tile t
    // (for an upper tile (I, J) its rows give row tile I's entries for t = J and its columns give
    // row tile J's entries for t = I).
    std::vector<double> pm((size_t)(M * nt), -std::numeric_limits<double>::infinity()), pl((size_t)(M * nt), 0.0);
    // per upper tile: 1 when it holds e = exp(s - shift[I * nt + J]) instead of s (see below)
    std::vector<uint8_t> holds_e((size_t)(nt * nt), 0);
    // small labels: pps[a * nt + t] = sum of s_ap over a's positives p in column tile t, read from
    // each S tile while it holds s (so the loss needs no row of Z)
    std::vector<double> pps(small_labels ? (size_t)(M * nt) : 0, 0.0);
    auto collect_pos = [&](const T* tb, int64_t I, int64_t J, int64_t mr, int64_t mc) {
      const int64_t r0 = I * CB, c0 = J * CB;
      for (int64_t i = 0; i < mr; ++i) {  // rows of tile I against columns of tile J
        const int64_t a = r0 + i, g = group[(size_t)a];
        double acc = 0.0;
        for (int64_t q = gstart[(size_t)g]; q < gstart[(size_t)g + 1]; ++q) {
          const int64_t p = gmem[(size_t)q];
          if (p != a && p >= c0 && p < c0 + mc) acc += (double)tb[i * CB + (p - c0)];
        }
        pps[(size_t)(a * nt + J)] = acc;
      }
      if (I == J) return;
      for (int64_t j = 0; j < mc; ++j) {  // columns of tile J against rows of tile I
        const int64_t b = c0 + j, g = group[(size_t)b];
        double acc = 0.0;
        for (int64_t q = gstart[(size_t)g]; q < gstart[(size_t)g + 1]; ++q) {
          const int64_t p = gmem[(size_t)q];
          if (p >= r0 && p < r0 + mr) acc += (double)tb[(p - r0) * CB + j];
        }
        pps[(size_t)(b * nt + I)] = acc;
      }
    };
    std::vector<T> shift((size_t)(nt * nt), T(0));
    {
      std::atomic<int64_t> next{0};
      comix::parallel_for(nw, 1, nw, [&](int64_t, int64_t, int) {
        std::vector<T> cmax((size_t)CB), csum((size_t)CB), rmax((size_t)CB);
        for (int64_t u; (u = next.fetch_add(1)) < npairs;) {
          const int64_t I = pairs[(size_t)u].first, J = pairs[(size_t)u].second;
          const int64_t r0 = I * CB, c0 = J * CB;
          const int64_t rw = std::min<int64_t>(CB, Mp - r0), cw = std::min<int64_t>(CB, Mp - c0);
          const bool diag = I == J;
          T* const tb = tile(I, J);
          // tb = Z[rows] Z[cols]^T in slices of KC features (one slice up to D = 512: measured
          // ~0.6 ms faster at 1024 x 2 x 512 than 128-feature slices that keep the panel in L1)
          for (int64_t k0 = 0; k0 < D; k0 += KC) {
            const int64_t kc = std::min<int64_t>(KC, D - k0);
            for (int64_t jb = 0; jb < cw / NB; ++jb) {
              const T* B = Zt + ((c0 / NB + jb) * D + k0) * NB;
              for (int64_t g = 0; g < rw / kRows; ++g) {
                if (diag && (jb + 1) * NB <= g * kRows) continue;  // below the diagonal: mirrored
                const int64_t r = r0 + g * kRows;
                T* C = tb + g * kRows * CB + jb * NB;
                const T* Ap = Zt + ((r / NB) * D + k0) * NB + r % NB;
                if (k0 == 0) micro_p<T, NB, 1, false>(Ap, 0, B, kc, C, CB);
                else micro_p<T, NB, 1, true>(Ap, 0, B, kc, C, CB);
              }
            }
          }
          if (diag)  // bit-identical to computing them: the same products in the same order
            for (int64_t i = 1; i < rw; ++i)
              for (int64_t j = 0; j < i; ++j) tb[(size_t)(i * CB + j)] = tb[(size_t)(j * CB + i)];
          const T sc = (T)inv_tau;
          const int64_t mr = std::min<int64_t>(rw, M - r0), mc = std::min<int64_t>(cw, M - c0);
          constexpr int kL = 16;
          const T ninf = -std::numeric_limits<T>::infinity();
          if (!diag && mr > 0 && mc > 0) {
            // One pass scales the tile, stores it, and takes its rows' and columns' maxima. When
            // every row and column maximum is within 50 of the tile's, exp(s - tile max) serves
            // both statistics (one exponential per entry: each row's and column's largest term is
            // then >= e^-50, well inside the float range, and the entries exp_neg clamps at e^-87
            // add at most 256 e^-87 to a sum >= e^-50); else each row and column is shifted by
            // its own maximum (two exponentials per entry).
            for (int64_t j = 0; j < mc; ++j) cmax[(size_t)j] = ninf;
            const int64_t wv = mc / kL * kL;
            T tmax = ninf, tmin = std::numeric_limits<T>::infinity();
            for (int64_t i = 0; i < rw; ++i) {
              T* row = tb + i * CB;
              for (int64_t j = 0; j < cw; ++j) row[j] = (T)(row[j] * sc);
              if (i >= mr) continue;
              // explicit vectors: as plain loops the column maxima might alias the row, and the
              // loop compiled to scalar code (max is exact, so the lane order changes nothing)
              constexpr int64_t LV = (int64_t)(sizeof(Vt) / sizeof(T));
              const int64_t wl = mc / LV * LV;
              Vt lv = Vt{} + ninf;
              for (int64_t j0 = 0; j0 < wl; j0 += LV) {
                Vt v, c;
                std::memcpy(&v, row + j0, sizeof(Vt));
                std::memcpy(&c, cmax.data() + j0, sizeof(Vt));
                lv = v > lv ? v : lv;
                c = v > c ? v : c;
                std::memcpy(cmax.data() + j0, &c, sizeof(Vt));
              }
              T mx = ninf;
              for (int64_t j = wl; j < mc; ++j) {
                mx = row[j] > mx ? row[j] : mx;
                cmax[(size_t)j] = row[j] > cmax[(size_t)j] ? row[j] : cmax[(size_t)j];
              }
              for (int64_t q = 0; q < LV; ++q) mx = lv[q] > mx ? lv[q] : mx;
              rmax[(size_t)i] = mx;
              tmax = mx > tmax ? mx : tmax;
              tmin = mx < tmin ? mx : tmin;
            }
            for (int64_t j = 0; j < mc; ++j) tmin = cmax[(size_t)j] < tmin ? cmax[(size_t)j] : tmin;
            const bool one_shift = (double)tmax - (double)tmin <= 50.0;
            if (small_labels) collect_pos(tb, I, J, mr, mc);
            for (int64_t j = 0; j < mc; ++j) csum[(size_t)j] = T(0);
            // In the one-shift case the tile keeps e = exp(s - tmax), which pass 3s turns into W
            // with a multiply (W_ak = e (exp(tmax - lse_a) + exp(tmax - lse_k))), not two
            // exponentials; rows a >= M and columns k >= M are zeroed there.
            if (one_shift) {
              holds_e[(size_t)(I * nt + J)] = 1;
              shift[(size_t)(I * nt + J)] = tmax;
            }
            for (int64_t i = 0; i < mr; ++i) {
              T* row = tb + i * CB;
              const T rm = one_shift ? tmax : rmax[(size_t)i];
              T lane[kL];
              for (int q = 0; q < kL; ++q) lane[q] = T(0);
              if (one_shift) {
                for (int64_t j0 = 0; j0 < wv; j0 += kL)
                  for (int q = 0; q < kL; ++q) {
                    const T e = exp_neg((T)(row[j0 + q] - rm));
                    lane[q] += e;
                    csum[(size_t)(j0 + q)] += e;
                    row[j0 + q] = e;
                  }
                for (int64_t j = wv; j < mc; ++j) {
                  const T e = exp_neg((T)(row[j] - rm));
                  lane[0] += e;
                  csum[(size_t)j] += e;
                  row[j] = e;
                }
              } else {
                for (int64_t j0 = 0; j0 < wv; j0 += kL)
                  for (int q = 0; q < kL; ++q) {
                    lane[q] += exp_neg((T)(row[j0 + q] - rm));
                    csum[(size_t)(j0 + q)] += exp_neg((T)(row[j0 + q] - cmax[(size_t)(j0 + q)]));
                  }
                for (int64_t j = wv; j < mc; ++j) {
                  lane[0] += exp_neg((T)(row[j] - rm));
                  csum[(size_t)j] += exp_neg((T)(row[j] - cmax[(size_t)j]));
                }
              }
              T sum = 0;
              for (int q = 0; q < kL; ++q) sum += lane[q];
              pm[(size_t)((r0 + i) * nt + J)] = (double)rm;
              pl[(size_t)((r0 + i) * nt + J)] = (double)sum;
            }
            for (int64_t j = 0; j < mc; ++j) {
              pm[(size_t)((c0 + j) * nt + I)] = (double)(one_shift ? tmax : cmax[(size_t)j]);
              pl[(size_t)((c0 + j) * nt + I)] = (double)csum[(size_t)j];
            }
          } else {  // a diagonal tile: rows only, the anchor itself left out
            for (int64_t i = 0; i < rw; ++i) {
              T* row = tb + i * CB;
              for (int64_t j = 0; j < cw; ++j) row[j] = (T)(row[j] * sc);
              if (i < mr && mc > 0) {
                T mx, sum;
                seg_stats(row, mc, diag ? i : -1, mx, sum);
                pm[(size_t)((r0 + i) * nt + J)] = (double)mx;
                pl[(size_t)((r0 + i) * nt + J)] = (double)sum;
              }
            }
            if (small_labels) collect_pos(tb, I, J, mr, mc);  // rows past M or columns past M: zeros
          }
        }
      });
    }
    comix::parallel_for(M, 64, nthreads, [&](int64_t a0, int64_t a1, int) {
      ABuf<T> zs;
      ABuf<double> pos;
      if (!small_labels) {
        zs = abuf<T>((size_t)(NB * Dp));
        pos = abuf<double>((size_t)Dp);
      }
      for (int64_t a = a0; a < a1; ++a) {
        if (!small_labels && (a - a0) % NB == 0) zrows(a, std::min<int64_t>(NB, a1 - a), zs.get());
        const double* m = pm.data() + a * nt;
        const double* l = pl.data() + a * nt;
        double ms = -std::numeric_limits<double>::infinity();
        for (int64_t t = 0; t < nt; ++t)
          if (l[t] > 0.0 && m[t] > ms) ms = m[t];
        double sum = 0.0;
        for (int64_t t = 0; t < nt; ++t)
          if (l[t] > 0.0) sum += l[t] * std::exp(m[t] - ms);
        if (!anchor_valid(a, sum)) continue;
        double possum = 0.0;
        if (small_labels)
          for (int64_t t = 0; t < nt; ++t) possum += pps[(size_t)(a * nt + t)];
        else
          possum = pos_sim(a, zs.get() + ((a - a0) % NB) * Dp, pos.get());
        row_stats(a, ms, sum, possum);
      }
    });
    if (!finish_loss()) return COMIX_OK;

    // ---- 3s. W_ak = p_ak + p_ka (p_ak = exp(s_ak - lse_a), valid anchors only) in place on the
    // upper tiles; W is symmetric, so a lower tile (J, I) is the transpose of the upper one,
    // written k-major in groups of 8 rows: tile(J, I)[(q * CB + k) * 8 + i] = W[c0 + 8q + i][r0 + k]
    // (row k of the upper tile, 8 entries at a time, while it is hot). Self and padding: 0.
    {
      std::atomic<int64_t> next{0};
      comix::parallel_for(nw, 1, nw, [&](int64_t, int64_t, int) {
        for (int64_t u; (u = next.fetch_add(1)) < npairs;) {
          const int64_t I = pairs[(size_t)u].first, J = pairs[(size_t)u].second;
          const int64_t r0 = I * CB, c0 = J * CB;
          const int64_t rw = std::min<int64_t>(CB, Mp - r0), cw = std::min<int64_t>(CB, Mp - c0);
          const int64_t mc = std::max<int64_t>(0, std::min<int64_t>(cw, M - c0));
          const T* lk = lse_t.data() + c0;
          const T* vk = valid_t.data() + c0;
          T* const tb = tile(I, J);
          T* const tl = tile(J, I);
          // a one-shift tile holds e = exp(s - sh) from pass 2s: W = e (exp(sh - lse_a) + exp(sh - lse_k)),
          // both factors <= e^50 (every row and column maximum lies within 50 of sh)
          const bool he = holds_e[(size_t)(I * nt + J)] != 0;
          const T sh = shift[(size_t)(I * nt + J)];
          T beta[CB];  // exp(sh - lse_k) of valid columns, else 0
          if (he)
            for (int64_t j = 0; j < mc; ++j) beta[j] = vk[j] != T(0) ? (T)std::exp((double)sh - (double)lk[j]) : T(0);
          for (int64_t i = 0; i < rw; ++i) {
            const int64_t a = r0 + i;
            T* s = tb + i * CB;
            if (a >= M) {
              std::fill(s, s + cw, T(0));
              if (I != J)
                for (int64_t q = 0; q < cw / kRows; ++q) std::fill(tl + (q * CB + i) * kRows, tl + (q * CB + i + 1) * kRows, T(0));
              continue;
            }
            const T la = lse_t[(size_t)a], va = valid_t[(size_t)a];
            if (he) {
              const T alpha = va != T(0) ? (T)std::exp((double)sh - (double)la) : T(0);
              for (int64_t j = 0; j < mc; ++j) s[j] = s[j] * (alpha + beta[j]);
            } else {
              for (int64_t j = 0; j < mc; ++j) {
                const T x = s[j];
                s[j] = va * exp_neg((T)(x - la)) + vk[j] * exp_neg((T)(x - lk[j]));
              }
            }
            std::fill(s + mc, s + cw, T(0));
            if (I == J) { s[i] = T(0); continue; }
            for (int64_t q = 0; q < cw / kRows; ++q)
              std::memcpy(tl + (q * CB + i) * kRows, s + q * kRows, (size_t)kRows * sizeof(T));
          }
        }
      });
    }

    // ---- 4s. dZ = W Z, blocks of MC rows: a column tile of W is read in place, row-major from an
    // upper tile or k-major from a lower one, its whole width per micro-kernel call (the B panel,
    // CB x NB of Zg, 32 KiB float, is reused by the block's row groups; 128-wide slices that kept
    // it in L1 measured ~1 ms slower at 1024 x 2 x 512); float per tile, float64 across.
    constexpr int64_t MC = 32;
    const int64_t nrb = (M + MC - 1) / MC;
    std::atomic<int64_t> next{0};
    comix::parallel_for(nw, 1, nw, [&](int64_t, int64_t, int) {
      ABuf<T> tmp = abuf<T>((size_t)(MC * Dp)), zs = abuf<T>((size_t)(MC * Dp));
      ABuf<double> pos = abuf<double>((size_t)Dp);
      ABuf<double> acc = abuf<double>((size_t)(MC * Dp));
      for (int64_t rb; (rb = next.fetch_add(1)) < nrb;) {
        const int64_t R0 = rb * MC, I = R0 / CB;
        const int64_t ng = (std::min<int64_t>(MC, M - R0) + kRows - 1) / kRows;  // groups with rows < M
        std::fill(acc.get(), acc.get() + ng * kRows * Dp, 0.0);
        for (int64_t t = 0; t < nt; ++t) {
          const int64_t kw = std::min<int64_t>(CB, M - t * CB);  // W is 0 past M
          if (kw <= 0) break;
          const T* const Wt = tile(I, t);
          const int64_t rl = R0 - I * CB;  // the block's first row within its tile
          for (int64_t c = 0; c < nch; ++c) {
            const T* B = Zg + (t * nch + c) * CB * NB;
            for (int64_t g = 0; g < ng; ++g) {
              T* C = tmp.get() + g * kRows * Dp + c * NB;
              if (t >= I)  // upper: rows of W, 8 broadcasts a CB stride apart
                micro_p<T, 1, CB, false>(Wt + (rl + g * kRows) * CB, 0, B, kw, C, Dp);
              else  // lower: packed k-major
                micro_p<T, kRows, 1, false>(Wt + (rl / kRows + g) * CB * kRows, 0, B, kw, C, Dp);
            }
          }
          for (int64_t e = 0; e < ng * kRows * Dp; ++e) acc[(size_t)e] += (double)tmp[(size_t)e];
        }
        zrows(R0, std::min<int64_t>(MC, M - R0), zs.get());
        for (int64_t i = 0; i < ng * kRows && R0 + i < M; ++i) write_grad_row(R0 + i, acc.get() + i * Dp, zs.get() + i * Dp, pos.get());
      }
    });
    return COMIX_OK;
  }

  // ---- 2. pass 1 (S too large to store): row statistics, S recomputed tile by tile ----
  auto sim_tile = [&](int64_t i0, int64_t j0, int64_t wp, T* tile) {
    for (int64_t jb = 0; jb < wp / NB; ++jb)
      micro_p<T, NB, 1, false>(Zt + (i0 / NB) * D * NB + i0 % NB, 0, Zt + (j0 / NB + jb) * D * NB, D, tile + jb * NB, CB);
    for (int i = 0; i < kRows; ++i)
      for (int64_t j = 0; j < wp; ++j) tile[i * CB + j] = (T)(tile[i * CB + j] * (T)inv_tau);
  };
  comix::parallel_for(nblocks, 1, nthreads, [&](int64_t b0, int64_t b1, int) {
    ABuf<T> S = abuf<T>((size_t)(kRows * CB)), zs = abuf<T>((size_t)(kRows * Dp));
    ABuf<double> pos = abuf<double>((size_t)Dp);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * kRows;
      if (i0 >= M) break;
      double m[kRows], l[kRows];
      for (int i = 0; i < kRows; ++i) { m[i] = -std::numeric_limits<double>::infinity(); l[i] = 0.0; }
      for (int64_t t = 0; t < ntiles; ++t) {
        const int64_t j0 = t * CB, w = std::min<int64_t>(CB, M - j0);
        const int64_t wp = (w + NB - 1) / NB * NB;
        sim_tile(i0, j0, wp, S.get());
        for (int i = 0; i < kRows && i0 + i < M; ++i) {
          T mx, sum;
          seg_stats(S.get() + i * CB, w, i0 + i - j0, mx, sum);
          if (mx == -std::numeric_limits<T>::infinity()) continue;  // only the anchor itself
          // fold the tile's (max, sum) into the running ones
          if ((double)mx > m[i]) {
            l[i] = m[i] == -std::numeric_limits<double>::infinity() ? 0.0 : l[i] * std::exp(m[i] - (double)mx);
            l[i] += (double)sum;
            m[i] = (double)mx;
          } else {
            l[i] += (double)sum * std::exp((double)mx - m[i]);
          }
        }
      }
      zrows(i0, std::min<int64_t>(kRows, M - i0), zs.get());
      for (int i = 0; i < kRows && i0 + i < M; ++i)
        if (anchor_valid(i0 + i, l[i])) row_stats(i0 + i, m[i], l[i], pos_sim(i0 + i, zs.get() + i * Dp, pos.get()));
    }
  });
  if (!finish_loss()) return COMIX_OK;

  // ---- 3. pass 2 (S too large to store): gradient, S recomputed tile by tile ----
  comix::parallel_for(nblocks, 1, nthreads, [&](int64_t b0, int64_t b1, int) {
    ABuf<T> S = abuf<T>((size_t)(kRows * CB)), tmp = abuf<T>((size_t)(kRows * Dp)), zs = abuf<T>((size_t)(kRows * Dp));
    ABuf<double> pos = abuf<double>((size_t)Dp);
    ABuf<double> acc = abuf<double>((size_t)(kRows * Dp));
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * kRows;
      if (i0 >= M) break;
      std::fill(acc.get(), acc.get() + kRows * Dp, 0.0);
      for (int64_t t = 0; t < ntiles; ++t) {
        const int64_t j0 = t * CB, w = std::min<int64_t>(CB, M - j0);
        const int64_t wp = (w + NB - 1) / NB * NB;
        T* s0 = S.get();
        sim_tile(i0, j0, wp, s0);
        for (int i = 0; i < kRows; ++i) {
          T* s = s0 + i * CB;
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
        for (int64_t d0 = 0; d0 < Dp; d0 += NB)
          micro_p<T, 1, CB, false>(s0, 0, Zg + ((t * nch + d0 / NB) * CB) * NB, wp, tmp.get() + d0, Dp);
        for (int64_t e = 0; e < kRows * Dp; ++e) acc[(size_t)e] += (double)tmp[(size_t)e];
      }
      zrows(i0, std::min<int64_t>(kRows, M - i0), zs.get());
      for (int i = 0; i < kRows && i0 + i < M; ++i) write_grad_row(i0 + i, acc.get() + i * Dp, zs.get() + i * Dp, pos.get());
    }
  });
  return COMIX_OK;
}
