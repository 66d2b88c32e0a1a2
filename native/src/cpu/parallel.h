// A minimal parallel-for over [0, count) in contiguous blocks.
// The helpers are a small process-wide pool of threads, started on first use and kept (a
// thread spawn and join costs ~45 us on the 2-vCPU build machine, and a SupCon call runs ~9
// parallel loops back to back): they spin briefly after each loop, so the next one starts
// without a wake-up, then sleep on a condition variable. A call that finds the pool busy (another
// thread's loop, or a loop nested in a helper), or runs in a child made by fork() (which has no
// helpers), spawns its own threads as before. No OpenMP.
#ifndef COMIX_PARALLEL_H
#define COMIX_PARALLEL_H
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__unix__)
#include <pthread.h>
#endif

namespace comix {

inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  unsigned h = std::thread::hardware_concurrency();
  return h == 0 ? 1 : (int)h;
}

namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Set in a child made by fork(): it has none of the parent's helper threads, so its loops spawn.
inline std::atomic<bool>& forked() {
  static std::atomic<bool> flag{false};
  return flag;
}

// true on a pool helper, and on a caller while its loop runs on the pool
inline bool& in_pool_helper() {
  static thread_local bool flag = false;
  return flag;
}

// One job at a time: the caller takes `use`, publishes fn/ctx and a new ticket, runs part 0,
// and waits until every helper taking part has finished. ticket = (sequence << 8) | parts, read
// in one load, so a helper never pairs one job's part count with another's sequence.
class Pool {
 public:
  static Pool* get() {
    static Pool* p = new Pool();  // never destroyed: helpers may still wait on it at exit
    return p;
  }
  int helpers() const { return (int)n_; }
  std::mutex use;

  // Runs fn(ctx, w) for w in [0, parts) with parts - 1 <= helpers(); the caller holds `use`.
  void run(int parts, void (*fn)(void*, int), void* ctx) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn;
      ctx_ = ctx;
      pending_.store(parts - 1, std::memory_order_relaxed);
      seq_ += 1;
      ticket_.store((seq_ << 8) | (uint64_t)parts, std::memory_order_release);
    }
    work_cv_.notify_all();
    fn(ctx, 0);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < kSpin) {
        cpu_relax();
        continue;
      }
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
  }

 private:
  static constexpr int kSpin = 20000;  // ~100-200 us of pause before sleeping
  Pool() {
#if defined(__unix__)
    pthread_atfork(nullptr, nullptr, [] { forked().store(true); });
#endif
    const int h = resolve_threads(0);
    n_ = h > 1 ? (unsigned)std::min(h - 1, 255) : 0u;
    for (unsigned w = 1; w <= n_; ++w) {
      try {
        std::thread([this, w] { loop((int)w); }).detach();
      } catch (...) {  // could not start a thread: use the ones that started
        n_ = w - 1;
        break;
      }
    }
  }
  void loop(int w) {
    in_pool_helper() = true;
    uint64_t seen = 0;  // the ticket before any job: a job posted before this line still runs
    for (;;) {
      uint64_t t;
      for (int spin = 0; (t = ticket_.load(std::memory_order_acquire)) == seen; ++spin) {
        if (spin < kSpin) {
          cpu_relax();
          continue;
        }
        std::unique_lock<std::mutex> lk(mu_);
        work_cv_.wait(lk, [&] { return ticket_.load(std::memory_order_acquire) != seen; });
      }
      seen = t;
      if (w >= (int)(t & 0xff)) continue;  // not taking part in this job
      fn_(ctx_, w);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(mu_);
        done_cv_.notify_all();
      }
    }
  }
  unsigned n_ = 0;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::atomic<uint64_t> ticket_{0};
  uint64_t seq_ = 0;
  std::atomic<int> pending_{0};
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace detail

// fn(begin, end, worker) is called on disjoint ranges covering [0, count), in units of `grain`.
template <class Fn>
void parallel_for(int64_t count, int64_t grain, int threads, Fn fn) {
  if (count <= 0) return;
  int64_t units = (count + grain - 1) / grain;
  int workers = (int)std::min<int64_t>(resolve_threads(threads), units);
  if (workers <= 1) { fn((int64_t)0, count, 0); return; }
  std::exception_ptr error;
  std::mutex error_mu;
  auto part = [&](int w) {
    const int64_t ub = units * w / workers, ue = units * (w + 1) / workers;
    const int64_t b = ub * grain, e = std::min(count, ue * grain);
    try {
      if (b < e) fn(b, e, w);
    } catch (...) {  // an exception leaving a thread would terminate the process
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
  };
  detail::Pool* pool = detail::in_pool_helper() || detail::forked().load() ? nullptr : detail::Pool::get();
  std::unique_lock<std::mutex> use;
  if (pool && workers - 1 <= pool->helpers()) use = std::unique_lock<std::mutex>(pool->use, std::try_to_lock);
  if (use.owns_lock()) {
    detail::in_pool_helper() = true;  // a loop nested in part 0 must not try `use` again
    pool->run(workers, [](void* c, int w) { (*static_cast<decltype(part)*>(c))(w); }, &part);
    detail::in_pool_helper() = false;
  } else {
    std::vector<std::thread> spawned;
    spawned.reserve(workers - 1);
    for (int w = 1; w < workers; ++w) spawned.emplace_back([&part, w] { part(w); });
    part(0);
    for (auto& t : spawned) t.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace comix
#endif
