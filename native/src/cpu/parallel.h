// A minimal parallel-for over [0, count) in contiguous blocks, on std::threads.
// Native calls are coarse (milliseconds and up), so spawning per call costs little and keeps
// comix_cpu free of an OpenMP runtime dependency.
#ifndef COMIX_PARALLEL_H
#define COMIX_PARALLEL_H
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>
#include <exception>
#include <mutex>

namespace comix {

inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  unsigned h = std::thread::hardware_concurrency();
  return h == 0 ? 1 : (int)h;
}

// fn(begin, end, worker) is called on disjoint ranges covering [0, count), in units of `grain`.
template <class Fn>
void parallel_for(int64_t count, int64_t grain, int threads, Fn fn) {
  if (count <= 0) return;
  int64_t units = (count + grain - 1) / grain;
  int workers = (int)std::min<int64_t>(resolve_threads(threads), units);
  if (workers <= 1) { fn((int64_t)0, count, 0); return; }
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  std::exception_ptr error;
  auto range = [&](int w, int64_t& b, int64_t& e) {
    int64_t ub = units * w / workers, ue = units * (w + 1) / workers;
    b = ub * grain;
    e = std::min(count, ue * grain);
  };
  std::mutex error_mu;
  for (int w = 1; w < workers; ++w) {
    pool.emplace_back([&, w] {
      int64_t b, e;
      range(w, b, e);
      try {
        if (b < e) fn(b, e, w);
      } catch (...) {  // an exception leaving a std::thread would terminate the process
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
    });
  }
  int64_t b, e;
  range(0, b, e);
  try {
    if (b < e) fn(b, e, 0);
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (!error) error = std::current_exception();
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace comix
#endif
