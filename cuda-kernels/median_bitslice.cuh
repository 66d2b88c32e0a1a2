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
// A tile of GW groups has SW = 32 / GW slices: the butterfly summing their counts has
// kLogSW levels, and a group's total kNB = kCountBits + kLogSW bits.
template <int GW>
constexpr int kLogSW = GW == 4 ? 3 : GW == 2 ? 4 : 5;
template <int GW>
constexpr int kNB = kCountBits + kLogSW<GW>;

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

#if defined(__CUDACC__) || defined(COMIX_BS_EMULATE)
// (COMIX_BS_EMULATE: native/tests/test_median_emulated.cpp compiles what follows for the CPU,
// with the CUDA built-ins it uses emulated on threads.)
// The block's dynamic shared memory, declared where a kernel body uses it (an extern __shared__
// array inside a __device__ function aliases the kernel's, so the code is the kernel's own); the
// CPU emulation supplies its block's buffer instead.
#if defined(COMIX_BS_EMULATE)
#define COMIX_BS_SHARED(name) uint32_t* name = comix_emulated_shared()
#else
#define COMIX_BS_SHARED(name) extern __shared__ __align__(32) uint32_t name[]
#endif

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
COMIX_BS_UNROLL
  for (int k = 0; k < kStageChunksPerLane; ++k) {
    if (ok && t < T) __pipeline_memcpy_async(dst, src, 16);
    t += RPI;
    src += step;
    dst += 128;
  }
  __pipeline_commit();
}

