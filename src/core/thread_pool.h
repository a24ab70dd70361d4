// A persistent pool of worker threads for the forward pass.
//
// A token's forward pass is a few hundred short parallel steps (one per matrix product or
// attention block), each lasting tens of microseconds when generating. Starting threads per
// step, or waking sleeping ones through the kernel each time, would cost as much as the work,
// so workers stay alive for the pool's lifetime and, between steps, spin on a shared counter
// for a short while before going to sleep (futex wait through std::atomic::wait). The calling
// thread takes part as thread 0, so a pool of N threads starts N - 1 workers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace lmforge {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return n_threads_; }

  // Calls fn(thread_index) on every thread of the pool (the caller is index 0) and returns
  // when all calls have returned. Not reentrant: fn must not call run() on the same pool.
  template <typename Fn>
  void run(Fn&& fn) {
    run_impl(
        [](void* f, unsigned i) { (*static_cast<std::remove_reference_t<Fn>*>(f))(i); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into size() contiguous ranges of about equal length, multiples of `grain`
  // except the last, and calls fn(begin, end) for each non-empty range on its own thread.
  template <typename Fn>
  void parallel_for(size_t n, size_t grain, Fn&& fn) {
    if (n == 0) return;
    if (n_threads_ == 1 || n <= grain) {
      fn(size_t{0}, n);
      return;
    }
    run([&](unsigned t) {
      const auto [b, e] = split(n, grain, t);
      if (b < e) fn(b, e);
    });
  }

  // The range of [0, n) that thread t gets in parallel_for().
  std::pair<size_t, size_t> split(size_t n, size_t grain, unsigned t) const;

 private:
  using Job = void (*)(void*, unsigned);
  void run_impl(Job job, void* arg);
  void worker_loop(unsigned index);

  unsigned n_threads_;
  std::vector<std::thread> workers_;
  Job job_ = nullptr;
  void* job_arg_ = nullptr;
  // Bumped once per run(); workers compare it with the last value they served.
  std::atomic<uint64_t> epoch_{0};
  // Workers still busy with the current run().
  std::atomic<unsigned> pending_{0};
  // Workers asleep (or about to be) in epoch_.wait(): run() only pays for a wake-up call when
  // one may be needed.
  std::atomic<unsigned> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace lmforge
