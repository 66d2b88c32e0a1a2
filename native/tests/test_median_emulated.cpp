// The CUDA median's bit-sliced kernel bodies (comix::bitslice::median_v11 ... median_v14, versions
// 11-17, in median_bitslice.cuh, launched by median_bitslice ... median_bitslice6 in temporal_median.cu)
// run on the CPU: the kernels' own code with the CUDA built-ins they use emulated. Every CUDA
// thread of a block is a fiber, __syncthreads and __syncwarp are barriers, __shfl_xor_sync
// exchanges through a per-warp array between two warp barriers, cp.async copies land at the wait
// that covers them, and bulk copies count their bytes on the emulated mbarrier.
// test_median_bitslice checks the pieces (search, staging order, exact-T slots); this checks how
// each kernel puts them together (staging, in-place transposition, the warps' columns, the
// version-13 exchange, the results and their tails), which otherwise only a GPU would. Shared
// memory (the size each launcher asks for), frames and output each end at an inaccessible page,
// so a read or write past them crashes the test; unwritten shared memory is poisoned.
#include <sys/mman.h>
#include <unistd.h>

#include <ucontext.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "test_util.h"

namespace emu {
struct Index { unsigned x = 0; };
Index thread_index, block_index;  // of the fiber that runs (set at every switch)

class Barrier;

// The threads of one block as fibers (ucontext) on the calling thread. A fiber runs until it
// waits at a barrier; the scheduler then resumes a fiber drawn at random (from the test's seeded
// generator) among those that can run, i.e. have not ended and are not waiting at a barrier that
// has not been released yet. One warp of each block, drawn at random, is starved: it runs only
// when nothing else can, so the other warps run as far ahead of it as the barriers allow. A
// missing barrier or a shared buffer reused too early then shows up as wrong results (with
// round-robin order, or a random order without a starved warp, one such fault went unnoticed);
// fibers that all wait for each other are a deadlock and fail the test. No kernel wake-ups: a
// std::thread per CUDA thread with condition variables took ~20x longer.
class Fibers {
 public:
  template <class Body>
  void run(int threads, const Body& body) {
    body_ = [&body] { body(); };
    fibers_.assign((size_t)threads, Fiber{});
    const int warps = (threads + 31) / 32;
    starved_ = warps > 1 ? (int)(rng()() % (uint64_t)warps) : -1;
    for (int t = 0; t < threads; ++t) {
      Fiber& f = fibers_[(size_t)t];
      f.stack.resize(kStack);
      CHECK(getcontext(&f.ctx) == 0, "getcontext");
      f.ctx.uc_stack.ss_sp = f.stack.data();
      f.ctx.uc_stack.ss_size = f.stack.size();
      f.ctx.uc_link = &main_;
      makecontext(&f.ctx, &Fibers::entry, 0);
    }
    for (int next = pick(); next >= 0; next = pick()) {  // back here whenever a fiber ends
      current_ = next;
      thread_index.x = (unsigned)next;
      CHECK(swapcontext(&main_, &fibers_[(size_t)next].ctx) == 0, "swapcontext");
    }
    for (const Fiber& f : fibers_) CHECK(f.done, "emulated block deadlocked: threads wait at barriers for each other");
  }
  // The running fiber waits until barrier b's generation differs from gen.
  void wait(const Barrier* b, long gen) {
    fibers_[(size_t)current_].barrier = b;
    fibers_[(size_t)current_].gen = gen;
    park();
  }
  // The running fiber waits until ready() holds (an mbarrier's bytes have all arrived).
  void wait_until(std::function<bool()> ready) {
    if (ready()) return;
    fibers_[(size_t)current_].until = std::move(ready);
    park();
  }

 private:
  void park() {
    const int from = current_;
    const int to = pick();
    CHECK(to >= 0, "emulated block deadlocked at a barrier");
    if (to < 0) std::abort();
    if (to != from) {
      current_ = to;
      thread_index.x = (unsigned)to;
      CHECK(swapcontext(&fibers_[(size_t)from].ctx, &fibers_[(size_t)to].ctx) == 0, "swapcontext");
      current_ = from;
      thread_index.x = (unsigned)from;
    }
    fibers_[(size_t)from].barrier = nullptr;
    fibers_[(size_t)from].until = nullptr;
  }

