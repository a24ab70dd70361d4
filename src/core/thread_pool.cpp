#include "core/thread_pool.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <mutex>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LMFORGE_CPU_RELAX() _mm_pause()
#else
#define LMFORGE_CPU_RELAX() ((void)0)
#endif

namespace lmforge {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;

// How long an idle worker spins for the next job before sleeping, at most and at least. Its
// budget halves each time the spin ends in sleep and doubles each time a job comes while it
// spins: on a quiet machine the steps of a forward pass follow each other within microseconds
// and the budget stays at the top (no futex wake-up per step); when the caller keeps losing
// its core to other processes, jobs come late, and a spinning worker would only take CPU time
// from the caller it waits for, so the budget falls to the bottom.
constexpr auto kWorkerSpinMax = microseconds(1000);
constexpr auto kWorkerSpinMin = microseconds(20);
// How long the caller, out of chunks to claim, spins for the last ones before sleeping. A
// chunk still running is either nearly done (a few microseconds: spinning saves a wake-up) or
// on a thread the scheduler took off its core (then only sleeping helps: the core the caller
// gives up may be the one that thread is waiting for).
constexpr auto kCallerSpin = microseconds(50);
// Pause instructions before a spin starts yielding: when there are more runnable threads than
// cores, sched_yield lets the one we wait for run on this core instead of us.
constexpr unsigned kPauseSpins = 64;
// claim_'s chunk part while the caller sets up a job: no chunk can be claimed.
constexpr uint32_t kClosed = UINT32_MAX;
// Below this many bytes per thread a step is not worth another thread: waking one and handing
// it chunks costs a few microseconds on a quiet machine, and much more on a busy one, while a
// core reads 256 KiB from cache or memory in about 10-20 microseconds.
constexpr size_t kMinBytesPerThread = size_t{256} << 10;

size_t min_bytes_per_thread_from_env() {
  const char* v = std::getenv("LMFORGE_POOL_MIN_WORK");
  if (v == nullptr || *v == '\0') return kMinBytesPerThread;
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v, &end, 10);
  return (*end != '\0' || errno != 0 || *v == '-') ? kMinBytesPerThread : static_cast<size_t>(n);
}

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "the futex words are std::atomic<uint32_t>");

// Sleeps while word == expected (or until a spurious wake-up: callers re-check).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
#else
  word.wait(expected);
#endif
}

void futex_wake_all(std::atomic<uint32_t>& word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
#else
  word.notify_all();
#endif
}

// One step of a spin: pause first, then give the core to whatever else wants it.
inline void relax(unsigned spins) {
  if (spins < kPauseSpins) {
    LMFORGE_CPU_RELAX();
  } else {
    std::this_thread::yield();
  }
}

// Spins until done() or until `budget` has passed; returns done()'s last answer.
template <typename Done>
bool spin_until(Done done, Clock::duration budget) {
  const auto until = Clock::now() + budget;
  for (unsigned spins = 0;; ++spins) {
    if (done()) return true;
    if (spins >= kPauseSpins && Clock::now() > until) return done();
    relax(spins);
  }
}

}  // namespace