// Versions 12-16: the byte offsets, inside each item's 32 bytes, of the 8 planes of the items of
// slice s (plane pb at word pb ^ swizzle(s)), and lane L's in-place transposition of its 8 items
// of one block of frame slots (item L + 32 f at byte 32 L + 1024 f of the tile, f = 8j..8j+7;
// blk points at the block's first): 32 raw bytes -> 8 planes each (test_median_bitslice runs
// transpose_sel at the same addresses, test_median_emulated the whole kernels).
template <int GW>
__device__ __forceinline__ void plane_offsets(int s, uint32_t (&poff)[8]) {
  const int swz = swizzle<GW>(s);
COMIX_BS_UNROLL
  for (int pb = 0; pb < 8; ++pb) poff[pb] = 4u * (uint32_t)(pb ^ swz);
}
// nvalid < 8 (version 14's last block): only the first nvalid items are transposed.
__device__ __forceinline__ void transpose_block(unsigned char* blk, const uint32_t (&poff)[8], int nvalid = 8) {
COMIX_BS_UNROLL
  for (int i = 0; i < 8; ++i) {
    if (i >= nvalid) break;
    const uint4 a = *reinterpret_cast<const uint4*>(blk + 1024 * i);
    const uint4 b = *reinterpret_cast<const uint4*>(blk + 1024 * i + 16);
    uint32_t v[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    transpose_sel(v);
COMIX_BS_UNROLL
    for (int pb = 0; pb < 8; ++pb) *reinterpret_cast<uint32_t*>(blk + 1024 * i + poff[pb]) = v[pb];
  }
}

// The group's total of one pass: the counts of the SW = 2^LOG_SW lanes that share
// the group's pixels (lanes GW << r apart) summed by a shuffle butterfly into tot (kCountBits +
// LOG_SW bits); for even T their ORs o2 too. Every lane of the group ends with the same totals.
// (The CPU test runs the same pairwise adds with the same xor partners.)
template <int NB, int LOG_SW, int GW, bool EVEN>
__device__ __forceinline__ void sum_slices(const uint32_t (&cnt)[kCountBits], uint32_t (&tot)[NB + 1], uint32_t& o2) {
  static_assert(NB == kCountBits + LOG_SW, "NB: the counter bits plus one per butterfly level");
COMIX_BS_UNROLL
  for (int j = 0; j < kCountBits; ++j) tot[j] = cnt[j];
COMIX_BS_UNROLL
  for (int r = 0; r < LOG_SW; ++r) {
    uint32_t other[NB];
COMIX_BS_UNROLL
    for (int j = 0; j < kCountBits + r; ++j) other[j] = __shfl_xor_sync(0xffffffffu, tot[j], GW << r);
    add_grow(tot, other, kCountBits + r);
    if (EVEN) o2 |= __shfl_xor_sync(0xffffffffu, o2, GW << r);
  }
}

// A group's result bytes (res[i] = pixels 4i..4i+3, transposed back from the decided planes)
// stored: slices 0..7 write one 4-byte word each. Group g holds bytes 16g.. and 16(g + GW).. of
// the tile's row (raw_word), or with contig (rows staged in global order: versions 15-17) bytes
// 32g..32g+31.
template <int GW>
__device__ __forceinline__ void store_result(const uint32_t (&res)[8], int s, int g, uint8_t* out, int64_t e0,
                                             int64_t n, bool vec16, bool contig) {
  if (s < 8) {
    uint32_t word = res[0];
COMIX_BS_UNROLL
    for (int j = 1; j < 8; ++j) word = s == j ? res[j] : word;  // no local-memory indexing
    const int off = contig ? 32 * g + 4 * s : 16 * g + (s >= 4 ? 16 * GW : 0) + 4 * (s & 3);
    const int64_t i = e0 + off;
    if (vec16 && i + 4 <= n) {
      *reinterpret_cast<uint32_t*>(out + i) = word;
    } else {
      for (int j = 0; j < 4; ++j)
        if (i + j < n) out[i + j] = (uint8_t)(word >> (8 * j));
    }
  }
}

// The 8 decided planes of a group (lane g of slice s) back to bytes (bitsel transposition) and
// stored (versions 12-16).
template <int NB, bool EVEN, int GW>
__device__ __forceinline__ void write_result(const State<NB>& st, int s, int g, uint8_t* out, int64_t e0, int64_t n,
                                             bool vec16, bool contig = false) {
  uint32_t res[8];
  result_planes<NB, EVEN>(st, res);
  transpose_sel(res);
  store_result<GW>(res, s, g, out, e0, n, vec16, contig);
}

// The 8 passes of the search when one warp holds all of a group's frame slots: count this
// lane's slots f < nf, sum over the group's slices, decide. HOLD (version 14-16's search_fixed,
// nf = F): each plane stays in a register for the next pass (lane_pass_impl).
template <int NB, int LOG_SW, int GW, bool EVEN, bool HOLD = false, int F, class Plane>
__device__ __forceinline__ void search(uint32_t (&m1)[F], uint32_t (&m2)[F], int nf, const Plane& plane,
                                       State<NB>& st) {
  uint32_t cnt[kCountBits], o2;
  uint32_t held[HOLD ? F : 1] = {};  // the first pass (b = 7) fills it; zeroed for the host compiler's flow analysis
  for (int b = 7; b >= 0; --b) {
    if (b == 7) lane_pass_impl<EVEN, false, HOLD>(m1, m2, held, nf, b, 0u, 0u, plane, cnt, o2);
    else lane_pass_impl<EVEN, true, HOLD>(m1, m2, held, nf, b, st.d1[0], st.d2[0], plane, cnt, o2);
    uint32_t tot[NB + 1];
    sum_slices<NB, LOG_SW, GW, EVEN>(cnt, tot, o2);
    decide<NB, EVEN>(st, tot, o2);
  }
}

// Versions 11 and 12 (and the floor probe): lane (s, g)'s search over its frame slots of a
// transposed tile, into st. Frame slot f of the lane is frame t = s + SW*f: its planes at
// (t*GW + g)*8 + (b ^ swz), and t*GW*8 = s*GW*8 + 256*f, swz = swizzle(t) = swizzle(s) (SW*f is
// a multiple of 8 << shift).
template <int NB, int LOG_SW, int GW, bool EVEN>
__device__ __forceinline__ void search_tile(const uint32_t* tile, int T, int nf, int s, int g, State<NB>& st) {
  constexpr int SW = 32 / GW;
  uint32_t m1[kFrames], m2[kFrames];
  COMIX_BS_UNROLL
  for (int f = 0; f < kFrames; ++f) m1[f] = m2[f] = s + SW * f < T ? 0xffffffffu : 0u;
  init_state<NB>(st, T);
  const uint32_t* mine = tile + (s * GW + g) * 8;
  const int swz = swizzle<GW>(s);
  auto plane = [&](int f, int b) { return mine[256 * f + (b ^ swz)]; };
  search<NB, LOG_SW, GW, EVEN>(m1, m2, nf, plane, st);
}

// Version 14's search: all F of the lane's slots (compile time), the planes of the previous pass
// in registers (lane_pass_held's arithmetic).
template <int NB, int LOG_SW, int GW, bool EVEN, int F, class Plane>
__device__ __forceinline__ void search_fixed(uint32_t (&m1)[F], uint32_t (&m2)[F], const Plane& plane, State<NB>& st) {
  search<NB, LOG_SW, GW, EVEN, true>(m1, m2, F, plane, st);
}

// Bit-sliced kernel median_bitslice (mode kBitslice; logic in median_bitslice.cuh, tested on the CPU).
// One warp per block owns a tile of GW groups of 32 pixels (E = 32*GW bytes per frame) and all
// T frames of it; no block-wide barrier anywhere. Staging: cp.async 16-byte chunks of the raw
// rows into shared memory in 4 batches, each batch transposed in place (8 words per frame and
// group -> 8 bit planes) as soon as it lands while the next ones are in flight. Search: lane
// (s, g) counts group g over frames s, s + SW, ... (SW = 32/GW slices, at most kFrames each,
// candidate masks in registers); per pass the SW lanes of a group add their bit-sliced
// counters with a shuffle butterfly (every lane then holds the group's total) and each decides
// the bit itself. The result planes are transposed back and lane s < 8 writes 4 bytes.
//
// Arithmetic at 1080p x 300 (even T, GW = 4; per lane and 4 x 32-pixel tile column of 300
// frames, i.e. per 38 frame slots): transposition 48 logic ops per 32 bytes; per pass and
// frame 2 LDS + ~6.4 logic ops (2 mask updates, count input, OR input, 2.4 for the counter),
// per pass ~45 logic + 24 SHFL for the butterfly and ~57 for the decision. Total ~7.1 G integer
// ops for the 1.87 GB (3.8 per byte; the byte-SIMD search needs ~9 + loads): 0.43 ms at the
// H200's 16.7 T int ops/s, against ~0.45 ms to read the frames.
//
// LIN: version 17 (mode kBitslice7; variants 14 and 30), the same with version 16's staging:
// chunk c of row t at byte 32 GW t + 16 c of the tile (global byte order), so group g holds bytes
// 32g..32g+31 of a row (session 8 on the H200: cp.async into version 11's permuted destination,
// raw_word, is split into one request per thread and fetches every sector twice). The transposition
// reads each item's 32 contiguous bytes in either layout; only the result's byte offsets follow
// the grouping. For GW = 1 both layouts are the same.
template <int GW, bool EVEN, bool LIN = false>
__device__ __forceinline__ void median_v11(const uint8_t* __restrict__ frames, int T, int64_t n,
                                           uint8_t* __restrict__ out, bool vec16) {
  namespace bs = comix::bitslice;
  COMIX_BS_SHARED(tile);  // [Tpad][GW][8] words
  constexpr int SW = 32 / GW, E = 32 * GW;
  constexpr int LOG_SW = bs::kLogSW<GW>, NB = bs::kNB<GW>;
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile);
  const int lane = threadIdx.x, g = lane % GW, s = lane / GW;
  const int nf = bs::frame_slots(T, SW), Tpad = nf * SW;
  const int64_t e0 = (int64_t)blockIdx.x * E;
  const int w = (int)(n - e0 < E ? n - e0 : E);
  const uint8_t* base = frames + e0;

  // ---- staging + in-place transposition, 4 batches of rows ----
  constexpr int kBatches = 4;
  if (vec16) {
    const int chunks = w / 16;
COMIX_BS_UNROLL
    for (int i = 0; i < kBatches; ++i) {
      const unsigned q0 = Tpad * i / kBatches * (2 * GW), q1 = Tpad * (i + 1) / kBatches * (2 * GW);
      for (unsigned q = q0 + lane; q < q1; q += 32) {
        const int t = (int)(q / (2 * GW)), c = (int)(q % (2 * GW));
        uint32_t* dst = tile + (LIN ? 8 * GW * t + 4 * c : bs::raw_word<GW>(t, c));
        if (t < T && c < chunks) __pipeline_memcpy_async(dst, base + (int64_t)t * n + 16 * c, 16);
        else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
      }
      __pipeline_commit();
    }
  } else {
    for (unsigned q = lane; q < (unsigned)(Tpad * E); q += 32) {
      const int t = (int)(q / E), c = (int)(q % E);
      tile8[LIN ? E * t + c : bs::raw_word<GW>(t, c / 16) * 4 + c % 16] = t < T && c < w ? base[(int64_t)t * n + c] : 0;
    }
  }
COMIX_BS_UNROLL
  for (int i = 0; i < kBatches; ++i) {
    if (vec16) {
      // cp.async groups complete in order: batch i is done when at most kBatches-1-i are pending
      if (i == 0) __pipeline_wait_prior(kBatches - 1);
      else if (i == 1) __pipeline_wait_prior(kBatches - 2);
      else if (i == 2) __pipeline_wait_prior(kBatches - 3);
      else __pipeline_wait_prior(0);
    }
    __syncwarp();
    const unsigned r0 = Tpad * i / kBatches * GW, r1 = Tpad * (i + 1) / kBatches * GW;
    for (unsigned item = r0 + lane; item < r1; item += 32) {
      const uint4* p = reinterpret_cast<const uint4*>(tile + item * 8);
      const uint4 a = p[0], b = p[1];
      uint32_t v[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
      bs::transpose(v);
      const uint32_t key = bs::item_key<GW>(item);  // plane pb at byte key ^ 4*pb
COMIX_BS_UNROLL
      for (unsigned pb = 0; pb < 8; ++pb) *reinterpret_cast<uint32_t*>(tile8 + (key ^ (4u * pb))) = v[pb];
    }
  }
  __syncwarp();

  // ---- 8 passes ----
  bs::State<NB> st;
  bs::search_tile<NB, LOG_SW, GW, EVEN>(tile, T, nf, s, g, st);

  uint32_t res[8];
  bs::result_planes<NB, EVEN>(st, res);
  bs::transpose(res);  // back to bytes: res[i] = pixels 4i..4i+3 of the group
  bs::store_result<GW>(res, s, g, out, e0, n, vec16, LIN);
}

// Version 12 of the bit-sliced kernel (modes kBitslice2; variants 5 and 21): median_bitslice's
// search unchanged, with the instructions around it cut after reading the SASS of the first H200
// run (1.150 ms at 1080p x 300, ~11.6 k warp instructions per tile at ~47% issue efficiency with
// 5 warps per SM). Per lane and tile at T = 300 (GW = 4):
//  * staging was ~34 instructions per 16-byte chunk (signed q / 2GW, q % 2GW, a 64-bit t*n
//    multiply, the zero-fill branch) x 80 chunks = 2.7 k: now one cp.async group per block of
//    8 frame slots, 16 chunks per lane per block at fixed row/byte strides (stage_row): ~5 per
//    chunk. Rows past T and columns past n are left unwritten (their masks are zero).
//  * transposition was ~107 per item (72 logic + per-plane XOR/IMAD address math + loop) x 40 =
//    4.3 k: now bitsel-based (24 LOP3 + 24 shifts, the right ones as IMAD.HI on the FMA pipe),
//    the 8 store addresses per lane computed once
//    (the swizzle of a lane's items is swizzle(s) for all of them), 8 items per block unrolled
//    with immediate offsets: ~60 per item = 2.4 k.
//  * each block is transposed as soon as its own group lands (5 groups instead of 4 batches).
template <int GW, bool EVEN>
__device__ __forceinline__ void median_v12(const uint8_t* __restrict__ frames, int T, int64_t n,
                                           uint8_t* __restrict__ out, bool vec16) {
  namespace bs = comix::bitslice;
  COMIX_BS_SHARED(tile);  // [Tpad][GW][8] words
  constexpr int SW = 32 / GW, E = 32 * GW;
  constexpr int LOG_SW = bs::kLogSW<GW>, NB = bs::kNB<GW>;
  constexpr int RPI = 16 / GW;  // rows between a lane's consecutive chunks in a block
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile);
  const int lane = threadIdx.x, g = lane % GW, s = lane / GW;
  const int nf = bs::frame_slots(T, SW), nblk = nf / 8;
  const int64_t e0 = (int64_t)blockIdx.x * E;
  const int w = (int)(n - e0 < E ? n - e0 : E);
  const uint8_t* base = frames + e0;

  // ---- staging: one cp.async group per block of 8 frame slots ----
  if (vec16) {
    const int c = bs::stage_chunk<GW>(lane);
    const bool col_ok = c < w / 16;
    int t = bs::stage_row<GW>(0, lane, 0);
    const uint8_t* src = base + (int64_t)t * n + 16 * c;
    const int64_t step = (int64_t)RPI * n;
    uint32_t* dst = tile + bs::raw_word<GW>(t, c);  // + 128 words per chunk step
    for (int j = 0; j < nblk; ++j) bs::stage_block<RPI>(dst, src, t, T, col_ok, step);
  } else {
    for (unsigned q = lane; q < (unsigned)(nf * SW * E); q += 32) {
      const int t = (int)(q / E), c = (int)(q % E);
      if (t < T && c < w) tile8[bs::raw_word<GW>(t, c / 16) * 4 + c % 16] = base[(int64_t)t * n + c];
    }
  }

  // ---- transposition, block by block as the groups land ----
  // lane's slot f is item lane + 32 f at byte 32 * lane + 1024 f; its plane pb goes to word pb ^ swz
  unsigned char* my8 = tile8 + 32 * lane;
  uint32_t poff[8];
  bs::plane_offsets<GW>(s, poff);
  for (int j = 0; j < nblk; ++j) {
    if (vec16) bs::wait_groups(nblk - 1 - j);
    __syncwarp();
    unsigned char* blk = my8 + 8192 * j;
    bs::transpose_block(blk, poff);
  }
  __syncwarp();

  // ---- 8 passes: as median_bitslice ----
  bs::State<NB> st;
  bs::search_tile<NB, LOG_SW, GW, EVEN>(tile, T, nf, s, g, st);

  bs::write_result<NB, EVEN, GW>(st, s, g, out, e0, n, vec16);
}

