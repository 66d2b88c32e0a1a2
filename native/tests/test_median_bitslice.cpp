// CPU check of the bit-sliced median kernel's logic (cuda-kernels/median_bitslice.cuh): the
// kernel's per-lane steps run here unchanged (transposition, carry-save counting, ripple adds,
// the lane pass, the decisions) inside a simulation of one warp per tile (shared-memory layout
// with the same swizzle, the shuffle butterfly as pairwise adds with the same xor partners), and
// the result is compared with a sorting oracle for T = 1 ... 700 and up to 1280, odd and even,
// for versions 11, 12 and 13 (13: a tile's frames over 2 or 4 warps, partial totals added),
// on uniform, few-level (ties), constant, 0/255 and video-like frames, full and partial tiles.
// Also: the building blocks against plain integer arithmetic, and the bank-conflict claims.
#include <array>
#include <cstdint>
#include <vector>

#include "median_bitslice.cuh"
#include "test_util.h"

namespace bs = comix::bitslice;

static uint32_t lane_bits(const uint32_t* w, int nb, int p) {
  uint32_t v = 0;
  for (int j = 0; j < nb; ++j) v |= ((w[j] >> p) & 1u) << j;
  return v;
}

static void check_blocks() {
  // transposition: plane b bit plane_bit(p) == bit b of byte p; and it is an involution
  for (int it = 0; it < 1000; ++it) {
    uint32_t w[8], orig[8];
    for (auto& x : w) x = (uint32_t)rng()();
    std::memcpy(orig, w, sizeof w);
    bs::transpose(w);
    int bad = 0;
    for (int p = 0; p < 32; ++p)
      for (int b = 0; b < 8; ++b) {
        const uint32_t byte = (orig[p / 4] >> (8 * (p % 4))) & 0xffu;
        bad += ((w[b] >> bs::plane_bit(p)) & 1u) != ((byte >> b) & 1u);
      }
    CHECK(bad == 0, "transpose: %d wrong bits", bad);
    bs::transpose(w);
    CHECK(std::memcmp(w, orig, sizeof w) == 0, "transpose is not its own inverse");
  }
  // version 12: bitsel and transpose_sel compute exactly what swap_index_bit and transpose do
  for (int it = 0; it < 1000; ++it) {
    uint32_t w[8], v[8];
    for (auto& x : w) x = (uint32_t)rng()();
    std::memcpy(v, w, sizeof w);
    bs::transpose(w);
    bs::transpose_sel(v);
    CHECK(std::memcmp(w, v, sizeof w) == 0, "transpose_sel differs from transpose");
    const uint32_t a = (uint32_t)rng()(), b = (uint32_t)rng()(), m = (uint32_t)rng()();
    CHECK(bs::bitsel(a, b, m) == ((a & m) | (b & ~m)), "bitsel");
    // the device's shr_fma: x >> s as the high word of x * 2^(32-s) (__umulhi), s = 1, 2, 4
    for (int sh : {1, 2, 4}) CHECK((uint32_t)(((uint64_t)a << (32 - sh)) >> 32) == (a >> sh), "shr_fma identity");
  }
  // plane_bit is a permutation
  uint32_t seen = 0;
  for (int p = 0; p < 32; ++p) seen |= 1u << bs::plane_bit(p);
  CHECK(seen == 0xffffffffu, "plane_bit not a permutation");
  // count8 over several blocks == popcount per lane
  for (int it = 0; it < 200; ++it) {
    uint32_t c[bs::kCountBits] = {};
    int ref[32] = {};
    const int blocks = 1 + (int)(rng()() % 7);  // up to 56 inputs < 64
    for (int k = 0; k < blocks; ++k) {
      uint32_t z[8];
      for (auto& x : z) {
        x = (uint32_t)rng()() & (uint32_t)rng()();  // biased: exercise carries
        if (it % 5 == 0) x = 0xffffffffu;
        for (int p = 0; p < 32; ++p) ref[p] += (x >> p) & 1u;
      }
      bs::count8(c, z);
    }
    int bad = 0;
    for (int p = 0; p < 32; ++p) bad += (int)lane_bits(c, bs::kCountBits, p) != ref[p];
    CHECK(bad == 0, "count8: %d lanes wrong", bad);
  }
  // add_grow and sub_if_le against integers
  for (int it = 0; it < 2000; ++it) {
    constexpr int L = 9;
    uint32_t a[L + 1] = {}, b[L] = {}, r[L], c[L];
    uint32_t ia[32], ib[32];
    for (int p = 0; p < 32; ++p) {
      ia[p] = (uint32_t)(rng()() % 512);
      ib[p] = it % 7 == 0 ? ia[p] : (uint32_t)(rng()() % 512);
      for (int j = 0; j < L; ++j) {
        a[j] |= ((ia[p] >> j) & 1u) << p;
        b[j] |= ((ib[p] >> j) & 1u) << p;
      }
    }
    std::memcpy(r, a, sizeof r);
    std::memcpy(c, b, sizeof c);
    bs::add_grow(a, b, L);
    uint32_t le = bs::sub_if_le<L>(r, c);
    int bad = 0;
    for (int p = 0; p < 32; ++p) {
      bad += lane_bits(a, L + 1, p) != ia[p] + ib[p];
      const bool l = ib[p] <= ia[p];
      bad += (((le >> p) & 1u) != 0) != l;
      bad += lane_bits(r, L, p) != (l ? ia[p] - ib[p] : ia[p]);
    }
    CHECK(bad == 0, "add_grow/sub_if_le: %d wrong", bad);
  }
}