ThreadPool::ThreadPool(unsigned n_threads)
    : n_threads_(std::max(1u, n_threads)), min_bytes_per_thread_(min_bytes_per_thread_from_env()) {
  workers_.reserve(n_threads_ - 1);
  for (unsigned i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  epoch_.fetch_add(1);
  futex_wake_all(epoch_);
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

unsigned ThreadPool::threads_for(WorkSize work) const {
  if (min_bytes_per_thread_ == 0) return n_threads_;
  return static_cast<unsigned>(
      std::clamp<size_t>(work.bytes / min_bytes_per_thread_, 1, n_threads_));
}

void ThreadPool::dispatch(Job job, void* arg, uint32_t n_chunks, unsigned threads) {
  if (n_threads_ == 1 || threads <= 1 || n_chunks <= 1) {
    for (uint32_t c = 0; c < n_chunks; ++c) job(arg, c);
    return;
  }
  // Only this thread writes epoch_ while the pool lives (32 bits: a worker would have to stall
  // through 2^32 jobs to mistake an old claim for a new one).
  const uint32_t epoch = epoch_.load(std::memory_order_relaxed) + 1;
  const uint64_t base = uint64_t{epoch} << 32;
  // Close claiming before touching the job fields: a worker that reads any of the new fields
  // (release/acquire) then sees at least this store, so its claim on an older job's counter
  // fails instead of running the new job's function on an old chunk number.
  claim_.store(base | kClosed);
  job_.store(job, std::memory_order_release);
  job_arg_.store(arg, std::memory_order_release);
  job_chunks_.store(n_chunks, std::memory_order_release);
  job_threads_.store(threads, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(base, std::memory_order_release);
  // seq_cst on both sides (this store and the sleepers_ load; the worker's sleepers_ increment
  // and its epoch_ re-check before the futex) guarantees that either we see the sleeper and
  // wake it, or it sees the new epoch and does not sleep.
  epoch_.store(epoch);
  if (sleepers_.load() > 0) futex_wake_all(epoch_);
  work_on(0);
  wait_for_chunks(n_chunks);
  if (error_) {
    // Every chunk is done: no other thread touches error_ until the next job.
    std::exception_ptr e = std::exchange(error_, nullptr);
    std::rethrow_exception(e);
  }
}

// A claim succeeds only while claim_ still holds the value read before the job fields were: if
// the caller has since moved to another job it has changed claim_ first (kClosed), so the fields
// read are always those of the job whose chunk was claimed.
void ThreadPool::work_on(unsigned index) {
  for (;;) {
    uint64_t claim = claim_.load(std::memory_order_acquire);
    const auto chunk = static_cast<uint32_t>(claim);
    if (chunk == kClosed) return;
    const Job job = job_.load(std::memory_order_acquire);
    void* const arg = job_arg_.load(std::memory_order_acquire);
    const uint32_t n_chunks = job_chunks_.load(std::memory_order_acquire);
    const unsigned threads = job_threads_.load(std::memory_order_acquire);
    if (chunk >= n_chunks || index >= threads) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
      continue;
    try {
      job(arg, chunk);
    } catch (...) {
      // The chunk still counts as done (the caller waits for every chunk before anything can
      // go out of scope); the first error goes to the caller once the step is over.
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    // seq_cst, paired with the caller's caller_sleeping_ store and done_ re-check.
    if (done_.fetch_add(1) + 1 == n_chunks && caller_sleeping_.load() != 0) futex_wake_all(done_);
  }
}

void ThreadPool::wait_for_chunks(uint32_t n_chunks) {
  const auto all_done = [&] { return done_.load(std::memory_order_acquire) == n_chunks; };
  if (spin_until(all_done, kCallerSpin)) return;
  caller_sleeping_.store(1);
  for (uint32_t d; (d = done_.load()) != n_chunks;) futex_wait(done_, d);
  caller_sleeping_.store(0, std::memory_order_relaxed);
}

void ThreadPool::worker_loop(unsigned index) {
  uint32_t seen = 0;
  Clock::duration budget = kWorkerSpinMax;
  for (;;) {
    const auto new_job = [&] { return epoch_.load(std::memory_order_acquire) != seen; };
    if (spin_until(new_job, budget)) {
      budget = std::min<Clock::duration>(budget * 2, kWorkerSpinMax);
    } else {
      budget = std::max<Clock::duration>(budget / 2, kWorkerSpinMin);
      sleepers_.fetch_add(1);
      while (epoch_.load() == seen) futex_wait(epoch_, seen);
      sleepers_.fetch_sub(1);
    }
    seen = epoch_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    work_on(index);
  }
}

}  // namespace lmforge