  static constexpr size_t kStack = 256 * 1024;
  struct Fiber {
    ucontext_t ctx{};
    std::vector<char> stack;
    bool done = false;
    const Barrier* barrier = nullptr;  // waiting at, for a generation other than gen
    long gen = 0;
    std::function<bool()> until;  // or waiting until this holds
  };
  static void entry();
  bool runnable(int t) const;
  // A random runnable fiber, the starved warp's only when no other can run; -1 when none can.
  int pick() {
    int any = 0, others = 0;
    for (int t = 0; t < (int)fibers_.size(); ++t)
      if (runnable(t)) {
        ++any;
        others += t / 32 != starved_;
      }
    if (any == 0) return -1;
    const bool skip_starved = others > 0;
    int k = (int)(rng()() % (uint64_t)(skip_starved ? others : any));
    for (int t = 0; t < (int)fibers_.size(); ++t)
      if (runnable(t) && !(skip_starved && t / 32 == starved_) && k-- == 0) return t;
    return -1;
  }
  std::function<void()> body_;
  std::vector<Fiber> fibers_;
  ucontext_t main_{};
  int current_ = 0, starved_ = -1;
};
Fibers fibers;

class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    const long gen = gen_;
    if (++count_ == n_) {
      count_ = 0;
      ++gen_;
      return;
    }
    fibers.wait(this, gen);
  }
  long generation() const { return gen_; }

 private:
  const int n_;
  int count_ = 0;
  long gen_ = 0;
};

inline bool Fibers::runnable(int t) const {
  const Fiber& f = fibers_[(size_t)t];
  return !f.done && (f.barrier == nullptr || f.barrier->generation() != f.gen) && (!f.until || f.until());
}

inline void Fibers::entry() {
  fibers.body_();
  fibers.fibers_[(size_t)fibers.current_].done = true;
}  // returns to main_ (uc_link), which picks the next fiber

struct Block {
  explicit Block(int warps) : all(32 * warps), xch(32 * warps) {
    for (int w = 0; w < warps; ++w) warp.emplace_back(new Barrier(32));
  }
  Barrier all;
  std::vector<std::unique_ptr<Barrier>> warp;
  std::vector<uint32_t> xch;
};
Block* block = nullptr;

// size bytes ending right at a PROT_NONE page (start aligned to 128 bytes when size is a multiple).
class Guarded {
 public:
  explicit Guarded(size_t size) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    span_ = (size + page - 1) / page * page + page;
    base_ = static_cast<unsigned char*>(mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    CHECK(base_ != MAP_FAILED, "mmap");
    CHECK(mprotect(base_ + span_ - page, page, PROT_NONE) == 0, "mprotect");
    data_ = base_ + (span_ - page) - size;
  }
  ~Guarded() { munmap(base_, span_); }
  unsigned char* data() { return data_; }

 private:
  size_t span_;
  unsigned char* base_;
  unsigned char* data_;
};
}  // namespace emu

// The CUDA built-ins the kernel bodies use, on the emulated threads.
#define threadIdx emu::thread_index
#define blockIdx emu::block_index
#define __device__
#define __forceinline__ inline
struct uint4 {
  uint32_t x, y, z, w;
};
inline void __syncthreads() { emu::block->all.wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::block->warp[threadIdx.x / 32]->wait(); }
inline uint32_t __shfl_xor_sync(unsigned, uint32_t v, int lane_mask) {
  const unsigned t = threadIdx.x, w = t / 32, l = t % 32;
  emu::block->xch[t] = v;
  __syncwarp();
  const uint32_t r = emu::block->xch[w * 32 + (l ^ (unsigned)lane_mask)];
  __syncwarp();
  return r;
}
inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return uint4{x, y, z, w}; }
// cp.async: a thread's copies are queued and land only when a wait covers their committed group
// (__pipeline_wait_prior(k) lands all but the newest k groups), so a wrong wait count, or a read
// before the wait, reads poisoned shared memory.
namespace emu {
struct AsyncCopy {
  void* dst;
  const void* src;
  size_t n;
};
struct Pipeline {
  std::vector<AsyncCopy> open;                   // issued since the last commit
  std::vector<std::vector<AsyncCopy>> committed;  // oldest first
};
std::vector<Pipeline> pipes;  // per thread of the running block
}  // namespace emu
inline void __pipeline_memcpy_async(void* dst, const void* src, size_t n) {
  emu::pipes[threadIdx.x].open.push_back(emu::AsyncCopy{dst, src, n});
}
inline void __pipeline_commit() {
  emu::Pipeline& p = emu::pipes[threadIdx.x];
  p.committed.push_back(std::move(p.open));
  p.open.clear();
}
inline void __pipeline_wait_prior(size_t k) {
  emu::Pipeline& p = emu::pipes[threadIdx.x];
  size_t landed = 0;
  for (; p.committed.size() - landed > k; ++landed)
    for (const emu::AsyncCopy& c : p.committed[landed]) std::memcpy(c.dst, c.src, c.n);
  p.committed.erase(p.committed.begin(), p.committed.begin() + (std::ptrdiff_t)landed);
}
namespace emu {
uint32_t* shared = nullptr;
}
inline uint32_t* comix_emulated_shared() { return emu::shared; }