// Bank of every shared-memory word the 32 lanes touch in one instruction must differ.
template <int GW>
static void check_banks() {
  constexpr int SW = 32 / GW;
  for (int b = 0; b < 8; ++b) {
    for (int f = 0; f < 3; ++f) {  // counting: lane (s, g) reads frame s + SW*f
      uint32_t banks = 0;
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane % GW, s = lane / GW, t = s + SW * f;
        const int word = bs::plane_word<GW>(t, g, b);
        CHECK(word == (s * GW + g) * 8 + 256 * f + (b ^ bs::swizzle<GW>(s)), "plane address shortcut GW=%d", GW);
        banks |= 1u << (word % 32);
      }
      CHECK(banks == 0xffffffffu, "count loads conflict: GW=%d b=%d", GW, b);
    }
    for (int i = 0; i < 3; ++i) {  // transposition: lane handles item 32*i + lane
      uint32_t banks = 0;
      for (int lane = 0; lane < 32; ++lane) {
        const int item = 32 * i + lane, t = item / GW, g = item % GW;
        banks |= 1u << (bs::plane_word<GW>(t, g, b) % 32);
        CHECK((bs::item_key<GW>((uint32_t)item) ^ (4u * (uint32_t)b)) == 4u * (uint32_t)bs::plane_word<GW>(t, g, b),
              "item_key GW=%d", GW);
      }
      CHECK(banks == 0xffffffffu, "transpose stores conflict: GW=%d b=%d", GW, b);
    }
  }
}

// sum_slices' shuffle butterfly over the SW slices of a group, simulated:
// __shfl_xor_sync(…, GW << r) reads slice s ^ (1 << r).
template <int NB, int LOG_SW, bool EVEN>
static void butterfly(std::vector<std::array<uint32_t, NB + 1>>& tot, std::vector<uint32_t>& o2) {
  for (int r = 0; r < LOG_SW; ++r) {
    const auto old = tot;
    const auto oldo = o2;
    for (size_t s = 0; s < tot.size(); ++s) {
      bs::add_grow(tot[s].data(), old[s ^ (1u << r)].data(), bs::kCountBits + r);
      if (EVEN) o2[s] |= oldo[s ^ (1u << r)];
    }
  }
}

