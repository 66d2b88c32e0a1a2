// Bit-sliced radix select for the temporal median: the per-lane logic of the CUDA kernel
// median_bitslice (cuda-kernels/temporal_median.cu), written as __host__ __device__ functions so
// the CPU test (native/tests/test_median_bitslice.cpp) runs exactly the arithmetic the GPU runs.
//
// Representation. 32 pixels of one frame (32 bytes) are transposed into 8 bit planes: plane b is
// one 32-bit word whose bit plane_bit(p) is bit b of pixel p. Every logic instruction on plane
// words then works on 32 pixels at once (the byte-SIMD search works on 4).
//
// Search. The k-th smallest value per pixel, bit by bit from the top: a frame is a candidate
// while its value's higher bits equal the prefix found so far (mask m, one bit per pixel); in
// pass b, count per pixel the candidates whose bit b is 0 (carry-save adders over bit-sliced
// counters), sum the counts of the lanes that share the pixels, and decide bit b of the result
// exactly as comix::select_step does. For even T the two middle ranks are searched together:
// while both prefixes agree they share the count (their ranks differ by one); when they split
// (count == r1 + 1), the lower one is the largest value of its bucket and the upper one the
// smallest of its own; that one is found from an OR of its candidates (is any bit b zero?),
// which costs one logic op per frame instead of a second counter.
#ifndef COMIX_MEDIAN_BITSLICE_CUH
#define COMIX_MEDIAN_BITSLICE_CUH
#include <stdint.h>

#include "comix_math.cuh"

// Unrolling matters on the device only (register arrays must see constant indices); the host
// compiler would warn about the pragma.
#if defined(__CUDA_ARCH__)
#define COMIX_BS_UNROLL _Pragma("unroll")
#else
#define COMIX_BS_UNROLL
#endif
#if defined(__CUDACC__)
#define COMIX_BS_EXEC_CHECK _Pragma("nv_exec_check_disable")
#else
#define COMIX_BS_EXEC_CHECK
#endif