// Version 15's bulk copies: an mbarrier is a count of expected and arrived bytes (kept beside
// the 8 bytes the kernel reserves for it, keyed by their address); a copy lands at once and
// counts its bytes; a wait parks the fiber until the armed count has arrived.
namespace emu {
struct MBar {
  bool armed = false;
  uint64_t expected = 0, arrived = 0;
};
std::map<const void*, MBar> mbars;  // cleared for every block
}  // namespace emu
namespace comix {
namespace bitslice {
void bulk_bar_init(uint64_t* bar) { emu::mbars[bar] = emu::MBar{}; }
void bulk_bar_arm(uint64_t* bar, uint32_t bytes) {
  emu::MBar& m = emu::mbars.at(bar);
  CHECK(!m.armed, "an mbarrier armed twice");
  m.armed = true;
  m.expected += bytes;
}
void bulk_copy(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
  CHECK(bytes % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 16 == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0,
        "cp.async.bulk needs 16-byte sizes and addresses");
  std::memcpy(dst, src, bytes);
  emu::mbars.at(bar).arrived += bytes;
}
void bulk_bar_wait(uint64_t* bar) {
  emu::fibers.wait_until([bar] {
    const emu::MBar& m = emu::mbars.at(bar);
    return m.armed && m.arrived == m.expected;
  });
  const emu::MBar& m = emu::mbars.at(bar);
  CHECK(m.arrived == m.expected, "more bytes arrived than the mbarrier expected");
}
}  // namespace bitslice
}  // namespace comix

#define COMIX_BS_EMULATE 1
#include "median_bitslice.cuh"

namespace bs = comix::bitslice;

// One launch: `blocks` blocks of `threads` threads, each block with its own smem_bytes of
// poisoned, guarded shared memory; body() is the kernel body (reads threadIdx/blockIdx).
template <class Body>
static void run_grid(int64_t blocks, int threads, size_t smem_bytes, const Body& body) {
  for (int64_t b = 0; b < blocks; ++b) {
    // CUDA's dynamic shared memory starts aligned; the guard page follows the size rounded to 128
    emu::Guarded smem((smem_bytes + 127) / 128 * 128);
    uint32_t* words = reinterpret_cast<uint32_t*>(smem.data());
    for (size_t i = 0; i < smem_bytes / 4; ++i) words[i] = 0xdeadbeefu ^ (uint32_t)(i * 2654435761u);
    emu::Block blk(threads / 32);
    emu::mbars.clear();
    emu::pipes.assign((size_t)threads, emu::Pipeline{});
    emu::block_index.x = (unsigned)b;
    emu::block = &blk;
    emu::shared = words;
    emu::fibers.run(threads, body);
    for (const emu::Pipeline& p : emu::pipes)
      CHECK(p.open.empty() && p.committed.empty(), "block %lld ended with cp.async copies never waited for", (long long)b);
  }
}

static std::vector<uint8_t> frames_for(int T, int64_t n, int pattern) {
  std::vector<uint8_t> f;
  if (pattern == 0) {
    f = random_frames(T * n);
  } else if (pattern == 1) {
    f = random_frames(T * n, 3);  // ties everywhere
  } else {  // video-like: a background per element plus small noise
    f.resize((size_t)(T * n));
    auto& g = rng();
    for (int64_t i = 0; i < n; ++i) {
      const int bg = (int)(g() % 256);
      for (int t = 0; t < T; ++t) f[(size_t)(t * n + i)] = (uint8_t)std::min(255, std::max(0, bg + (int)(g() % 9) - 4));
    }
  }
  return f;
}

