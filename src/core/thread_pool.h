// A persistent pool of worker threads for the forward pass, made to keep going on a machine
// that other processes share.
//
// A token's forward pass is a few hundred short parallel steps (one per matrix product or
// attention block), each lasting microseconds to a few hundred microseconds when generating.
// Starting threads per step would cost as much as the work, so workers stay alive for the
// pool's lifetime; between steps they spin for a short, time-bounded while and then sleep in
// a futex, and the calling thread, which takes part as a worker, waits for the last chunk the
// same way. Each step is cut into chunks whose boundaries depend only on the step (its length,
// grain and the pool's size), and threads claim chunks from a shared counter: a thread that
// the scheduler has taken off its core holds up at most the one chunk it started, while the
// others take the rest of its share. Which thread computes a chunk never changes what the
// chunk computes, so results are the same whatever the timing. See docs/architecture.md,
// "Thread pool".
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace lmforge {

// About how many bytes a whole step reads (weights, cache, activations): steps too small to
// pay for another thread's wake-up and hand-off run on fewer threads, down to the caller alone.
struct WorkSize {
  size_t bytes = 0;
};

class ThreadPool {
 public:
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return n_threads_; }

  // Calls fn(index) once for every index in [0, size()) and returns when all calls have
  // returned. Indices are claimed by whichever threads are running (the caller included), so
  // two calls may run on one thread one after the other; fn may keep per-index scratch (the
  // index is never in use twice at once) but must not wait for another index's call. Not
  // reentrant: fn must not call run() or parallel_for() on the same pool. If a call throws, the
  // first exception is rethrown here once no call is running any more (the calls not yet
  // started may or may not run).
  template <typename Fn>
  void run(Fn&& fn) {
    dispatch(&call_index<std::remove_reference_t<Fn>>,
             const_cast<void*>(static_cast<const void*>(&fn)), n_threads_, n_threads_);
  }
  // As run(fn), on the caller alone when `work` is too small to share.
  template <typename Fn>
  void run(Fn&& fn, WorkSize work) {
    if (threads_for(work) > 1) {
      run(fn);
    } else {
      for (unsigned i = 0; i < n_threads_; ++i) fn(i);
    }
  }

  // Calls fn(begin, end) on chunks that cover [0, n) exactly once, each a multiple of `grain`
  // long except the last, in parallel, and returns when all calls have returned. The chunk
  // boundaries depend only on n, grain and size(); which thread computes a chunk depends on
  // timing. Same reentry rule as run().
  template <typename Fn>
  void parallel_for(size_t n, size_t grain, Fn&& fn) {
    parallel_for_on(n, grain, n_threads_, fn);
  }
  // As parallel_for(n, grain, fn), on fewer threads when `work` is too small to share.
  template <typename Fn>
  void parallel_for(size_t n, size_t grain, Fn&& fn, WorkSize work) {
    parallel_for_on(n, grain, threads_for(work), fn);
  }

  // The range of [0, n) for run() index t when [0, n) is split into size() contiguous ranges of
  // about equal length, multiples of `grain` except the last (for callers of run() that cut a
  // range themselves).
  std::pair<size_t, size_t> split(size_t n, size_t grain, unsigned t) const;

  // How many threads a step reading `work.bytes` bytes is worth (1 to size()): one per
  // min_bytes_per_thread().
  unsigned threads_for(WorkSize work) const;
  // 256 KiB unless the environment variable LMFORGE_POOL_MIN_WORK (bytes, 0 = share every step)
  // says otherwise when the pool is made: for tests that need small steps shared, and tuning.
  size_t min_bytes_per_thread() const { return min_bytes_per_thread_; }

  // Chunks per thread taking part in a parallel_for: more chunks let the running threads take
  // over a stalled one's share in smaller pieces, at the price of one claim per chunk.
  static constexpr unsigned kChunksPerThread = 4;

 private:
  // One call of a job: chunk `chunk` of the job whose closure is `arg`.
  using Job = void (*)(void* arg, uint32_t chunk);

  template <typename Fn>
  static void call_index(void* fn, uint32_t chunk) {
    (*static_cast<Fn*>(fn))(static_cast<unsigned>(chunk));
  }

  // parallel_for's closure: the range, its chunking and the caller's function.
  template <typename Fn>
  struct RangeJob {
    size_t n, grain_units, units, n_chunks;
    Fn* fn;
    static void call(void* self, uint32_t chunk) {
      auto& j = *static_cast<RangeJob*>(self);
      // Chunk c covers units [c * units / n_chunks, (c + 1) * units / n_chunks): balanced, and
      // a function of (n, grain, n_chunks) only.
      const size_t b = chunk * j.units / j.n_chunks * j.grain_units;
      const size_t e = (chunk + 1) * j.units / j.n_chunks * j.grain_units;
      (*j.fn)(std::min(b, j.n), std::min(e, j.n));
    }
  };

  template <typename Fn>
  void parallel_for_on(size_t n, size_t grain, unsigned threads, Fn& fn) {
    if (n == 0) return;
    grain = grain == 0 ? 1 : grain;
    const size_t units = (n + grain - 1) / grain;
    if (n_threads_ == 1 || threads <= 1 || units <= 1) {
      fn(size_t{0}, n);
      return;
    }
    const size_t n_chunks = std::min<size_t>(units, size_t{n_threads_} * kChunksPerThread);
    RangeJob<std::remove_reference_t<Fn>> job{n, grain, units, n_chunks, &fn};
    dispatch(&RangeJob<std::remove_reference_t<Fn>>::call, &job, static_cast<uint32_t>(n_chunks),
             threads);
  }

  // Runs job(arg, c) for every c in [0, n_chunks) on the caller and the first `threads` - 1
  // workers; returns when every call has returned.
  void dispatch(Job job, void* arg, uint32_t n_chunks, unsigned threads);
  // Claims and runs chunks of the current job until none is left (or, for a worker, while
  // `index` is among the job's threads).
  void work_on(unsigned index);
  void wait_for_chunks(uint32_t n_chunks);
  void worker_loop(unsigned index);

  unsigned n_threads_;
  size_t min_bytes_per_thread_;
  std::vector<std::thread> workers_;

  // The job being run. Written by the caller between closing claim_ and reopening it, read by
  // workers after they saw it open (a worker that read a newer job than the claim it tries
  // fails that claim: see claim_chunk in thread_pool.cpp).
  std::atomic<Job> job_{nullptr};
  std::atomic<void*> job_arg_{nullptr};
  std::atomic<uint32_t> job_chunks_{0};
  std::atomic<unsigned> job_threads_{0};
  // (job epoch << 32) | next unclaimed chunk; the chunk part is kClosed while a job is set up.
  std::atomic<uint64_t> claim_{0};
  // Chunks of the current job finished; the caller sleeps on it (futex) for the last ones.
  std::atomic<uint32_t> done_{0};
  std::atomic<uint32_t> caller_sleeping_{0};
  // Bumped once per job (and at destruction); idle workers sleep on it (futex).
  std::atomic<uint32_t> epoch_{0};
  // Workers asleep (or about to be) on epoch_: a job pays for a wake-up only when needed.
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<bool> stop_{false};
  // The first exception a chunk of the current job threw, rethrown by the caller.
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace lmforge