// Version 12's staging order (stage_row/stage_chunk): the 16 chunks per lane and block of 8 slots
// cover each (row, chunk) of the block exactly once, at the fixed strides the kernel's pointer
// increments assume (RPI rows, 128 words of shared memory per step).
template <int GW>
static void check_stage_order() {
  constexpr int SW = 32 / GW, CPR = 2 * GW, RPI = 16 / GW;
  for (int j = 0; j < bs::kFrames / 8; ++j) {
    std::vector<int> hits(8 * SW * CPR, 0);
    for (int lane = 0; lane < 32; ++lane) {
      const int c = bs::stage_chunk<GW>(lane);
      for (int k = 0; k < bs::kStageChunksPerLane; ++k) {
        const int t = bs::stage_row<GW>(j, lane, k);
        CHECK(t == bs::stage_row<GW>(j, lane, 0) + k * RPI, "stage_row stride GW=%d", GW);
        CHECK(bs::raw_word<GW>(t, c) == bs::raw_word<GW>(bs::stage_row<GW>(0, lane, 0), c) + 128 * (k + 16 * j),
              "raw_word stride GW=%d", GW);
        CHECK(t >= 8 * j * SW && t < 8 * (j + 1) * SW, "stage_row out of block GW=%d", GW);
        ++hits[(t - 8 * j * SW) * CPR + c];
      }
    }
    for (int h : hits) CHECK(h == 1, "stage order GW=%d block %d: a chunk staged %d times", GW, j, h);
  }
}

// Version 14's cooperative staging (coop_chunk/coop_row, NW warps per block): per block of 8 slots
// the 16 copies of the 32 * NW threads cover each (warp column, row, chunk) exactly once, rows in
// the block, at the strides the kernel's pointer increments assume; NW = 1 is version 12's order.
template <int NW>
static void check_coop_stage() {
  for (int j = 0; j < bs::kFrames / 8; ++j) {
    std::vector<int> hits(NW * 64 * 8, 0);
    for (int tid = 0; tid < 32 * NW; ++tid) {
      const int c = bs::coop_chunk<NW>(tid), wc = c / 8, cl = c % 8;
      CHECK(c >= 0 && c < 8 * NW, "coop_chunk NW=%d", NW);
      if (NW == 1) CHECK(c == bs::stage_chunk<4>(tid), "coop_chunk differs from stage_chunk");
      for (int k = 0; k < bs::kStageChunksPerLane; ++k) {
        const int t = bs::coop_row<NW>(j, tid, k);
        if (NW == 1) CHECK(t == bs::stage_row<4>(j, tid, k), "coop_row differs from stage_row");
        CHECK(t == bs::coop_row<NW>(0, tid, 0) + 64 * j + 4 * k, "coop_row stride NW=%d", NW);
        CHECK(bs::raw_word<4>(t, cl) == bs::raw_word<4>(bs::coop_row<NW>(0, tid, 0), cl) + 128 * (k + 16 * j),
              "coop raw_word stride NW=%d", NW);
        CHECK(t >= 64 * j && t < 64 * (j + 1), "coop_row out of block NW=%d", NW);
        ++hits[(wc * 64 + (t - 64 * j)) * 8 + cl];
      }
    }
    for (int h : hits) CHECK(h == 1, "coop stage NW=%d block %d: a chunk staged %d times", NW, j, h);
  }
}

// Version 14's exact-T tile: for every T it takes (frame_slots(T, 8) = 8..40 slots) and lane
// slice s, exact_slot keeps every slot inside the T rows, keeps each slot whose row is inside,
// and slots_in_block counts exactly the slots of each block that are inside.
static void check_exact_slots() {
  for (int T = 8; T <= 320; ++T) {  // the kernel takes 128 < T <= 320; slot 0 is inside from T = 8
    const int F = bs::frame_slots(T, 8);
    for (int s = 0; s < 8; ++s)
      for (int f = 0; f < F; ++f) {
        const int e = bs::exact_slot(f, F, s, T);
        CHECK(s + 8 * e < T, "exact_slot T=%d s=%d f=%d reads row %d", T, s, f, s + 8 * e);
        if (s + 8 * f < T) CHECK(e == f, "exact_slot moved an inside slot T=%d s=%d f=%d", T, s, f);
        CHECK((f % 8 < bs::slots_in_block(f / 8, s, T)) == (s + 8 * f < T), "slots_in_block T=%d s=%d f=%d", T, s, f);
      }
  }
}