// Version 13 (mode kBitslice3; variants 7 and 23): version 12 with a tile's frames split over NW
// warps of one block (NW = 2 or 4). Measured on the H200 (RESULTS.md): version 11 keeps the
// integer pipe ~65% busy with 5 one-warp blocks per SM (40 KB of shared memory each at T = 300),
// the 2-groups-per-warp variant (9 warps per SM) ~80%, and version 12, with a third fewer
// instructions than version 11 but the same 5 warps, only ~42%: each warp's long serial parts
// (the staging wait, the butterfly and decision after every pass) are left uncovered by too few
// other warps. Here the same 40 KB tile is worked on by NW warps: warp w stages, transposes and
// counts only its own blocks of 8 frame slots (blocks w*nblk/NW ... (w+1)*nblk/NW - 1, the
// layout of version 12 unchanged), sums its group counts over its slices with the same shuffle
// butterfly, and then the NW partial totals are added through shared memory (one barrier per
// pass, the exchange double-buffered by pass parity); every warp makes the same decision, warp 0
// writes the result. Per tile: the counting work of version 12, the butterfly and decision NW
// times (~+1 k instructions at NW = 2), but NW times the warps per SM for the same shared memory
// and a counting phase per warp NW times shorter.
template <int GW, bool EVEN, int NW>
__device__ __forceinline__ void median_v13(const uint8_t* __restrict__ frames, int T, int64_t n,
                                           uint8_t* __restrict__ out, bool vec16) {
  namespace bs = comix::bitslice;
  COMIX_BS_SHARED(tile);  // [Tpad][GW][8] words, then the exchange
  constexpr int SW = 32 / GW, E = 32 * GW;
  constexpr int LOG_SW = bs::kLogSW<GW>, NB = bs::kNB<GW>;
  constexpr int RPI = 16 / GW;
  constexpr int F = 8 * ((bs::kFrames / 8 + NW - 1) / NW);  // slots per lane: 24 (NW = 2), 16 (NW = 4)
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane % GW, s = lane / GW;
  const int nf = bs::frame_slots(T, SW), nblk = nf / 8;
  const int j0 = warp * nblk / NW, j1 = (warp + 1) * nblk / NW;  // this warp's blocks
  const int64_t e0 = (int64_t)blockIdx.x * E;
  const int w = (int)(n - e0 < E ? n - e0 : E);
  const uint8_t* base = frames + e0;
  uint32_t* xch = tile + nf * SW * GW * 8;  // [2][NW][GW][NB + 1]: totals (NB words) and o2

  // ---- staging of this warp's blocks: one cp.async group per block, as version 12 ----
  if (vec16) {
    const int c = bs::stage_chunk<GW>(lane);
    const bool col_ok = c < w / 16;
    int t = bs::stage_row<GW>(j0, lane, 0);
    const uint8_t* src = base + (int64_t)t * n + 16 * c;
    const int64_t step = (int64_t)RPI * n;
    uint32_t* dst = tile + bs::raw_word<GW>(t, c);
    for (int j = j0; j < j1; ++j) bs::stage_block<RPI>(dst, src, t, T, col_ok, step);
  } else {
    const int row0 = 8 * SW * j0;
    for (unsigned q = lane; q < (unsigned)((j1 - j0) * 8 * SW * E); q += 32) {
      const int t = row0 + (int)(q / E), c = (int)(q % E);
      if (t < T && c < w) tile8[bs::raw_word<GW>(t, c / 16) * 4 + c % 16] = base[(int64_t)t * n + c];
    }
  }

  // ---- transposition of this warp's blocks as their groups land ----
  const int swz = bs::swizzle<GW>(s);
  unsigned char* my8 = tile8 + 32 * lane;
  uint32_t poff[8];
  bs::plane_offsets<GW>(s, poff);
  for (int j = j0; j < j1; ++j) {
    if (vec16) bs::wait_groups(j1 - 1 - j);
    __syncwarp();
    unsigned char* blk = my8 + 8192 * j;
    bs::transpose_block(blk, poff);
  }
  __syncwarp();

  // ---- 8 passes: this warp's slots, then the NW partial totals added ----
  const int nfw = 8 * (j1 - j0);
  uint32_t m1[F], m2[F];
COMIX_BS_UNROLL
  for (int f = 0; f < F; ++f) m1[f] = m2[f] = f < nfw && s + SW * (8 * j0 + f) < T ? 0xffffffffu : 0u;
  bs::State<NB> st;
  bs::init_state<NB>(st, T);
  const uint32_t* mine = tile + (s * GW + g) * 8 + 2048 * j0;
  auto plane = [&](int f, int b) { return mine[256 * f + (b ^ swz)]; };
  uint32_t cnt[bs::kCountBits], o2;
  for (int b = 7; b >= 0; --b) {
    if (b == 7) bs::lane_pass<EVEN, false>(m1, m2, nfw, b, 0u, 0u, plane, cnt, o2);
    else bs::lane_pass<EVEN, true>(m1, m2, nfw, b, st.d1[0], st.d2[0], plane, cnt, o2);
    uint32_t tot[NB + 1];
    bs::sum_slices<NB, LOG_SW, GW, EVEN>(cnt, tot, o2);
    uint32_t* buf = xch + (b & 1) * NW * GW * (NB + 1);
    if (s == 0) {
      uint32_t* d = buf + (warp * GW + g) * (NB + 1);
COMIX_BS_UNROLL
      for (int j = 0; j < NB; ++j) d[j] = tot[j];
      d[NB] = o2;
    }
    __syncthreads();
    // the sum over warps in warp order (exact integers: every warp gets the same total)
    uint32_t acc[NB + 1];
    const uint32_t* src = buf + g * (NB + 1);
COMIX_BS_UNROLL
    for (int j = 0; j < NB; ++j) acc[j] = src[j];
    uint32_t o2all = src[NB];
COMIX_BS_UNROLL
    for (int v = 1; v < NW; ++v) {
      const uint32_t* sv = src + v * GW * (NB + 1);
      uint32_t other[NB];
COMIX_BS_UNROLL
      for (int j = 0; j < NB; ++j) other[j] = sv[j];
      bs::add_grow(acc, other, NB);  // the total is at most T < 2^NB: acc[NB] stays 0
      o2all |= sv[NB];
    }
    bs::decide<NB, EVEN>(st, acc, o2all);
  }

  if (warp != 0) return;
  bs::write_result<NB, EVEN, GW>(st, s, g, out, e0, n, vec16);
}

