// The thread pool: every index and chunk once, whatever the timing; chunk boundaries that
// depend only on the step; a stalled thread's share taken by the others; wake-ups after sleep;
// destruction while idle; and a bounded stress loop.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace lmforge {
namespace {

using std::chrono::milliseconds;

TEST(ThreadPool, RunCallsEveryThreadIndexOnce) {
  for (unsigned n : {1u, 2u, 3u, 8u}) {
    ThreadPool pool(n);
    EXPECT_EQ(pool.size(), n);
    std::vector<std::atomic<int>> calls(n);
    for (int round = 0; round < 1000; ++round) pool.run([&](unsigned t) { calls[t].fetch_add(1); });
    for (unsigned t = 0; t < n; ++t)
      EXPECT_EQ(calls[t].load(), 1000) << n << " threads, index " << t;
  }
}

TEST(ThreadPool, RunReturnsOnlyWhenEveryThreadIsDone) {
  ThreadPool pool(4);
  std::vector<int> out(4, 0);
  for (int round = 1; round <= 200; ++round) {
    pool.run([&](unsigned t) {
      if (t == 3) std::this_thread::sleep_for(std::chrono::microseconds(50));
      out[t] = round;
    });
    for (int v : out) ASSERT_EQ(v, round);
  }
}

TEST(ThreadPool, WakesUpAfterSleeping) {
  ThreadPool pool(3);
  std::atomic<int> sum{0};
  pool.run([&](unsigned t) { sum += static_cast<int>(t); });
  // Longer than the spin time: the workers are asleep in the futex by now.
  std::this_thread::sleep_for(milliseconds(30));
  pool.run([&](unsigned t) { sum += static_cast<int>(t); });
  EXPECT_EQ(sum.load(), 6);
  // And the caller sleeps for a chunk that outlasts its spin, and is woken when it ends.
  std::atomic<int> chunks{0};
  pool.parallel_for(6, 1, [&](size_t b, size_t e) {
    if (b == 0) std::this_thread::sleep_for(milliseconds(20));
    chunks += static_cast<int>(e - b);
  });
  EXPECT_EQ(chunks.load(), 6);
}

TEST(ThreadPool, SplitCoversTheRangeInGrainMultiples) {
  for (unsigned n : {1u, 2u, 3u, 7u})
    for (size_t len : {0u, 1u, 15u, 16u, 17u, 100u, 2048u, 5633u})
      for (size_t grain : {1u, 4u, 16u}) {
        ThreadPool pool(n);
        size_t next = 0;
        for (unsigned t = 0; t < n; ++t) {
          const auto [b, e] = pool.split(len, grain, t);
          EXPECT_EQ(b, std::min(next, len));
          EXPECT_LE(b, e);
          if (e < len) {
            EXPECT_EQ(e % grain, 0u);
          }
          next = std::max(next, e);
        }
        EXPECT_EQ(std::min(next, len), len) << n << " " << len << " " << grain;
      }
}

TEST(ThreadPool, ParallelForVisitsEachItemOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> seen(1001);
  pool.parallel_for(seen.size(), 8, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) seen[i].fetch_add(1);
  });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
}

// Every index exactly once, every chunk starting on a grain multiple and a grain multiple long
// (except the last), for many shapes; in each, the first chunk that a worker (not the caller)
// takes sleeps, so the others run on while it is off.
TEST(ThreadPool, ParallelForCoversEveryIndexOnceWithAThreadStalled) {
  for (unsigned threads : {1u, 2u, 3u, 4u, 7u}) {
    ThreadPool pool(threads);
    for (size_t n : {0u, 1u, 2u, 5u, 15u, 16u, 17u, 31u, 64u, 100u, 1000u, 4099u})
      for (size_t grain : {0u, 1u, 3u, 16u, 64u}) {
        const auto caller = std::this_thread::get_id();
        std::vector<std::atomic<int>> seen(n);
        std::atomic<bool> stalled{false};
        std::mutex m;
        std::vector<std::pair<size_t, size_t>> chunks;
        pool.parallel_for(n, grain, [&](size_t b, size_t e) {
          if (std::this_thread::get_id() != caller && !stalled.exchange(true))
            std::this_thread::sleep_for(milliseconds(2));
          for (size_t i = b; i < e; ++i) seen[i].fetch_add(1);
          std::lock_guard lock(m);
          chunks.emplace_back(b, e);
        });
        const std::string what = std::to_string(threads) + " threads, n " + std::to_string(n) +
                                 ", grain " + std::to_string(grain);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << what << ", index " << i;
        const size_t g = std::max<size_t>(grain, 1);
        for (auto [b, e] : chunks) {
          ASSERT_LT(b, e) << what;
          EXPECT_EQ(b % g, 0u) << what;
          if (e != n) {
            EXPECT_EQ((e - b) % g, 0u) << what;
          }
        }
        EXPECT_LE(chunks.size(), size_t{threads} * ThreadPool::kChunksPerThread) << what;
      }
  }
}