// Version 14's search for group g of a transposed tile (median_bitslice4<EVEN, NBLK, NW>, GW = 4):
// version 12's search over exactly F = 8 * NBLK slots with no guard, by lane_pass_held (the
// planes of the previous pass held), on a tile of exactly T rows with the slots past T read at
// slot 0 (exact_slot); its counts and ORs are checked against lane_pass (planes loaded again) at
// every pass, each on its own copy of the masks.
template <bool EVEN, int NBLK>
static void search_group_v14(const std::vector<uint32_t>& tile, int T, int g, uint32_t (&res)[8]) {
  constexpr int GW = 4, SW = 8, LOG_SW = 3, K = bs::kCountBits, NB = K + LOG_SW, F = 8 * NBLK;
  CHECK(bs::frame_slots(T, SW) == F, "v14: T=%d has %d slots, not %d", T, bs::frame_slots(T, SW), F);
  struct Lane { uint32_t m1[F], m2[F], h[F], r1[F], r2[F]; bs::State<NB> st; };
  std::vector<Lane> ln(SW);
  for (int s = 0; s < SW; ++s) {
    for (int f = 0; f < F; ++f) ln[s].m1[f] = ln[s].m2[f] = ln[s].r1[f] = ln[s].r2[f] = s + SW * f < T ? 0xffffffffu : 0u;
    bs::init_state<NB>(ln[s].st, T);
  }
  for (int b = 7; b >= 0; --b) {
    std::vector<std::array<uint32_t, NB + 1>> tot(SW);
    std::vector<uint32_t> o2(SW);
    for (int s = 0; s < SW; ++s) {
      const int swz = bs::swizzle<GW>(s);
      // the kernel's exact-T addressing; any read past the T rows fails the test
      auto plane = [&](int f, int pb) {
        const size_t i = (size_t)((s * GW + g) * 8 + 256 * bs::exact_slot(f, F, s, T) + (pb ^ swz));
        CHECK(i < tile.size(), "v14 reads word %zu of a %zu-word tile (T=%d s=%d f=%d)", i, tile.size(), T, s, f);
        return i < tile.size() ? tile[i] : 0u;
      };
      Lane& L = ln[s];
      uint32_t cnt[K], cref[K], oref;
      if (b == 7) {
        bs::lane_pass_held<EVEN, false>(L.m1, L.m2, L.h, b, 0u, 0u, plane, cnt, o2[s]);
        bs::lane_pass<EVEN, false>(L.r1, L.r2, F, b, 0u, 0u, plane, cref, oref);
      } else {
        bs::lane_pass_held<EVEN, true>(L.m1, L.m2, L.h, b, L.st.d1[0], L.st.d2[0], plane, cnt, o2[s]);
        bs::lane_pass<EVEN, true>(L.r1, L.r2, F, b, L.st.d1[0], L.st.d2[0], plane, cref, oref);
      }
      CHECK(std::memcmp(cnt, cref, sizeof cnt) == 0 && (!EVEN || o2[s] == oref),
            "v14 pass %d differs from lane_pass", b);
      for (int j = 0; j < K; ++j) tot[s][j] = cnt[j];
    }
    butterfly<NB, LOG_SW, EVEN>(tot, o2);
    for (int s = 0; s < SW; ++s) bs::decide<NB, EVEN>(ln[s].st, tot[s].data(), o2[s]);
  }
  bs::result_planes<NB, EVEN>(ln[0].st, res);
  for (int s = 1; s < SW; ++s) {
    uint32_t other[8];
    bs::result_planes<NB, EVEN>(ln[s].st, other);
    CHECK(std::memcmp(res, other, sizeof res) == 0, "v14: lanes of a group disagree");
  }
}

// (The kernel takes 128 < T <= 320, NBLK 3..5; the search is checked for every NBLK, T >= 8.)
template <bool EVEN>
static void search_group_v14_any(const std::vector<uint32_t>& tile, int T, int g, uint32_t (&res)[8]) {
  switch (bs::frame_slots(T, 8) / 8) {
    case 1: search_group_v14<EVEN, 1>(tile, T, g, res); break;
    case 2: search_group_v14<EVEN, 2>(tile, T, g, res); break;
    case 3: search_group_v14<EVEN, 3>(tile, T, g, res); break;
    case 4: search_group_v14<EVEN, 4>(tile, T, g, res); break;
    default: search_group_v14<EVEN, 5>(tile, T, g, res); break;
  }
}

