// comix::parallel_for on its helper pool: every index exactly once for any count, grain and
// thread count; an exception in any part reaches the caller and leaves the pool usable; a loop
// nested in a part, loops from several threads at once, back-to-back loops (helpers spinning)
// and loops after a pause (helpers asleep) all complete, also in a child made by fork(). ctest's
// timeout catches a hang.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "parallel.h"
#include "test_util.h"

static bool covers_once(int64_t count, int64_t grain, int threads) {
  std::vector<std::atomic<int>> hits((size_t)(count > 0 ? count : 1));
  for (auto& h : hits) h.store(0);
  std::atomic<bool> bad_range{false};
  comix::parallel_for(count, grain, threads, [&](int64_t b, int64_t e, int) {
    if (b < 0 || e > count || b >= e || b % grain != 0) bad_range = true;
    for (int64_t i = b; i < e; ++i) hits[(size_t)i].fetch_add(1);
  });
  if (bad_range) return false;
  for (int64_t i = 0; i < count; ++i)
    if (hits[(size_t)i].load() != 1) return false;
  return true;
}

int main() {
  for (int threads : {0, 1, 2, 3, 8})
    for (int64_t count : {0, 1, 2, 7, 64, 1000, 4097})
      for (int64_t grain : {1, 3, 64, 5000})
        CHECK(covers_once(count, grain, threads), "coverage count %lld grain %lld threads %d", (long long)count,
              (long long)grain, threads);

  // an exception in a helper's part, then in the caller's part: rethrown, and the pool works after
  for (int thrower : {1, 0}) {
    bool caught = false;
    try {
      comix::parallel_for(2, 1, 2, [&](int64_t, int64_t, int w) {
        if (w == thrower) throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "boom";
    }
    CHECK(caught, "exception from part %d not rethrown", thrower);
    CHECK(covers_once(1000, 7, 2), "pool unusable after an exception from part %d", thrower);
  }

  // a loop nested in a part (on the caller and on a helper)
  {
    std::atomic<int64_t> sum{0};
    comix::parallel_for(2, 1, 2, [&](int64_t, int64_t, int) {
      comix::parallel_for(100, 1, 2, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) sum += i;
      });
    });
    CHECK(sum.load() == 2 * 4950, "nested loops summed %lld", (long long)sum.load());
  }

  // several callers at once: one holds the pool, the others spawn their own threads
  {
    std::atomic<int> failures{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c)
      callers.emplace_back([&] {
        for (int r = 0; r < 200; ++r)
          if (!covers_once(257, 4, 2)) ++failures;
      });
    for (auto& t : callers) t.join();
    CHECK(failures.load() == 0, "%d concurrent loops missed or repeated an index", failures.load());
  }

  // back to back (helpers still spinning), then after pauses (helpers asleep on the condition)
  for (int r = 0; r < 2000; ++r)
    if (!covers_once(64, 1, 2)) {
      CHECK(false, "back-to-back loop %d", r);
      break;
    }
  for (int r = 0; r < 5; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(covers_once(64, 1, 2), "loop after a pause, round %d", r);
  }

  // a child made by fork() after the pool started has no helpers: its loops must still finish
  // (with one hardware thread the pool has no helpers either, so this passes without the guard)
  if (std::thread::hardware_concurrency() < 2)
    std::printf("note: one hardware thread, no pool helpers: the fork check does not reach the fork guard\n");
  {
    const pid_t pid = fork();
    if (pid == 0) _exit(covers_once(1000, 3, 2) && covers_once(64, 1, 0) ? 0 : 1);
    CHECK(pid > 0, "fork failed");
    if (pid > 0) {
      int status = 0;
      bool done = false;
      for (int ms = 0; ms < 20000 && !done; ms += 10) {
        done = waitpid(pid, &status, WNOHANG) == pid;
        if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
      CHECK(done && WIFEXITED(status) && WEXITSTATUS(status) == 0, "loops in a forked child %s",
            done ? "failed" : "hung");
    }
  }

  if (g_failures) std::fprintf(stderr, "%d failure(s)\n", g_failures);
  else std::printf("parallel_for: all checks passed\n");
  return g_failures ? 1 : 0;
}