// The chunks of a step are the same set every time, whoever computes them and however long
// each takes: results computed per chunk cannot depend on the timing.
TEST(ThreadPool, ChunkBoundariesDependOnlyOnTheStep) {
  for (unsigned threads : {2u, 3u, 4u}) {
    ThreadPool pool(threads);
    std::set<std::pair<size_t, size_t>> first;
    for (int round = 0; round < 50; ++round) {
      std::mutex m;
      std::set<std::pair<size_t, size_t>> chunks;
      pool.parallel_for(1000, 16, [&](size_t b, size_t e) {
        if (round % 5 == 1 && b == size_t{16} * static_cast<size_t>(round % 3))
          std::this_thread::sleep_for(milliseconds(1));
        std::lock_guard lock(m);
        chunks.emplace(b, e);
      });
      if (round == 0) first = chunks;
      ASSERT_EQ(chunks, first) << threads << " threads, round " << round;
    }
  }
}

// The thread that takes chunk 0 waits until every other chunk is done: with fixed shares it
// would own some of those chunks itself and wait for ever (here: until the bounded wait gives
// up and the test fails); with claimed chunks the other threads finish its share.
TEST(ThreadPool, TheOthersFinishAStalledThreadsShare) {
  for (unsigned threads : {2u, 3u, 4u}) {
    ThreadPool pool(threads);
    for (size_t n : {8u, 100u, 2048u}) {
      const size_t grain = 16;
      const size_t units = (n + grain - 1) / grain;
      const size_t n_chunks =
          std::min<size_t>(units, size_t{threads} * ThreadPool::kChunksPerThread);
      std::atomic<size_t> others_done{0};
      std::atomic<bool> gave_up{false};
      pool.parallel_for(n, grain, [&](size_t b, size_t) {
        if (b == 0) {
          const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (others_done.load() + 1 < n_chunks) {
            if (std::chrono::steady_clock::now() > give_up) {
              gave_up = true;
              return;
            }
            std::this_thread::sleep_for(milliseconds(1));
          }
          return;
        }
        others_done.fetch_add(1);
      });
      EXPECT_FALSE(gave_up.load()) << threads << " threads, n " << n;
      EXPECT_EQ(others_done.load() + 1, n_chunks) << threads << " threads, n " << n;
    }
  }
}

// run() indices are claimed too: an index whose call waits for all the others still sees
// them done, and each index is called exactly once.
TEST(ThreadPool, RunIndicesAreTakenOverToo) {
  for (unsigned threads : {2u, 3u, 5u}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> calls(threads);
    std::atomic<unsigned> done{0};
    std::atomic<bool> gave_up{false};
    pool.run([&](unsigned i) {
      calls[i].fetch_add(1);
      if (i == threads - 1) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (done.load() + 1 < threads && !(gave_up = std::chrono::steady_clock::now() > give_up))
          std::this_thread::sleep_for(milliseconds(1));
      }
      done.fetch_add(1);
    });
    EXPECT_FALSE(gave_up.load());
    for (auto& c : calls) EXPECT_EQ(c.load(), 1);
  }
}