// Version 13's search for group g of a transposed tile (median_bitslice3<GW, EVEN, NW>): warp w
// counts only its blocks of 8 slots (w*nblk/NW ... (w+1)*nblk/NW - 1) with F-slot mask arrays,
// sums over its slices with the butterfly, and the NW partial totals are added in warp order;
// every (warp, slice) lane decides, and all must agree. Returns the result planes.
template <int GW, bool EVEN, int NW>
static void search_group_v13(const std::vector<uint32_t>& tile, int T, int g, uint32_t (&res)[8]) {
  constexpr int SW = 32 / GW;
  constexpr int LOG_SW = bs::kLogSW<GW>;
  constexpr int K = bs::kCountBits, NB = K + LOG_SW;
  constexpr int F = 8 * ((bs::kFrames / 8 + NW - 1) / NW);
  const int nblk = bs::frame_slots(T, SW) / 8;
  struct Masks { uint32_t m[F]; };
  std::vector<Masks> m1(NW * SW), m2(NW * SW);
  std::vector<bs::State<NB>> st(NW * SW);
  for (int w = 0; w < NW; ++w) {
    const int j0 = w * nblk / NW, j1 = (w + 1) * nblk / NW, nfw = 8 * (j1 - j0);
    CHECK(nfw <= F, "v13 slots per lane: %d > %d", nfw, F);
    for (int s = 0; s < SW; ++s) {
      for (int f = 0; f < F; ++f)
        m1[w * SW + s].m[f] = m2[w * SW + s].m[f] = f < nfw && s + SW * (8 * j0 + f) < T ? 0xffffffffu : 0u;
      bs::init_state<NB>(st[w * SW + s], T);
    }
  }
  for (int b = 7; b >= 0; --b) {
    std::vector<std::array<uint32_t, NB + 1>> part(NW);  // each warp's total after its butterfly
    std::vector<uint32_t> part_o2(NW);
    for (int w = 0; w < NW; ++w) {
      const int j0 = w * nblk / NW, j1 = (w + 1) * nblk / NW, nfw = 8 * (j1 - j0);
      std::vector<std::array<uint32_t, NB + 1>> tot(SW);
      std::vector<uint32_t> o2(SW);
      for (int s = 0; s < SW; ++s) {
        const uint32_t* mine = tile.data() + (s * GW + g) * 8 + 2048 * j0;
        const int swz = bs::swizzle<GW>(s);
        auto plane = [&](int f, int pb) { return mine[256 * f + (pb ^ swz)]; };
        uint32_t cnt[bs::kCountBits];
        auto& a1 = m1[w * SW + s].m;
        auto& a2 = m2[w * SW + s].m;
        auto& sl = st[w * SW + s];
        if (b == 7) bs::lane_pass<EVEN, false>(a1, a2, nfw, b, 0u, 0u, plane, cnt, o2[s]);
        else bs::lane_pass<EVEN, true>(a1, a2, nfw, b, sl.d1[0], sl.d2[0], plane, cnt, o2[s]);
        for (int j = 0; j < K; ++j) tot[s][j] = cnt[j];
      }
      butterfly<NB, LOG_SW, EVEN>(tot, o2);
      for (int s = 1; s < SW; ++s) CHECK(tot[s] == tot[0] && o2[s] == o2[0], "v13: slices of a warp disagree");
      part[w] = tot[0];  // the kernel's lane s == 0 writes NB words and o2
      part_o2[w] = o2[0];
    }
    std::array<uint32_t, NB + 1> acc{};
    for (int j = 0; j < NB; ++j) acc[j] = part[0][j];
    uint32_t o2all = part_o2[0];
    for (int v = 1; v < NW; ++v) {
      bs::add_grow(acc.data(), part[v].data(), NB);
      CHECK(acc[NB] == 0, "v13: total overflows %d bits", NB);
      o2all |= part_o2[v];
    }
    for (auto& sl : st) bs::decide<NB, EVEN>(sl, acc.data(), o2all);
  }
  bs::result_planes<NB, EVEN>(st[0], res);
  for (size_t i = 1; i < st.size(); ++i) {
    uint32_t other[8];
    bs::result_planes<NB, EVEN>(st[i], other);
    CHECK(std::memcmp(res, other, sizeof res) == 0, "v13: lanes of a group disagree");
  }
}

