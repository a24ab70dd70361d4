#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

namespace lmforge {
namespace {

TEST(ThreadPool, RunCallsEveryThreadIndexOnce) {
  for (unsigned n : {1u, 2u, 3u, 8u}) {
    ThreadPool pool(n);
    EXPECT_EQ(pool.size(), n);
    std::vector<std::atomic<int>> calls(n);
    for (int round = 0; round < 1000; ++round) pool.run([&](unsigned t) { calls[t].fetch_add(1); });
    for (unsigned t = 0; t < n; ++t) EXPECT_EQ(calls[t].load(), 1000) << n << " threads, index " << t;
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
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  pool.run([&](unsigned t) { sum += static_cast<int>(t); });
  EXPECT_EQ(sum.load(), 6);
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

}  // namespace
}  // namespace lmforge
