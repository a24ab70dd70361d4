#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LMFORGE_CPU_RELAX() _mm_pause()
#else
#define LMFORGE_CPU_RELAX() ((void)0)
#endif

namespace lmforge {

namespace {

// How long an idle worker spins before sleeping. Long enough to bridge the gaps between the
// steps of one forward pass (and the sampling between two tokens), short enough that an idle
// pool stops burning a core almost at once.
constexpr auto kSpinTime = std::chrono::microseconds(2000);

}  // namespace

ThreadPool::ThreadPool(unsigned n_threads) : n_threads_(std::max(1u, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (unsigned i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  epoch_.fetch_add(1);
  epoch_.notify_all();
  for (auto& w : workers_) w.join();
}

std::pair<size_t, size_t> ThreadPool::split(size_t n, size_t grain, unsigned t) const {
  grain = std::max<size_t>(grain, 1);
  const size_t units = (n + grain - 1) / grain;
  const size_t per = units / n_threads_, extra = units % n_threads_;
  const size_t b = (t * per + std::min<size_t>(t, extra)) * grain;
  const size_t e = b + (per + (t < extra ? 1 : 0)) * grain;
  return {std::min(b, n), std::min(e, n)};
}

// One step of a wait loop: a few pause instructions first (the answer usually comes within
// microseconds), then yield the core, so that when there are more threads than free cores (a
// shared machine, or -t above the core count) a spinning thread does not starve the ones
// doing the work.
inline void relax(unsigned spins) {
  if (spins < 64) {
    LMFORGE_CPU_RELAX();
  } else {
    std::this_thread::yield();
  }
}

void ThreadPool::run_impl(Job job, void* arg) {
  if (n_threads_ == 1) {
    job(arg, 0);
    return;
  }
  job_ = job;
  job_arg_ = arg;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  // seq_cst on both sides (this increment and the sleepers_ load; the worker's sleepers_
  // increment and its epoch_ re-check inside wait) guarantees that either we see the sleeper
  // and wake it, or it sees the new epoch and does not sleep.
  epoch_.fetch_add(1);
  if (sleepers_.load() > 0) epoch_.notify_all();
  job(arg, 0);
  for (unsigned spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) relax(spins);
}

void ThreadPool::worker_loop(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = epoch_.load(std::memory_order_acquire);
    if (now == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpinTime;
      for (unsigned spins = 0; now == seen; ++spins) {
        relax(spins);
        now = epoch_.load(std::memory_order_acquire);
        if (now == seen && (spins & 63) == 63 && std::chrono::steady_clock::now() > until) {
          sleepers_.fetch_add(1);
          epoch_.wait(seen);
          sleepers_.fetch_sub(1);
          now = epoch_.load(std::memory_order_acquire);
        }
      }
    }
    seen = now;
    if (stop_.load()) return;
    job_(job_arg_, index);
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace lmforge