// The rules for callers stay as they were: one run() at a time per pool, from any thread
// (each after the last has returned), and a callback may use another pool.
TEST(ThreadPool, CallersMayChangeAndCallbacksMayUseAnotherPool) {
  ThreadPool outer(2), inner(3);
  std::atomic<size_t> sum{0};
  outer.parallel_for(10, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) sum += i;
  });
  std::thread other([&] { outer.run([&](unsigned t) { sum += 100 * (t + 1); }); });
  other.join();
  outer.parallel_for(1, 1, [&](size_t, size_t) {
    inner.parallel_for(3, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) sum += 1000;
    });
  });
  EXPECT_EQ(sum.load(), 45u + 300u + 3000u);
}

TEST(ThreadPool, SmallWorkRunsOnTheCallerAlone) {
  ThreadPool pool(4);
  ASSERT_GT(pool.min_bytes_per_thread(), 0u);  // LMFORGE_POOL_MIN_WORK=0 would share everything
  EXPECT_EQ(pool.threads_for(WorkSize{0}), 1u);
  EXPECT_EQ(pool.threads_for(WorkSize{pool.min_bytes_per_thread() * 2}), 2u);
  EXPECT_EQ(pool.threads_for(WorkSize{pool.min_bytes_per_thread() * 100}), 4u);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> elsewhere{0}, items{0};
  pool.parallel_for(
      1000, 1,
      [&](size_t b, size_t e) {
        elsewhere += std::this_thread::get_id() != caller;
        items += static_cast<int>(e - b);
      },
      WorkSize{1000});
  pool.run([&](unsigned) { elsewhere += std::this_thread::get_id() != caller; }, WorkSize{1000});
  EXPECT_EQ(elsewhere.load(), 0);
  EXPECT_EQ(items.load(), 1000);
}

// An exception from any thread reaches the caller once the step is over, and the pool goes on.
TEST(ThreadPool, AnExceptionInAChunkReachesTheCaller) {
  for (unsigned threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    for (size_t bad : {size_t{0}, size_t{37}, size_t{99}}) {
      std::atomic<int> running{0};
      EXPECT_THROW(pool.parallel_for(100, 1,
                                     [&](size_t b, size_t e) {
                                       ++running;
                                       std::this_thread::sleep_for(std::chrono::microseconds(100));
                                       --running;
                                       if (b <= bad && bad < e)
                                         throw std::runtime_error("chunk failed");
                                     }),
                   std::runtime_error);
      EXPECT_EQ(running.load(), 0) << threads << " threads";
    }
    std::atomic<int> items{0};
    pool.parallel_for(100, 1, [&](size_t b, size_t e) { items += static_cast<int>(e - b); });
    EXPECT_EQ(items.load(), 100);
  }
}

TEST(ThreadPool, DestroysWhileIdle) {
  for (int round = 0; round < 20; ++round) {
    { ThreadPool never_used(3); }
    {
      ThreadPool just_used(3);  // workers still spinning
      just_used.run([](unsigned) {});
    }
    ThreadPool asleep(2);
    asleep.run([](unsigned) {});
    if (round < 3) std::this_thread::sleep_for(milliseconds(10));  // past the spin: in the futex
  }
  SUCCEED();
}

// Bounded: a fixed number of steps of random shapes, with an occasional slow chunk.
TEST(ThreadPool, StressManyStepsOfRandomShapes) {
  std::mt19937 rng(12345);
  for (unsigned threads : {2u, 3u, 4u}) {
    ThreadPool pool(threads);
    for (int step = 0; step < 3000; ++step) {
      const size_t n = rng() % 300, grain = rng() % 20;
      const bool slow = rng() % 100 == 0;
      std::vector<uint8_t> seen(n, 0);
      std::atomic<size_t> count{0};
      if (step % 3 == 0) {
        std::vector<std::atomic<int>> idx(threads);
        pool.run([&](unsigned t) { idx[t].fetch_add(1); });
        for (auto& i : idx) ASSERT_EQ(i.load(), 1);
        continue;
      }
      pool.parallel_for(n, grain, [&](size_t b, size_t e) {
        if (slow && b == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        for (size_t i = b; i < e; ++i) ++seen[i];  // chunks are disjoint: no two writers
        count += e - b;
      });
      ASSERT_EQ(count.load(), n) << "step " << step;
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "step " << step << " index " << i;
    }
  }
}

}  // namespace
}  // namespace lmforge