// Version 15's staging by the Hopper bulk copy engine: one cp.async.bulk per 128-byte row piece,
// completion counted in bytes on an mbarrier per block of 8 frame slots (sm_90 only; the
// launcher runs version 15 on compute capability 9 and up, the bodies are empty below that).
#if defined(COMIX_BS_EMULATE)
void bulk_bar_init(uint64_t* bar);                                             // the emulation's
void bulk_bar_arm(uint64_t* bar, uint32_t bytes);                              // (native/tests/
void bulk_copy(void* dst, const void* src, uint32_t bytes, uint64_t* bar);    // test_median_
void bulk_bar_wait(uint64_t* bar);                                             // emulated.cpp)
#else
__device__ __forceinline__ uint32_t smem32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
// mbarrier with one expected arrival (bulk_bar_arm's), made visible to the copy engine
__device__ __forceinline__ void bulk_bar_init(uint64_t* bar) {
#if __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem32(bar)) : "memory");
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
#endif
}
// the one arrival, announcing the bytes the phase waits for
__device__ __forceinline__ void bulk_bar_arm(uint64_t* bar, uint32_t bytes) {
#if __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem32(bar)), "r"(bytes) : "memory");
#endif
}
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
#if __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(smem32(dst)),
               "l"(src), "r"(bytes), "r"(smem32(bar))
               : "memory");