// One warp-tile of median_bitslice<GW, EVEN> (v12 = false) or median_bitslice2 (v12 = true:
// staged rows past T and bytes past n are left unwritten, here poisoned with random bytes;
// transposition by transpose_sel at the per-lane addresses the kernel uses), lane by lane;
// nw = 2 or 4: version 13 (the layout of version 12, the search of search_group_v13);
// nw = -1: version 14 (the layout of version 12, search_group_v14).
template <int GW, bool EVEN>
static void simulate_tile(const uint8_t* frames, int T, int64_t n, int64_t e0, uint8_t* out, bool v12, int nw) {
  constexpr int SW = 32 / GW, E = 32 * GW;
  constexpr int LOG_SW = bs::kLogSW<GW>;
  constexpr int K = bs::kCountBits, NB = K + LOG_SW;
  const int nf = bs::frame_slots(T, SW), Tpad = nf * SW;
  CHECK(nf % 8 == 0 && nf <= bs::kFrames && (nf - 8) * SW < T, "frame slots T=%d SW=%d: %d", T, SW, nf);
  const int w = (int)(n - e0 < E ? n - e0 : E);
  std::vector<uint32_t> tile((size_t)Tpad * GW * 8, 0xdeadbeefu);
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile.data());
  for (int t = 0; t < Tpad; ++t)
    for (int c = 0; c < E; ++c)
      tile8[bs::raw_word<GW>(t, c / 16) * 4 + c % 16] =
          t < T && c < w ? frames[(int64_t)t * n + e0 + c] : v12 ? (uint8_t)rng()() : 0;
  if (nw < 0) {
    // version 14: the warp's tile holds exactly T rows (the kernel allocates T * 128 bytes), so a
    // read past it fails here (tile.at); lane L transposes only the slots inside it
    CHECK(GW == 4, "v14 has 4 groups");
    tile.resize((size_t)T * GW * 8);
    tile8 = reinterpret_cast<unsigned char*>(tile.data());
  }
  if (v12) {
    // lane L transposes items L + 32 f (its own slots f), planes at byte 32 L + 1024 f + 4 (pb ^ swz)
    for (int lane = 0; lane < 32; ++lane) {
      const int swz = bs::swizzle<GW>(lane / GW);
      for (int f = 0; f < nf; ++f) {
        if (nw < 0 && f % 8 >= bs::slots_in_block(f / 8, lane / GW, T)) continue;  // past T
        if (nw < 0) CHECK(lane / GW + 8 * f < T, "v14 transposes row %d >= T=%d", lane / GW + 8 * f, T);
        unsigned char* p = tile8 + 32 * lane + 1024 * f;
        uint32_t v[8];
        std::memcpy(v, p, sizeof v);
        bs::transpose_sel(v);
        for (int pb = 0; pb < 8; ++pb) {
          const int item = lane + 32 * f;
          CHECK(32 * lane + 1024 * f + 4 * (pb ^ swz) == 4 * bs::plane_word<GW>(item / GW, item % GW, pb),
                "v12 plane address GW=%d", GW);
          std::memcpy(p + 4 * (pb ^ swz), &v[pb], 4);
        }
      }
    }
  }
  for (int item = 0; item < (v12 ? 0 : Tpad * GW); ++item) {
    const int t = item / GW, g = item % GW;
    uint32_t v[8];
    std::memcpy(v, &tile[(size_t)item * 8], sizeof v);
    bs::transpose(v);
    for (int b = 0; b < 8; ++b) {
      tile[(size_t)bs::plane_word<GW>(t, g, b)] = v[b];
      CHECK((bs::item_key<GW>((uint32_t)item) ^ (4u * (uint32_t)b)) == 4u * (uint32_t)bs::plane_word<GW>(t, g, b),
            "item_key GW=%d item=%d", GW, item);
    }
  }
  for (int g = 0; (nw > 1 || nw < 0) && g < GW; ++g) {
    uint32_t res[8];
    if constexpr (GW == 4) {
      if (nw < 0) search_group_v14_any<EVEN>(tile, T, g, res);
    }
    if (nw == 2) search_group_v13<GW, EVEN, 2>(tile, T, g, res);
    else if (nw == 4) search_group_v13<GW, EVEN, 4>(tile, T, g, res);
    bs::transpose_sel(res);
    for (int s = 0; s < 8; ++s) {
      const int off = 16 * g + (s >= 4 ? 16 * GW : 0) + 4 * (s & 3);
      for (int j = 0; j < 4; ++j)
        if (e0 + off + j < n) out[e0 + off + j] = (uint8_t)(res[s] >> (8 * j));
    }
  }
  for (int g = 0; nw == 1 && g < GW; ++g) {
    struct Masks { uint32_t m[bs::kFrames]; };
    std::vector<Masks> m1(SW), m2(SW);
    std::vector<bs::State<NB>> st(SW);
    for (int s = 0; s < SW; ++s) {
      for (int f = 0; f < bs::kFrames; ++f) m1[s].m[f] = m2[s].m[f] = s + SW * f < T ? 0xffffffffu : 0u;
      bs::init_state<NB>(st[s], T);
    }
    for (int b = 7; b >= 0; --b) {
      std::vector<std::array<uint32_t, NB + 1>> tot(SW);
      std::vector<uint32_t> o2(SW);
      for (int s = 0; s < SW; ++s) {
        const uint32_t* mine = tile.data() + (s * GW + g) * 8;
        const int swz = bs::swizzle<GW>(s);
        auto plane = [&](int f, int pb) { return mine[256 * f + (pb ^ swz)]; };
        uint32_t cnt[bs::kCountBits];
        auto& a1 = m1[s].m;
        auto& a2 = m2[s].m;
        if (b == 7) bs::lane_pass<EVEN, false>(a1, a2, nf, b, 0u, 0u, plane, cnt, o2[s]);
        else bs::lane_pass<EVEN, true>(a1, a2, nf, b, st[s].d1[0], st[s].d2[0], plane, cnt, o2[s]);
        for (int j = 0; j < K; ++j) tot[s][j] = cnt[j];
      }
      butterfly<NB, LOG_SW, EVEN>(tot, o2);
      for (int s = 0; s < SW; ++s) bs::decide<NB, EVEN>(st[s], tot[s].data(), o2[s]);
    }
    uint32_t res[8];
    bs::result_planes<NB, EVEN>(st[0], res);
    for (int s = 1; s < SW; ++s) {
      uint32_t other[8];
      bs::result_planes<NB, EVEN>(st[s], other);
      CHECK(std::memcmp(res, other, sizeof res) == 0, "lanes of a group disagree");
    }
    bs::transpose(res);
    for (int s = 0; s < 8; ++s) {
      const int off = 16 * g + (s >= 4 ? 16 * GW : 0) + 4 * (s & 3);
      for (int j = 0; j < 4; ++j)
        if (e0 + off + j < n) out[e0 + off + j] = (uint8_t)(res[s] >> (8 * j));
    }
  }
}