namespace comix {
namespace bitslice {

constexpr int kFrames = 40;    // frame slots per lane (register arrays of candidate masks)
constexpr int kCountBits = 6;  // bits of a lane's own counter (kFrames < 64)

// Frame slots per lane for T frames over SW lanes (slices), rounded up to whole blocks of 8 so
// the counting loop needs no per-frame guard: the slots past T are zero rows in shared memory
// with empty candidate masks. The tile has frame_slots * SW rows.
// (Their plane words never reach a count: every use is ANDed with a zero mask, so version 12
// leaves those rows unwritten; the CPU test poisons them.)
COMIX_HD int frame_slots(int T, int SW) { return (T + 8 * SW - 1) / (8 * SW) * 8; }

// Bit of pixel p (0..31) in a plane word, for the transposition below.
COMIX_HD int plane_bit(int p) { return ((p >> 2) & 7) | ((p & 3) << 3); }

// Swaps bit k of the in-word index with bit k of the word index for one word pair
// (x: word-index bit k = 0, y: = 1; s = 2^k, m = in-word positions whose bit k is 0).
COMIX_HD void swap_index_bit(uint32_t& x, uint32_t& y, int s, uint32_t m) {
  const uint32_t xs = x >> s, ys = y << s;
  x = (x & m) | (ys & ~m);
  y = (xs & m) | (y & ~m);
}

// 32 bytes (w[i] holds pixels 4i..4i+3, little-endian) <-> 8 bit planes (w[b] = plane b).
// Three index-bit swaps (bits-in-byte <-> word index); they commute and each is its own
// inverse, so the same call transposes back. 12 x (2 shifts + 2 logic ops) = 48 ops / 32 bytes.
COMIX_HD void transpose(uint32_t (&w)[8]) {
  COMIX_BS_UNROLL
  for (int i = 0; i < 8; i += 2) swap_index_bit(w[i], w[i + 1], 1, 0x55555555u);
  swap_index_bit(w[0], w[2], 2, 0x33333333u);
  swap_index_bit(w[1], w[3], 2, 0x33333333u);
  swap_index_bit(w[4], w[6], 2, 0x33333333u);
  swap_index_bit(w[5], w[7], 2, 0x33333333u);
  COMIX_BS_UNROLL
  for (int i = 0; i < 4; ++i) swap_index_bit(w[i], w[i + 4], 4, 0x0F0F0F0Fu);
}

// Version 12 (kernel median_bitslice2): the same transposition with each half-swap written as
// one bit select, (a & m) | (b & ~m), which on the device is a single LOP3 (0xE4) by inline PTX:
// 12 x (2 shifts + 2 LOP3) = 48 ops per 32 bytes. The compiler turned swap_index_bit into
// 2 shifts + 4 LOP3 (an AND before the shift, then a select): 72 (SASS of the first H200 run).
COMIX_HD uint32_t bitsel(uint32_t a, uint32_t b, uint32_t m) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xE4;" : "=r"(d) : "r"(a), "r"(b), "r"(m));
  return d;
#else
  return (a & m) | (b & ~m);
#endif
}
// x >> s as the high word of x * 2^(32-s): on the device an IMAD.HI on the FMA pipe instead of
// an SHF on the integer/logic pipe, which the counting passes keep busy.
COMIX_HD uint32_t shr_fma(uint32_t x, int s) {
#if defined(__CUDA_ARCH__)
  return __umulhi(x, 1u << (32 - s));
#else
  return x >> s;
#endif
}
COMIX_HD void swap_index_bit_sel(uint32_t& x, uint32_t& y, int s, uint32_t m) {
  const uint32_t xs = shr_fma(x, s), ys = y << s;
  x = bitsel(x, ys, m);
  y = bitsel(xs, y, m);
}
COMIX_HD void transpose_sel(uint32_t (&w)[8]) {
  COMIX_BS_UNROLL
  for (int i = 0; i < 8; i += 2) swap_index_bit_sel(w[i], w[i + 1], 1, 0x55555555u);
  swap_index_bit_sel(w[0], w[2], 2, 0x33333333u);
  swap_index_bit_sel(w[1], w[3], 2, 0x33333333u);
  swap_index_bit_sel(w[4], w[6], 2, 0x33333333u);
  swap_index_bit_sel(w[5], w[7], 2, 0x33333333u);
  COMIX_BS_UNROLL
  for (int i = 0; i < 4; ++i) swap_index_bit_sel(w[i], w[i + 4], 4, 0x0F0F0F0Fu);
}

// Version 12 staging order: the tile's rows are staged in blocks of 8 frame slots (block j holds
// frames 8*j*SW ... 8*(j+1)*SW - 1, which are exactly slots 8j..8j+7 of every lane), one
// cp.async group per block, so block j can be transposed as soon as group j lands. Within a
// block the 8*SW*2*GW = 512 16-byte chunks go 16 per lane: lane L's k-th chunk is chunk
// stage_chunk(L) of row stage_row(j, L, k); consecutive k are RPI rows and 512 bytes of shared
// memory apart, so the loop is a pointer increment (no division per chunk).
template <int GW>
COMIX_HD int stage_chunk(int lane) { return lane % (2 * GW); }
template <int GW>
COMIX_HD int stage_row(int j, int lane, int k) { return 8 * j * (32 / GW) + lane / (2 * GW) + k * (16 / GW); }
constexpr int kStageChunksPerLane = 16;  // per block of 8 slots

// Version 14's staging (GW = 4): the NW warps of a block stage the NW adjacent 128-byte columns
// of their tiles together, so each row piece read is NW * 128 contiguous bytes. Thread tid (of
// 32 * NW) copies chunk coop_chunk(tid) of the block's row piece (the column of warp chunk / 8,
// that warp's raw chunk chunk % 8) for rows coop_row(j, tid, k), k = 0..15: for NW = 1 exactly
// version 12's stage_chunk / stage_row.
template <int NW>
COMIX_HD int coop_chunk(int tid) { return tid % (8 * NW); }
template <int NW>
COMIX_HD int coop_row(int j, int tid, int k) { return 64 * j + tid / (8 * NW) + 4 * k; }

// Version 14's warp tile holds exactly T rows (T * 128 bytes, not frame_slots(T, 8) * 64 rows), so
// that more blocks fit an SM (two-warp blocks at T <= 300: 3 per SM instead of 2). Lane s's slot f
// is row s + 8 f; only slots of the last block of 8 can lie past the tile (T > 8 * (F - 8), F =
// frame_slots(T, 8)). Such a slot is read at slot 0 instead (its masks are 0: what it reads never
// counts) and is not transposed: exact_slot is the slot whose planes are read for slot f, and
// slots_in_block the slots of block j that lie inside the tile (8 for every block but the last).
COMIX_HD int exact_slot(int f, int F, int s, int T) { return f < F - 8 || s + 8 * f < T ? f : 0; }
COMIX_HD int slots_in_block(int j, int s, int T) {
  const int v = (T - s + 7) / 8 - 8 * j;  // slots f < (T - s + 7) / 8 have s + 8 f < T
  return v < 0 ? 0 : v > 8 ? 8 : v;
}

// Shared-memory word of plane b of (frame t, group g) in a tile of GW groups: each (t, g) owns
// 8 consecutive words (where its 32 raw bytes were staged), planes XOR-swizzled inside them so
// that the 32 lanes of a warp hit 32 banks both when transposing and when counting.
template <int GW>
COMIX_HD int swizzle(int t) { return (t >> (GW == 4 ? 0 : GW == 2 ? 1 : 2)) & 7; }
template <int GW>
COMIX_HD int plane_word(int t, int g, int b) { return (t * GW + g) * 8 + (b ^ swizzle<GW>(t)); }
// The same as a byte offset for all 8 planes of item = t*GW + g at once: the item's 32 bytes are
// 32-byte aligned, so byte offset 4*plane_word(t, g, b) == item_key(item) ^ (4*b): one XOR per
// store instead of the full index arithmetic.
template <int GW>
COMIX_HD uint32_t item_key(uint32_t item) { return item * 32u + 4u * (uint32_t)swizzle<GW>((int)(item / GW)); }
// Shared-memory word (of 8) where raw 16-byte chunk c of frame t's tile row goes: chunk c holds
// bytes 16c..16c+15 of the row; group g owns chunks g and g + GW (pixels 0-15 and 16-31).
template <int GW>
COMIX_HD int raw_word(int t, int c) { return (t * GW + c % GW) * 8 + 4 * (c / GW); }

// Full adder on 32 lanes: (hi, lo) = a + b + c. Each output is written as a function of the
// three inputs alone, so ptxas makes each one LOP3.
COMIX_HD uint32_t maj3(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | (a & c) | (b & c); }
COMIX_HD void csa(uint32_t& hi, uint32_t& lo, uint32_t a, uint32_t b, uint32_t c) {
  hi = maj3(a, b, c);
  lo = a ^ b ^ c;
}

// c += number of set bits among z[0..7], per lane (Harley-Seal: 7 full adders, then the
// eights carried into the upper counter bits): ~19 logic ops per 8 inputs.
COMIX_HD void count8(uint32_t (&c)[kCountBits], const uint32_t (&z)[8]) {
  uint32_t twosA, twosB, foursA, foursB, eights;
  csa(twosA, c[0], c[0], z[0], z[1]);
  csa(twosB, c[0], c[0], z[2], z[3]);
  csa(foursA, c[1], c[1], twosA, twosB);
  csa(twosA, c[0], c[0], z[4], z[5]);
  csa(twosB, c[0], c[0], z[6], z[7]);
  csa(foursB, c[1], c[1], twosA, twosB);
  csa(eights, c[2], c[2], foursA, foursB);
  COMIX_BS_UNROLL
  for (int j = 3; j < kCountBits; ++j) {
    const uint32_t carry = c[j] & eights;
    c[j] ^= eights;
    eights = carry;
  }
}

// a[0..L] = a[0..L-1] + b[0..L-1] (ripple-carry, 2 logic ops per bit; a[L] receives the carry).
COMIX_HD void add_grow(uint32_t* a, const uint32_t* b, int L) {
  uint32_t carry = 0;
  COMIX_BS_UNROLL
  for (int j = 0; j < L; ++j) {
    const uint32_t nc = maj3(a[j], b[j], carry);
    a[j] = a[j] ^ b[j] ^ carry;
    carry = nc;
  }
  a[L] = carry;
}

// One lane's pass b over its frame slots f < nf (a multiple of 8): (UPDATE) narrow the candidate
// masks with the previous pass's decisions d1, d2 (plane b+1); count per pixel the search-1
// candidates whose bit b is 0 into cnt; (EVEN) OR the search-2 candidates whose bit b is 0 into o2.
// plane(f, b) returns plane b of the lane's frame slot f.
// F: the size of the mask arrays (kFrames, or fewer slots per lane when a tile's frames are split
// over several warps, version 13).
// HOLD (version 14): plane b+1 comes from held[f], where the previous pass left it, and plane b
// is left there for the next pass: one load per slot and pass instead of two. Version 14 also
// passes nf = F, a compile-time constant, so the per-block guard folds away and the whole pass is
// one straight-line block the compiler may schedule freely (version 12's runtime guard made every
// block of 8 slots start with its own address math and a full shared-memory load latency, seen in
// its SASS). Slots past T count nothing (their masks are 0).
COMIX_BS_EXEC_CHECK
template <bool EVEN, bool UPDATE, bool HOLD, int F, class Plane>
COMIX_HD void lane_pass_impl(uint32_t (&m1)[F], uint32_t (&m2)[F], uint32_t* held, int nf, int b, uint32_t d1,
                             uint32_t d2, const Plane& plane, uint32_t (&cnt)[kCountBits], uint32_t& o2) {
  static_assert(F % 8 == 0 && F <= kFrames, "slots per lane: whole blocks of 8, at most kFrames");
  COMIX_BS_UNROLL
  for (int j = 0; j < kCountBits; ++j) cnt[j] = 0;
  o2 = 0;
  COMIX_BS_UNROLL
  for (int blk = 0; blk < F / 8; ++blk) {
    if (8 * blk < nf) {
      uint32_t z[8];
      COMIX_BS_UNROLL
      for (int j = 0; j < 8; ++j) {
        const int f = 8 * blk + j;
        const uint32_t p = plane(f, b);
        if (UPDATE) {
          const uint32_t q = HOLD ? held[f] : plane(f, b + 1);
          m1[f] &= ~(q ^ d1);
          if (EVEN) m2[f] &= ~(q ^ d2);
        }
        if (HOLD) held[f] = p;
        z[j] = m1[f] & ~p;
        if (EVEN) o2 |= m2[f] & ~p;
      }
      count8(cnt, z);
    }
  }
}

COMIX_BS_EXEC_CHECK
template <bool EVEN, bool UPDATE, int F, class Plane>
COMIX_HD void lane_pass(uint32_t (&m1)[F], uint32_t (&m2)[F], int nf, int b, uint32_t d1, uint32_t d2,
                        const Plane& plane, uint32_t (&cnt)[kCountBits], uint32_t& o2) {
  lane_pass_impl<EVEN, UPDATE, false>(m1, m2, nullptr, nf, b, d1, d2, plane, cnt, o2);
}

// Version 14's pass over all F slots with the planes held (see lane_pass_impl); the CPU test
// compares its counts and ORs with lane_pass's at every pass.
COMIX_BS_EXEC_CHECK
template <bool EVEN, bool UPDATE, int F, class Plane>
COMIX_HD void lane_pass_held(uint32_t (&m1)[F], uint32_t (&m2)[F], uint32_t (&held)[F], int b, uint32_t d1, uint32_t d2,
                             const Plane& plane, uint32_t (&cnt)[kCountBits], uint32_t& o2) {
  lane_pass_impl<EVEN, UPDATE, true>(m1, m2, held, F, b, d1, d2, plane, cnt, o2);
}

// Per-pixel search state of a 32-pixel group, bit-sliced (NB bits per number).
template <int NB>
struct State {
  uint32_t r1[NB];  // remaining rank of search 1 (lower middle value) among its candidates
  uint32_t r2[NB];  // the same for search 2 while it has not split from search 1
  uint32_t d1[8];   // decided bits, a shift register: d1[0] is the latest pass's (d1[b] = bit b at the end)
  uint32_t d2[8];
  uint32_t split;   // pixels whose two searches have split
};

template <int NB>
COMIX_HD void init_state(State<NB>& st, int64_t T) {
  const int64_t k1 = median_rank_lo(T), k2 = median_rank_hi(T);
  for (int j = 0; j < NB; ++j) {
    st.r1[j] = ((k1 >> j) & 1) ? 0xffffffffu : 0u;
    st.r2[j] = ((k2 >> j) & 1) ? 0xffffffffu : 0u;
  }
  for (int j = 0; j < 8; ++j) st.d1[j] = st.d2[j] = 0;
  st.split = 0;
}

// where c <= r (per lane): r -= c; returns that mask (select_step's "below <= k").
template <int NB>
COMIX_HD uint32_t sub_if_le(uint32_t (&r)[NB], const uint32_t* c) {
  uint32_t d[NB], borrow = 0;
  COMIX_BS_UNROLL
  for (int j = 0; j < NB; ++j) {
    d[j] = r[j] ^ c[j] ^ borrow;
    borrow = maj3(~r[j], c[j], borrow);  // r - c - borrow < 0
  }
  const uint32_t le = ~borrow;
  COMIX_BS_UNROLL
  for (int j = 0; j < NB; ++j) r[j] = (le & d[j]) | (~le & r[j]);
  return le;
}

// Bit b's decision from the group's total count (NB bits) and, for even T, the OR o2.
template <int NB, bool EVEN>
COMIX_HD void decide(State<NB>& st, const uint32_t* cnt, uint32_t o2) {
  const uint32_t bit1 = sub_if_le<NB>(st.r1, cnt);
  uint32_t bit2 = bit1;
  if (EVEN) {
    const uint32_t le2 = sub_if_le<NB>(st.r2, cnt);
    bit2 = (st.split & ~o2) | (~st.split & le2);  // split: the smallest candidate's bit
    st.split |= bit2 & ~bit1;
  }
  COMIX_BS_UNROLL
  for (int j = 7; j > 0; --j) {
    st.d1[j] = st.d1[j - 1];
    st.d2[j] = st.d2[j - 1];
  }
  st.d1[0] = bit1;
  st.d2[0] = bit2;
}

// The result planes after the 8 passes: v1, or (v1 + v2) >> 1 for even T (median_even).
template <int NB, bool EVEN>
COMIX_HD void result_planes(const State<NB>& st, uint32_t (&out)[8]) {
  // after the 8 passes (bit 7 decided first, shifted in at d[0] each time) d[b] holds bit b
  if (!EVEN) {
    for (int b = 0; b < 8; ++b) out[b] = st.d1[b];
    return;
  }
  uint32_t carry = 0;
  COMIX_BS_UNROLL
  for (int b = 0; b < 8; ++b) {
    const uint32_t x = st.d1[b], y = st.d2[b];
    if (b > 0) out[b - 1] = x ^ y ^ carry;  // bit 0 of the sum is dropped
    carry = maj3(x, y, carry);
  }
  out[7] = carry;
}

#if defined(__CUDACC__)
// Versions 12-14 (device only): the byte offsets, inside each item's 32 bytes, of the 8 planes of
// the items of slice s (plane pb at word pb ^ swizzle(s)), and lane L's in-place transposition
// of its 8 items of one block of frame slots (item L + 32 f at byte 32 L + 1024 f of the tile,
// f = 8j..8j+7; blk points at the block's first): 32 raw bytes -> 8 planes each (the CPU test
// runs transpose_sel at the same addresses).
// cp.async groups complete in order: block j has landed when at most `pending` newer groups are
// still in flight (wait_prior needs a compile-time count; at most kFrames/8 - 1 = 4 here).
// (The includer brings cuda_pipeline.h.)
__device__ __forceinline__ void wait_groups(int pending) {
  switch (pending) {
    case 0: __pipeline_wait_prior(0); break;
    case 1: __pipeline_wait_prior(1); break;
    case 2: __pipeline_wait_prior(2); break;
    case 3: __pipeline_wait_prior(3); break;
    default: __pipeline_wait_prior(4); break;
  }
}

// Versions 12-14: one block of 8 frame slots staged by one lane (thread): its 16 copies of 16
// bytes at fixed strides (RPI rows, `step` bytes of the frames, 128 words of shared memory apart;
// rows past T and columns outside the frame, !ok, are skipped), then one cp.async group. The
// cursors are left at the lane's first copy of the next block.
template <int RPI>
__device__ __forceinline__ void stage_block(uint32_t*& dst, const uint8_t*& src, int& t, int T, bool ok, int64_t step) {
#pragma unroll
  for (int k = 0; k < kStageChunksPerLane; ++k) {
    if (ok && t < T) __pipeline_memcpy_async(dst, src, 16);
    t += RPI;
    src += step;
    dst += 128;
  }
  __pipeline_commit();
}

template <int GW>
__device__ __forceinline__ void plane_offsets(int s, uint32_t (&poff)[8]) {
  const int swz = swizzle<GW>(s);
#pragma unroll
  for (int pb = 0; pb < 8; ++pb) poff[pb] = 4u * (uint32_t)(pb ^ swz);
}
// nvalid < 8 (version 14's last block): only the first nvalid items are transposed.
__device__ __forceinline__ void transpose_block(unsigned char* blk, const uint32_t (&poff)[8], int nvalid = 8) {
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    if (i >= nvalid) break;
    const uint4 a = *reinterpret_cast<const uint4*>(blk + 1024 * i);
    const uint4 b = *reinterpret_cast<const uint4*>(blk + 1024 * i + 16);
    uint32_t v[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    transpose_sel(v);
#pragma unroll
    for (int pb = 0; pb < 8; ++pb) *reinterpret_cast<uint32_t*>(blk + 1024 * i + poff[pb]) = v[pb];
  }
}

// The group's total of one pass (device only): the counts of the SW = 2^LOG_SW lanes that share
// the group's pixels (lanes GW << r apart) summed by a shuffle butterfly into tot (kCountBits +
// LOG_SW bits); for even T their ORs o2 too. Every lane of the group ends with the same totals.
// (The CPU test runs the same pairwise adds with the same xor partners.)
template <int NB, int LOG_SW, int GW, bool EVEN>
__device__ __forceinline__ void sum_slices(const uint32_t (&cnt)[kCountBits], uint32_t (&tot)[NB + 1], uint32_t& o2) {
  static_assert(NB == kCountBits + LOG_SW, "NB: the counter bits plus one per butterfly level");
#pragma unroll
  for (int j = 0; j < kCountBits; ++j) tot[j] = cnt[j];
#pragma unroll
  for (int r = 0; r < LOG_SW; ++r) {
    uint32_t other[NB];
#pragma unroll
    for (int j = 0; j < kCountBits + r; ++j) other[j] = __shfl_xor_sync(0xffffffffu, tot[j], GW << r);
    add_grow(tot, other, kCountBits + r);
    if (EVEN) o2 |= __shfl_xor_sync(0xffffffffu, o2, GW << r);
  }
}

// The 8 passes of the search when one warp holds all of a group's frame slots (versions 11 and
// 12): count this lane's slots f < nf, sum over the group's slices, decide.
template <int NB, int LOG_SW, int GW, bool EVEN, int F, class Plane>
__device__ __forceinline__ void search(uint32_t (&m1)[F], uint32_t (&m2)[F], int nf, const Plane& plane,
                                       State<NB>& st) {
  uint32_t cnt[kCountBits], o2;
  for (int b = 7; b >= 0; --b) {
    if (b == 7) lane_pass<EVEN, false>(m1, m2, nf, b, 0u, 0u, plane, cnt, o2);
    else lane_pass<EVEN, true>(m1, m2, nf, b, st.d1[0], st.d2[0], plane, cnt, o2);
    uint32_t tot[NB + 1];
    sum_slices<NB, LOG_SW, GW, EVEN>(cnt, tot, o2);
    decide<NB, EVEN>(st, tot, o2);
  }
}

// Version 14's search: F = all of the lane's slots (compile time), HOLD: lane_pass_held (planes
// of the previous pass in registers) instead of lane_pass (loaded again).
template <int NB, int LOG_SW, int GW, bool EVEN, bool HOLD, int F, class Plane>
__device__ __forceinline__ void search_fixed(uint32_t (&m1)[F], uint32_t (&m2)[F], const Plane& plane, State<NB>& st) {
  uint32_t cnt[kCountBits], o2;
  uint32_t held[HOLD ? F : 1];
  for (int b = 7; b >= 0; --b) {
    if constexpr (HOLD) {
      if (b == 7) lane_pass_held<EVEN, false>(m1, m2, held, b, 0u, 0u, plane, cnt, o2);
      else lane_pass_held<EVEN, true>(m1, m2, held, b, st.d1[0], st.d2[0], plane, cnt, o2);
    } else {
      if (b == 7) lane_pass<EVEN, false>(m1, m2, F, b, 0u, 0u, plane, cnt, o2);
      else lane_pass<EVEN, true>(m1, m2, F, b, st.d1[0], st.d2[0], plane, cnt, o2);
    }
    uint32_t tot[NB + 1];
    sum_slices<NB, LOG_SW, GW, EVEN>(cnt, tot, o2);
    decide<NB, EVEN>(st, tot, o2);
  }
}
#endif

}  // namespace bitslice
}  // namespace comix
#endif
