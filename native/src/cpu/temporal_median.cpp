// Temporal median on the CPU (the oracle for the CUDA kernel, and fast in its own right).
//
// No sort: for a tile of E elements, the T values per element are copied into a small
// contiguous buffer (T x E bytes, L1/L2 resident) and the k-th smallest value is found by a
// bitwise binary search: 8 passes, each counting per element how many values fall under a
// candidate. The counting loop is branch-free uint8 compare-and-add across E lanes, which the
// compiler vectorises (function multi-versioning picks AVX-512BW / AVX2 / SSE2 at load time).
// Even T costs one more pass (count <= v1 and min > v1).
#include "comix/temporal_median.h"

#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "comix_math.cuh"
#include "parallel.h"

namespace {

constexpr int kTile = 128;  // elements per tile; T*kTile bytes per buffer (38 KB at T=300)

#define COMIX_INLINE inline __attribute__((always_inline))

// cnt[e] = #{t : buf[t][e] < cand[e]}, for one tile. uint8 partial counts (flushed every 255
// rows) keep the inner loop in byte lanes.
COMIX_INLINE void count_below(const uint8_t* __restrict buf, int64_t T, const uint8_t* __restrict cand,
                 uint32_t* __restrict cnt) {
  for (int e = 0; e < kTile; ++e) cnt[e] = 0;
  for (int64_t t0 = 0; t0 < T; t0 += 255) {
    int64_t t1 = t0 + 255 < T ? t0 + 255 : T;
    uint8_t acc[kTile];
    for (int e = 0; e < kTile; ++e) acc[e] = 0;
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t* __restrict row = buf + t * kTile;
      for (int e = 0; e < kTile; ++e) acc[e] += (uint8_t)(row[e] < cand[e]);
    }
    for (int e = 0; e < kTile; ++e) cnt[e] += acc[e];
  }
}

// For even T: le[e] = #{t : buf <= v}, mn[e] = min{buf > v} (255 when none).
COMIX_INLINE void count_le_min_above(const uint8_t* __restrict buf, int64_t T, const uint8_t* __restrict v,
                        uint32_t* __restrict le, uint8_t* __restrict mn) {
  for (int e = 0; e < kTile; ++e) { le[e] = 0; mn[e] = 255; }
  for (int64_t t0 = 0; t0 < T; t0 += 255) {
    int64_t t1 = t0 + 255 < T ? t0 + 255 : T;
    uint8_t acc[kTile];
    for (int e = 0; e < kTile; ++e) acc[e] = 0;
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t* __restrict row = buf + t * kTile;
      for (int e = 0; e < kTile; ++e) {
        uint8_t x = row[e];
        uint8_t above = (uint8_t)(x > v[e]);
        acc[e] += (uint8_t)(1 - above);
        uint8_t c = above ? x : (uint8_t)255;
        mn[e] = c < mn[e] ? c : mn[e];
      }
    }
    for (int e = 0; e < kTile; ++e) le[e] += acc[e];
  }
}

COMIX_INLINE void median_tile(const uint8_t* buf, int64_t T, uint8_t* result /* kTile */) {
  const int64_t k1 = comix::median_rank_lo(T), k2 = comix::median_rank_hi(T);
  const uint32_t k1u = (uint32_t)k1;  // T < 2^32 (checked by the caller): 32-bit lanes vectorise
  uint8_t prefix[kTile], cand[kTile];
  uint32_t cnt[kTile];
  std::memset(prefix, 0, sizeof prefix);
  for (int bit = 7; bit >= 0; --bit) {
    for (int e = 0; e < kTile; ++e) cand[e] = (uint8_t)(prefix[e] | (1u << bit));
    count_below(buf, T, cand, cnt);
    for (int e = 0; e < kTile; ++e) prefix[e] = comix::select_step(prefix[e], cand[e], cnt[e], k1u);
  }
  if (k1 == k2) {
    std::memcpy(result, prefix, kTile);
    return;
  }
  uint8_t mn[kTile];
  count_le_min_above(buf, T, prefix, cnt, mn);
  const uint32_t k2u = (uint32_t)k2;
  for (int e = 0; e < kTile; ++e) {
    uint32_t hi = cnt[e] > k2u ? prefix[e] : mn[e];
    result[e] = comix::median_even(prefix[e], hi);
  }
}

bool valid(const void* a, const void* b, int64_t T, int64_t n) {
  return a != nullptr && b != nullptr && T >= 1 && T < ((int64_t)1 << 32) && n >= 1;
}