template <int GW>
static void simulate(const uint8_t* frames, int T, int64_t n, uint8_t* out, bool v12, int nw) {
  for (int64_t e0 = 0; e0 < n; e0 += 32 * GW) {
    if (T % 2 == 0) simulate_tile<GW, true>(frames, T, n, e0, out, v12, nw);
    else simulate_tile<GW, false>(frames, T, n, e0, out, v12, nw);
  }
}

// nw > 1: version 13 with nw warps per tile (v12's layout; `narrow` then means nw = 4, as the
// variant bit does in comix_median_cuda_set_variant); nw < 0: version 14.
static void check_median(int T, int64_t n, int pattern, bool narrow, bool v12 = false, int nw = 1) {
  std::vector<uint8_t> f((size_t)(T * n));
  auto& g = rng();
  switch (pattern) {
    case 0: f = random_frames(T * n); break;
    case 1: f = random_frames(T * n, 3); break;  // ties everywhere
    case 2: {  // constant per pixel (all equal over time), incl. 0 and 255
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t v = i % 3 == 0 ? 0 : i % 3 == 1 ? 255 : (uint8_t)g();
        for (int t = 0; t < T; ++t) f[(size_t)(t * n + i)] = v;
      }
      break;
    }
    case 3:  // extremes only
      for (auto& x : f) x = (g() & 1) ? 255 : 0;
      break;
    default: {  // video-like: background + small noise, clamped
      for (int64_t i = 0; i < n; ++i) {
        const int bg = (int)(g() % 256);
        for (int t = 0; t < T; ++t)
          f[(size_t)(t * n + i)] = (uint8_t)std::min(255, std::max(0, bg + (int)(g() % 9) - 4));
      }
    }
  }
  const auto ref = median_oracle(f, T, n);
  std::vector<uint8_t> got((size_t)n, 0xAB);
  const int F = bs::kFrames;
  int gw = T <= 8 * F ? 4 : T <= 16 * F ? 2 : 1;  // as launch_bitslice chooses
  if (nw < 0) {  // version 14: one 4-group tile (T <= 320); `narrow` has no meaning there
    CHECK(T <= 8 * F, "v14 takes T <= %d", 8 * F);
    v12 = true;
    nw = -1;
    gw = 4;
  } else if (nw > 1) {
    v12 = true;
    nw = narrow ? 4 : 2;
  } else if (narrow && gw > 1) {
    gw /= 2;
  }
  if (gw == 4) simulate<4>(f.data(), T, n, got.data(), v12, nw);
  else if (gw == 2) simulate<2>(f.data(), T, n, got.data(), v12, nw);
  else simulate<1>(f.data(), T, n, got.data(), v12, nw);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += got[(size_t)i] != ref[(size_t)i];
  CHECK(bad == 0, "bitslice median T=%d n=%lld pattern=%d gw=%d v12=%d nw=%d: %lld mismatches", T, (long long)n, pattern,
        gw, (int)v12, nw, (long long)bad);
}