// Version 11 / 12 / 13 / 17 (version = 11, 12, 13, 17; nw: 13's warps per tile) with GW groups, as the
// launchers in temporal_median.cu run them (grid, threads, shared memory, vec16). The guarded
// buffers end at a page boundary, so with n % 16 == 0 frames and output start 16-byte aligned
// and vec16 holds (cp.async staging); odd n takes the byte path.
template <int GW, bool EVEN>
static void launch_v11_13(int version, int nw, const uint8_t* frames, int T, int64_t n, uint8_t* out) {
  constexpr int SW = 32 / GW, NB = bs::kNB<GW>;
  const bool vec16 = n % 16 == 0 && reinterpret_cast<uintptr_t>(frames) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 4 == 0;
  const size_t tile = (size_t)bs::frame_slots(T, SW) * SW * GW * 32;
  const int64_t blocks = (n + 32 * GW - 1) / (32 * GW);
  if (version == 11) run_grid(blocks, 32, tile, [&] { bs::median_v11<GW, EVEN>(frames, T, n, out, vec16); });
  if (version == 17) run_grid(blocks, 32, tile, [&] { bs::median_v11<GW, EVEN, true>(frames, T, n, out, vec16); });
  if (version == 12) run_grid(blocks, 32, tile, [&] { bs::median_v12<GW, EVEN>(frames, T, n, out, vec16); });
  const size_t xch = (size_t)2 * nw * GW * (NB + 1) * 4;
  if (version == 13 && nw == 2) run_grid(blocks, 64, tile + xch, [&] { bs::median_v13<GW, EVEN, 2>(frames, T, n, out, vec16); });
  if (version == 13 && nw == 4) run_grid(blocks, 128, tile + xch, [&] { bs::median_v13<GW, EVEN, 4>(frames, T, n, out, vec16); });
}

// BULK: version 15, its NBLK mbarriers per warp after the tiles (as its launcher allocates);
// LIN: version 16 (rows staged in global byte order).
template <bool EVEN, int NBLK, int NW, bool BULK, bool LIN = false>
static void launch_v14(const uint8_t* frames, int T, int64_t n, uint8_t* out) {
  run_grid((n + 128 * NW - 1) / (128 * NW), 32 * NW, (size_t)NW * (T * 128 + (BULK ? NBLK * 8 : 0)),
           [&] { bs::median_v14<EVEN, NBLK, NW, BULK, LIN>(frames, T, n, out); });
}

// version 11, 12, 13 (nw = 2 or 4), 14 (nw = 1..4), 15 (nw = 1..4) or 16 (nw = 1, 2); gw: groups per
// warp tile (11-13).
static void check(int version, int nw, int gw, int T, int64_t n, int pattern) {
  const auto f = frames_for(T, n, pattern);
  const auto ref = median_oracle(f, T, n);
  emu::Guarded frames((size_t)(T * n)), out((size_t)n);
  std::memcpy(frames.data(), f.data(), f.size());
  std::memset(out.data(), 0xAB, (size_t)n);
  const bool even = T % 2 == 0;
  if (version < 14 || version == 17) {
    if (gw == 4) even ? launch_v11_13<4, true>(version, nw, frames.data(), T, n, out.data())
                     : launch_v11_13<4, false>(version, nw, frames.data(), T, n, out.data());
    if (gw == 2) even ? launch_v11_13<2, true>(version, nw, frames.data(), T, n, out.data())
                     : launch_v11_13<2, false>(version, nw, frames.data(), T, n, out.data());
    if (gw == 1) even ? launch_v11_13<1, true>(version, nw, frames.data(), T, n, out.data())
                     : launch_v11_13<1, false>(version, nw, frames.data(), T, n, out.data());
  } else if (version == 16) {
    const int nblk = bs::frame_slots(T, 8) / 8;
    CHECK(T >= 8 && nblk <= 5 && n % 16 == 0 && (nw == 1 || nw == 2), "version 16 takes 8 <= T <= 320 and 16-byte rows");
#define COMIX_V16B(NB, W) (even ? launch_v14<true, NB, W, false, true>(frames.data(), T, n, out.data()) \
                                : launch_v14<false, NB, W, false, true>(frames.data(), T, n, out.data()))
#define COMIX_V16(NB) (nw == 1 ? COMIX_V16B(NB, 1) : COMIX_V16B(NB, 2))
    if (nblk == 1) COMIX_V16(1);
    if (nblk == 2) COMIX_V16(2);
    if (nblk == 3) COMIX_V16(3);
    if (nblk == 4) COMIX_V16(4);
    if (nblk == 5) COMIX_V16(5);
#undef COMIX_V16
#undef COMIX_V16B
  } else {
    const int nblk = bs::frame_slots(T, 8) / 8;
    CHECK(nblk >= 3 && nblk <= 5 && n % 16 == 0, "versions 14 and 15 take 128 < T <= 320 and 16-byte rows");
    const bool bulk = version == 15;
#define COMIX_V14B(NB, W, B) (even ? launch_v14<true, NB, W, B>(frames.data(), T, n, out.data()) \
                                   : launch_v14<false, NB, W, B>(frames.data(), T, n, out.data()))
