// run_training as one rank of a data-parallel run (TrainingLoopOptions::ranks), without MPI: a
// scripted Collective plays "rank 1 of 2" and what the other rank says. Only rank 0 writes
// checkpoints, and a stop seen by any rank stops every rank after the same step.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "core/collective.h"
#include "train/checkpoint.h"
#include "train/toy_trainer.h"
#include "train/training_loop.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using testing::ToyBigramTrainer;

// Rank `rank` of 2; the other rank's stop flag turns 1 from its sum number `other_stops_at` on.
class ScriptedRanks final : public Collective {
 public:
  ScriptedRanks(int rank, int other_stops_at) : rank_(rank), other_stops_at_(other_stops_at) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  void allreduce_sum(std::span<float>) override {}
  double allreduce_sum(double value) override {
    ++sums;
    return value + (other_stops_at_ >= 0 && sums > other_stops_at_ ? 1.0 : 0.0);
  }
  void broadcast(std::vector<uint8_t>&) override {}
  [[noreturn]] void abort_all(int) override { std::abort(); }
  int sums = 0;

 private:
  int rank_, other_stops_at_;
};

TokenWindows counting_windows(size_t n_windows) {
  std::vector<int32_t> tokens(n_windows * 4 + 1);
  std::iota(tokens.begin(), tokens.end(), 0);
  return TokenWindows(std::move(tokens), 4, "counting");
}

std::string temp_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "lmforge-ranks-" + std::to_string(::getpid()) + "-" + name;
  fs::remove_all(dir);
  return dir;
}

TrainingLoopOptions options(const std::string& dir, Collective& ranks) {
  TrainingLoopOptions o;
  o.batch = 2;
  o.steps = 6;
  o.shuffle = false;
  o.json = true;
  o.checkpoint_dir = dir;
  o.checkpoint_every = 1;
  o.ranks = &ranks;
  return o;
}

TEST(TrainingLoopRanks, OnlyRankZeroWritesCheckpoints) {
  const TokenWindows data = counting_windows(8);
  for (int rank : {0, 1}) {
    const std::string dir = temp_dir("writer" + std::to_string(rank));
    ScriptedRanks ranks(rank, -1);
    ToyBigramTrainer toy(64, 1);
    TrainingState state = toy.initial_state(1);
    const TrainingResult r = run_training(data, options(dir, ranks), LrSchedule{}, toy, state);
    EXPECT_EQ(r.steps_done, 6u);
    EXPECT_EQ(ranks.sums, 6) << "one stop-flag sum per step";
    EXPECT_EQ(load_latest_checkpoint(dir).has_value(), rank == 0) << "rank " << rank;
    fs::remove_all(dir);
  }
}

TEST(TrainingLoopRanks, AnotherRanksStopStopsThisOneAfterTheSameStep) {
  const TokenWindows data = counting_windows(8);
  const std::string dir = temp_dir("stop");
  ScriptedRanks ranks(0, 3);  // the other rank was interrupted during step 3
  ToyBigramTrainer toy(64, 1);
  TrainingState state = toy.initial_state(1);
  const std::atomic<bool> never{false};
  TrainingLoopOptions o = options(dir, ranks);
  o.stop = &never;
  const TrainingResult r = run_training(data, o, LrSchedule{}, toy, state);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps_done, 3u);
  const auto saved = load_latest_checkpoint(dir);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->step, 3u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