// Median of tiles [b, e): copy each tile's T rows into buf, then search.
COMIX_INLINE void median_tiles(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, int64_t b, int64_t e,
                               uint8_t* buf) {
  uint8_t result[kTile];
  for (int64_t tile = b; tile < e; ++tile) {
    const int64_t e0 = tile * kTile;
    const int64_t w = n - e0 < kTile ? n - e0 : kTile;
    for (int64_t t = 0; t < T; ++t) {
      uint8_t* dst = buf + t * kTile;
      std::memcpy(dst, frames + t * n + e0, (size_t)w);
      if (w < kTile) std::memset(dst + w, 0, (size_t)(kTile - w));
    }
    median_tile(buf, T, result);
    std::memcpy(out + e0, result, (size_t)w);
  }
}

// One copy per instruction set, chosen once at run time: the loops above are inlined into each
// and vectorised for its ISA (64 byte lanes per instruction with AVX-512BW).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vl")))
void median_tiles_avx512(const uint8_t* f, int64_t T, int64_t n, uint8_t* o, int64_t b, int64_t e, uint8_t* buf) {
  median_tiles(f, T, n, o, b, e, buf);
}
__attribute__((target("avx2")))
void median_tiles_avx2(const uint8_t* f, int64_t T, int64_t n, uint8_t* o, int64_t b, int64_t e, uint8_t* buf) {
  median_tiles(f, T, n, o, b, e, buf);
}
#endif
void median_tiles_base(const uint8_t* f, int64_t T, int64_t n, uint8_t* o, int64_t b, int64_t e, uint8_t* buf) {
  median_tiles(f, T, n, o, b, e, buf);
}

using TilesFn = void (*)(const uint8_t*, int64_t, int64_t, uint8_t*, int64_t, int64_t, uint8_t*);

TilesFn pick_tiles_fn() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return median_tiles_avx512;
  if (__builtin_cpu_supports("avx2")) return median_tiles_avx2;
#endif
  return median_tiles_base;
}

}  // namespace

extern "C" const char* comix_median_cpu_isa(void) {
  static const TilesFn fn = pick_tiles_fn();
#if defined(__x86_64__) && defined(__GNUC__)
  if (fn == median_tiles_avx512) return "avx512bw";
  if (fn == median_tiles_avx2) return "avx2";
#endif
  return fn == median_tiles_base ? "baseline" : "?";
}

extern "C" int comix_median_u8_cpu(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, int threads) {
  if (!valid(frames, out, T, n)) return COMIX_ERR_ARGUMENT;
  static const TilesFn fn = pick_tiles_fn();
  const int64_t tiles = (n + kTile - 1) / kTile;
  int status = COMIX_OK;
  comix::parallel_for(tiles, 1, threads, [&](int64_t b, int64_t e, int) {
    std::unique_ptr<uint8_t[]> buf(new (std::nothrow) uint8_t[(size_t)(T * kTile)]);
    if (!buf) { status = COMIX_ERR_OUT_OF_MEMORY; return; }
    fn(frames, T, n, out, b, e, buf.get());
  });
  return status;
}

extern "C" int comix_median_hist_fold_cpu(const uint8_t* frames, int64_t T, int64_t n, uint16_t* hist, int threads) {
  if (!valid(frames, hist, T, n)) return COMIX_ERR_ARGUMENT;
  // Elements are split across threads; within a block of elements the histogram rows (512 B
  // each) stay in cache while the chunk's frames stream past.
  constexpr int64_t kBlock = 256;
  comix::parallel_for(n, kBlock, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t e0 = b; e0 < e; e0 += kBlock) {
      const int64_t e1 = e0 + kBlock < e ? e0 + kBlock : e;
      for (int64_t t = 0; t < T; ++t) {
        const uint8_t* row = frames + t * n;
        for (int64_t i = e0; i < e1; ++i) hist[i * 256 + row[i]]++;
      }
    }
  });
  return COMIX_OK;
}

extern "C" int comix_median_from_hist_cpu(const uint16_t* hist, int64_t T, int64_t n, uint8_t* out, int threads) {
  if (!valid(hist, out, T, n) || T > COMIX_MEDIAN_MAX_HIST_FRAMES) return COMIX_ERR_ARGUMENT;
  const int64_t k1 = comix::median_rank_lo(T), k2 = comix::median_rank_hi(T);
  comix::parallel_for(n, 1024, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const uint16_t* h = hist + i * 256;
      int64_t seen = 0;
      int v = 0;
      while (seen + h[v] <= k1) seen += h[v++];
      int lo = v;
      while (seen + h[v] <= k2) seen += h[v++];
      out[i] = comix::median_even((uint32_t)lo, (uint32_t)v);
    }
  });
  return COMIX_OK;
}