#define COMIX_V14(NB, W) (bulk ? COMIX_V14B(NB, W, true) : COMIX_V14B(NB, W, false))
#define COMIX_V14_NW(NB) (nw == 1 ? COMIX_V14(NB, 1) : nw == 2 ? COMIX_V14(NB, 2) : nw == 3 ? COMIX_V14(NB, 3) : COMIX_V14(NB, 4))
    if (nblk == 3) COMIX_V14_NW(3);
    if (nblk == 4) COMIX_V14_NW(4);
    if (nblk == 5) COMIX_V14_NW(5);
#undef COMIX_V14_NW
#undef COMIX_V14
#undef COMIX_V14B
  }
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += out.data()[i] != ref[(size_t)i];
  CHECK(bad == 0, "emulated median version %d (nw=%d gw=%d) T=%d n=%lld pattern=%d: %lld of %lld wrong", version, nw, gw, T,
        (long long)n, pattern, (long long)bad, (long long)n);
}

int main() {
  int cases = 0;
  // Version 14: T at both ends of each NBLK (129/192, 193/256, 257/320) and 300; n: whole blocks
  // and a part block (16-byte rows, as its launcher requires), so some warps of the last block
  // have no column.
  for (int T : {129, 192, 193, 256, 257, 300, 320}) {
    check(14, 1, 4, T, 2 * 128 + 48, T % 3);
    check(14, 2, 4, T, 2 * 256 + 48, (T + 1) % 3);
    check(14, 3, 4, T, 384 + 144, (T + 2) % 3);
    check(14, 4, 4, T, 512 + 400, T % 3);
    cases += 4;
  }
  check(14, 2, 4, 301, 256, 0);  // odd T, exactly one block
  check(14, 4, 4, 257, 128, 1);  // one column: three of the four warps write nothing
  cases += 2;
  // Version 15 (bulk copies): the same ends of NBLK, a part column (n - e0 < 128) and whole
  // warps past the frame's end.
  for (int T : {129, 192, 193, 256, 257, 300, 320}) {
    check(15, 1, 4, T, 2 * 128 + 48, (T + 1) % 3);
    check(15, 3, 4, T, 384 + 144, T % 3);
    cases += 2;
  }
  check(15, 3, 4, 301, 128 + 32, 0);  // a part column, then a warp with nothing to do
  ++cases;
  // Version 16 (version 14 staged in global byte order): every NBLK from 1 (8 <= T <= 64) to 5, both
  // ends of each, on 1 and 2 warps, with a part block and a part column.
  for (int T : {8, 9, 16, 63, 64, 65, 72, 128, 129, 192, 193, 256, 257, 300, 301, 320}) {
    check(16, 1, 4, T, 2 * 128 + 48, T % 3);
    check(16, 2, 4, T, 2 * 256 + 48, (T + 1) % 3);
    cases += 2;
  }
  check(16, 2, 4, 300, 128, 2);  // one column: the block's second warp writes nothing
  ++cases;
  // Versions 11, 12 and 17 (11 staged in global order) with the groups per tile their launcher
  // picks (4 up to T = 320, 2 up to 640, then 1) or the narrow ones (half), on 16-byte rows
  // (cp.async staging) and odd n (byte staging); version 13 on 2 and 4 warps.
  struct Case { int T, gw; };
  for (Case c : {Case{1, 4}, Case{2, 4}, Case{16, 4}, Case{72, 4}, Case{72, 2}, Case{255, 4}, Case{300, 4}, Case{299, 2},
                 Case{321, 2}, Case{640, 2}, Case{641, 1}, Case{1000, 1}, Case{1280, 1}}) {
    for (int version : {11, 12, 17}) {
      check(version, 1, c.gw, c.T, 32 * c.gw * 2 + 16, (c.T + version) % 3);
      check(version, 1, c.gw, c.T, 32 * c.gw + 13, (c.T + version + 1) % 3);
      cases += 2;
    }
    check(13, c.T % 2 ? 4 : 2, c.gw, c.T, 32 * c.gw * 2 + 16, c.T % 3);
    check(13, c.T % 2 ? 2 : 4, c.gw, c.T, 32 * c.gw + 13, (c.T + 1) % 3);
    cases += 2;
  }
  std::printf("emulated median versions 11-17: %d cases\n", cases);
  return finish("median_emulated");
}
