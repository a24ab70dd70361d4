// kill -9 at random moments: of a process that writes checkpoints in a loop, and of training
// runs resumed after each kill. A loadable checkpoint must always be left, and the resumed
// training must end bit-identical to one that was never killed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <numeric>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "train/checkpoint.h"
#include "train/checkpoint_test_util.h"
#include "train/toy_trainer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using testing::same_state;
using testing::sample_state;
using testing::ToyBigramTrainer;

std::string temp_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "lmforge-kill-" + std::to_string(::getpid()) + "-" + name;
  fs::remove_all(dir);
  return dir;
}

// Kills `child` with SIGKILL after `delay` unless it ended first. Returns -1 when it was
// killed, else its exit status (255 for anything but a normal exit).
int kill_after(pid_t child, std::chrono::microseconds delay) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(child, &status, WNOHANG) == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

TEST(CheckpointKill, AWriterKilledAtAnyMomentLeavesALoadableCheckpoint) {
  const std::string dir = temp_dir("writer");
  save_checkpoint(dir, sample_state(0, 1 << 14));
  TrainRng rng(2024);
  int killed = 0;
  for (int round = 0; round < 30; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Bounded: a few hundred checkpoints of ~600 KB, far more than the delay allows.
      for (uint64_t tag = 1; tag < 400; ++tag) save_checkpoint(dir, sample_state(tag, 1 << 14));
      ::_exit(0);
    }
    const int status = kill_after(child, std::chrono::microseconds(rng.below(40000)));
    ASSERT_LE(status, 0) << "the writer failed";
    killed += status < 0;
    const auto loaded = load_latest_checkpoint(dir);  // throws (fails the test) when damaged
    ASSERT_TRUE(loaded.has_value());
    const uint64_t tag = loaded->options.at("tag").get<uint64_t>();
    EXPECT_TRUE(same_state(*loaded, sample_state(tag, 1 << 14))) << "round " << round << ", tag " << tag;
  }
  EXPECT_GT(killed, 20);  // the writer was really killed mid-way, not left to finish
  fs::remove_all(dir);
}

TokenWindows counting_windows(size_t n_windows, uint32_t ctx) {
  std::vector<int32_t> tokens(n_windows * ctx + 1);
  std::iota(tokens.begin(), tokens.end(), 0);
  return TokenWindows(std::move(tokens), ctx, "counting");
}

// One training process: resume from the checkpoint when there is one (refusing another
// base, data or options), else start fresh; checkpoint after every step.
[[noreturn]] void training_child(const TokenWindows& data, const TrainingLoopOptions& o, const LrSchedule& schedule,
                                 unsigned threads) {
  try {
    ToyBigramTrainer toy(192, threads);
    TrainingState state = toy.initial_state(o.seed);
    if (auto loaded = load_latest_checkpoint(o.checkpoint_dir)) {
      check_resume_compatible(*loaded, state, o.checkpoint_dir);
      state = std::move(*loaded);
    }
    run_training(data, o, schedule, toy, state);
    ::_exit(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "training child: %s\n", e.what());
    ::_exit(1);
  }
}

TEST(CheckpointKill, TrainingKilledAndResumedEndsBitIdentical) {
  const TokenWindows data = counting_windows(40, 8);
  TrainingLoopOptions o;
  o.batch = 4;
  o.steps = 30;
  o.seed = 5;
  o.json = true;
  o.checkpoint_every = 1;
  const LrSchedule schedule{1e-2f, 2, LrScheduleKind::kCosine, 30};

  ToyBigramTrainer reference_toy(192, 1);
  TrainingState reference = reference_toy.initial_state(o.seed);
  run_training(data, o, schedule, reference_toy, reference);

  const std::string dir = temp_dir("training");
  o.checkpoint_dir = dir;
  TrainRng rng(99);
  int kills = 0, runs = 0;
  bool done = false;
  while (!done && runs < 200) {
    ++runs;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) training_child(data, o, schedule, 1 + static_cast<unsigned>(runs % 3));
    // The first 40 runs are killed at a random moment (unless they finish first); the next
    // ones run to the end.
    const auto delay = std::chrono::microseconds(runs <= 40 ? rng.below(30000) : 600'000'000);
    const int status = kill_after(child, delay);
    if (status < 0) {
      ++kills;
      continue;
    }
    ASSERT_EQ(status, 0) << "a resumed run failed";
    done = true;
  }
  ASSERT_TRUE(done);
  EXPECT_GT(kills, 5);
  const auto final_state = load_latest_checkpoint(dir);
  ASSERT_TRUE(final_state.has_value());
  EXPECT_EQ(final_state->step, 30u);
  EXPECT_TRUE(same_state(*final_state, reference)) << "after " << kills << " kills in " << runs << " runs";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