#endif
}
// waits for phase 0 (each barrier is used once); a phase that never completes (bytes announced
// that no copy delivers) traps after ~2^24 polls instead of hanging the kernel
__device__ __forceinline__ void bulk_bar_wait(uint64_t* bar) {
#if __CUDA_ARCH__ >= 900
  uint32_t done = 0;
  for (uint32_t polls = 0; !done; ++polls) {
    if (polls == (1u << 24)) __trap();
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n selp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(smem32(bar))
                 : "memory");
  }
#endif
}
#endif

// Version 14 (kernel median_bitslice4, mode kBitslice4; variants 11, 27, 59, 43: 1, 2, 3, 4 warps
// per block): version 12's tile
// (GW = 4), transposition and search for 128 < T <= 320, with two changes read off the SASS of
// version 12 (built here, no card) and the phase probes of session 5 (RESULTS.md):
//  * The lane's slot count is a template constant (NBLK blocks of 8 = frame_slots(T, 8) / 8), so
//    each pass is one straight-line block. In version 12 every block of 8 slots sat behind a
//    runtime guard (8 * blk < nf): each started with ~10 instructions of address math and then
//    waited the full shared-memory latency for its first plane before any logic could issue, 5
//    blocks x 8 passes per tile with only 5 warps per SM to cover it (Nsight: short-scoreboard
//    0.95 + wait 1.01 stall cycles per issued instruction). Each plane is also kept in a register
//    for the next pass's mask update (lane_pass_held: one load per slot and pass instead of two;
//    221 registers at T = 300, even, which do not limit the 5-6 warps per SM that shared memory
//    allows).
//  * NW warps per block share the staging: each row piece the block reads is NW x 128 contiguous
//    bytes (one warp instruction covers 512 B of one frame at NW = 4, instead of 4 frames' 128 B
//    each), then a block barrier per block of 8 slots; each warp still transposes and searches
//    its own 128-byte column. Session 5 read these tiles' staging at 2.09 TB/s against 4.56 for
//    the same bytes read contiguously.
//  * Each warp's tile holds exactly T rows (T * 128 bytes; versions 11-13 round up to whole
//    blocks of 64 rows: 40 KB at T = 300), so at T <= 300 three two-warp blocks fit an SM
//    (3 x (75 + 1 reserved) KB = 228 KB): 6 warps per SM with 256-byte row pieces, where padded
//    tiles gave 4; three-warp blocks fit twice (6 warps, 384-byte pieces). Slots past T are read at slot 0 and not transposed (exact_slot, slots_in_block).
// Vector path only (n % 16 == 0, 16-byte aligned): the launcher sends other inputs to version 12.
//
// BULK: version 15 (kernel median_bitslice5, mode kBitslice5; variants 12 and 28: 1 and 3 warps
// per block), the same with each warp staging its own column by the bulk copy engine: lane l
// copies rows 64j + l and 64j + l + 32 of slot block j (128 bytes each, one cp.async.bulk),
// NBLK mbarriers per warp after the tiles count the bytes, and each warp waits only for its own
// (no block barrier). The rows land in global byte order, so group g holds bytes 32g..32g+31 of
// a row (write_result's contig). For the session-7 probe ("stage bulk"): if the bulk engine reads
// the 128-byte row pieces faster than cp.async's 2.09 TB/s, this is the version that uses it.
// Shared memory: NW * (T * 128 + NBLK * 8) bytes (two three-warp blocks per SM at T = 300).
//
// LIN: version 16 (kernel median_bitslice6, mode kBitslice6; variants 13 and 29: 1 and 2 warps
// per block; 8 <= T <= 320, so that exact_slot's slot 0 lies inside the tile), version 14 with
// each 16-byte chunk staged where version 15's bulk copies put it: chunk c of row t at byte
// 128 t + 16 c of its warp's tile (global byte order), so group g holds bytes 32g..32g+31 of a
// row and the rest is version 15's (transposition at the same addresses, write_result's
// contig). Why: on the H200 (session 8) Nsight Compute counted 30 L2 sectors and 30
// shared-memory wavefronts per warp-wide cp.async of versions 11-14 instead of 15 and ~4: their
// destination (raw_word: chunk c at 32 (c % 4) + 16 (c / 4) within the row) is a permutation of
// the row's 16-byte chunks, which splits each copy into one request per thread; every 32-byte
// sector was fetched twice (L2 hit rate 60%, L2 busy 86% at 1.9 TB/s of DRAM). Staging alone
// into rows in global order read the same 128-byte pieces at 4.35 TB/s (probe "stage rows 128 B
// 1w x5"); version 16 ran 1080p x 300 in 0.760 ms on 2 warps (version 14: 1.010).
template <bool EVEN, int NBLK, int NW, bool BULK = false, bool LIN = false>
__device__ __forceinline__ void median_v14(const uint8_t* __restrict__ frames, int T, int64_t n,
                                           uint8_t* __restrict__ out) {
  namespace bs = comix::bitslice;
  COMIX_BS_SHARED(tiles);  // NW x [T][GW][8] words (BULK: then NW x NBLK mbarriers)
  constexpr int GW = 4, SW = 8, LOG_SW = 3, NB = bs::kCountBits + LOG_SW, F = 8 * NBLK;
  const int tile_words = T * GW * 8;          // one warp's tile: exactly T rows of 128 bytes
  constexpr int RPI = 4;                       // rows per block-wide round of copies (coop_row)
  static_assert(RPI * bs::kStageChunksPerLane == 8 * SW, "a block of 8 slots is 16 rounds of copies");
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane % GW, s = lane / GW;
  uint32_t* tile = tiles + warp * tile_words;
  unsigned char* tile8 = reinterpret_cast<unsigned char*>(tile);
  const int64_t eb = (int64_t)blockIdx.x * (128 * NW), e0 = eb + 128 * warp;

  // BULK: warp w's barriers, after the NW tiles (8-byte aligned: T * 128 is a multiple of 8)
  uint64_t* bars = reinterpret_cast<uint64_t*>(tiles + NW * tile_words) + NBLK * warp;
  if (BULK && e0 < n) {  // a warp past the frame's end stages nothing and writes nothing
    // the column's bytes inside the frame: 128, or fewer (a multiple of 16) at its end
    const uint32_t w = (uint32_t)(n - e0 < 128 ? n - e0 : 128);
    if (lane == 0)
      for (int j = 0; j < NBLK; ++j) bs::bulk_bar_init(bars + j);
    __syncwarp();
    if (lane == 0)
      for (int j = 0; j < NBLK; ++j) {  // rows 64j .. of block j that lie inside the T rows
        const int rows = T - 64 * j < 64 ? T - 64 * j : 64;
        bs::bulk_bar_arm(bars + j, (uint32_t)rows * w);
      }
    __syncwarp();
    for (int j = 0; j < NBLK; ++j)
      for (int r = 64 * j + lane; r < 64 * (j + 1) && r < T; r += 32)
        bs::bulk_copy(tile8 + 128 * r, frames + e0 + (int64_t)r * n, w, bars + j);
  }
  // ---- staging: thread tid copies chunk coop_chunk(tid) of rows coop_row(j, tid, k) ----
  if (!BULK) {
    const int c = bs::coop_chunk<NW>(tid), wc = c / 8, cl = c % 8;
    const bool col_ok = 16 * (int64_t)c < n - eb;
    int t = bs::coop_row<NW>(0, tid, 0);
    const uint8_t* src = frames + eb + (int64_t)t * n + 16 * c;
    const int64_t step = (int64_t)RPI * n;
    // + 128 words per round (4 rows) in either layout
    uint32_t* dst = tiles + wc * tile_words + (LIN ? 32 * t + 4 * cl : bs::raw_word<GW>(t, cl));
COMIX_BS_UNROLL
    for (int j = 0; j < NBLK; ++j) bs::stage_block<RPI>(dst, src, t, T, col_ok, step);
  }

  // ---- transposition of the warp's own column, block by block as the groups land ----
  const int swz = bs::swizzle<GW>(s);
  unsigned char* my8 = tile8 + 32 * lane;
  uint32_t poff[8];
  bs::plane_offsets<GW>(s, poff);
COMIX_BS_UNROLL
  for (int j = 0; j < NBLK; ++j) {
    if (BULK) {
      if (e0 < n) bs::bulk_bar_wait(bars + j);
    } else {
      bs::wait_groups(NBLK - 1 - j);
      if (NW > 1) __syncthreads();  // other warps' copies into this warp's column
      else __syncwarp();
    }
    unsigned char* blk = my8 + 8192 * j;
    bs::transpose_block(blk, poff, j < NBLK - 1 ? 8 : bs::slots_in_block(j, s, T));
  }
  __syncwarp();

  // ---- 8 passes over all F slots, straight-line (slots past T read at slot 0, masks 0) ----
  uint32_t m1[F], m2[F];
COMIX_BS_UNROLL
  for (int f = 0; f < F; ++f) m1[f] = m2[f] = s + SW * f < T ? 0xffffffffu : 0u;
  bs::State<NB> st;
  bs::init_state<NB>(st, T);
  const uint32_t* mine = tile + (s * GW + g) * 8;
  auto plane = [&](int f, int b) { return mine[256 * bs::exact_slot(f, F, s, T) + (b ^ swz)]; };
  bs::search_fixed<NB, LOG_SW, GW, EVEN>(m1, m2, plane, st);

  if (e0 < n) write_result<NB, EVEN, GW>(st, s, g, out, e0, n, true, BULK || LIN);
}
#endif

}  // namespace bitslice
}  // namespace comix
#endif