int main() {
  check_blocks();
  check_banks<4>();
  check_banks<2>();
  check_banks<1>();
  check_stage_order<4>();
  check_stage_order<2>();
  check_stage_order<1>();
  check_coop_stage<1>();
  check_coop_stage<2>();
  check_coop_stage<3>();
  check_coop_stage<4>();
  check_exact_slots();
  int cases = 0;
  for (int T = 1; T <= 700; ++T) {
    // one full tile plus a partial one (16 and 4 bytes short of a second), rotating patterns
    const int64_t n = T % 2 ? 128 + 112 : 128 + 60;
    check_median(T, n, T % 5, (T / 2) % 2 == 1);
    check_median(T, n, (T + 2) % 5, (T / 2) % 2 == 0, true);  // version 12, the other width
    check_median(T, n, (T + 4) % 5, T % 2 == 0, true, 2);     // version 13, 2 or 4 warps
    cases += 3;
    if (T >= 8 && T <= 320) {
      check_median(T, n, (T + 1) % 5, false, false, -1);  // version 14 (kernel: 128 < T <= 320)
      ++cases;
    }
  }
  for (int T : {2, 3, 16, 72, 255, 256, 299, 300, 301, 319, 320, 321, 639, 640, 641, 1000, 1279, 1280})
    for (int pattern = 0; pattern < 5; ++pattern)
      for (bool narrow : {false, true})
        for (int version : {11, 12, 13, 14}) {
          if (version == 14 && (T < 8 || T > 320 || narrow)) continue;
          check_median(T, 256, pattern, narrow, version >= 12, version == 13 ? 2 : version == 14 ? -1 : 1);
          ++cases;
        }
  std::printf("bitslice median: %d cases\n", cases);
  return finish("median_bitslice");
}
