#include "train/training_loop.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "core/progress.h"
#include "train/checkpoint.h"
#include "train/epoch_order.h"

namespace lmforge {

namespace {

constexpr const char* kWhere = "<training>";

// How the windows fall into steps: each step takes batch * grad_accum windows of the epoch's
// order; the windows left over at an epoch's end (fewer than a step needs) are skipped.
struct StepPlan {
  uint32_t n_windows = 0;
  uint64_t windows_per_step = 0;
  uint64_t steps_per_epoch = 0;
  uint64_t total_steps = 0;
};

StepPlan plan_steps(const TokenWindows& data, const TrainingLoopOptions& options) {
  if (options.batch == 0) fail(kWhere, "the batch size must be at least 1");
  if (options.grad_accum == 0) fail(kWhere, "gradient accumulation must be at least 1 micro-batch");
  if (data.size() > std::numeric_limits<uint32_t>::max())
    fail(kWhere, "the data give " + std::to_string(data.size()) + " windows; at most 2^32 - 1 are supported");
  StepPlan plan;
  plan.n_windows = static_cast<uint32_t>(data.size());
  plan.windows_per_step = static_cast<uint64_t>(options.batch) * options.grad_accum;
  plan.steps_per_epoch = plan.n_windows / plan.windows_per_step;
  if (plan.steps_per_epoch == 0)
    fail(kWhere, "the data give " + std::to_string(plan.n_windows) + " windows of " + std::to_string(data.ctx() + 1) +
                     " tokens, fewer than one step needs (batch " + std::to_string(options.batch) + " x grad-accum " +
                     std::to_string(options.grad_accum) + "); give more text or lower --ctx / --batch");
  if (options.steps > 0) {
    plan.total_steps = options.steps;
  } else {
    if (options.epochs > std::numeric_limits<uint64_t>::max() / plan.steps_per_epoch)
      fail(kWhere, "--epochs " + std::to_string(options.epochs) + " is too large");
    plan.total_steps = options.epochs * plan.steps_per_epoch;
  }
  return plan;
}

bool is_permutation_of_windows(const std::vector<uint32_t>& order, uint32_t n) {
  if (order.size() != n) return false;
  std::vector<bool> seen(n, false);
  for (uint32_t w : order) {
    if (w >= n || seen[w]) return false;
    seen[w] = true;
  }
  return true;
}

// A fresh state gets epoch 0's order; a loaded one must fit these data and options.
void prepare_data_position(const StepPlan& plan, const TrainingLoopOptions& options, TrainingState& state) {
  const uint64_t micro_per_epoch = plan.steps_per_epoch * options.grad_accum;
  if (state.step == 0 && state.order.empty()) {
    state.epoch = 0;
    state.cursor = 0;
    state.order = epoch_order(plan.n_windows, options.shuffle, options.seed, 0);
    return;
  }
  if (!is_permutation_of_windows(state.order, plan.n_windows))
    fail(kWhere, "the checkpoint's data order does not fit these data (" + std::to_string(state.order.size()) +
                     " entries for " + std::to_string(plan.n_windows) + " windows)");
  if (state.cursor > micro_per_epoch || state.cursor % options.grad_accum != 0)
    fail(kWhere, "the checkpoint's data cursor " + std::to_string(state.cursor) + " does not fit these data and options");
  if (state.losses.size() != state.step)
    fail(kWhere, "the checkpoint holds " + std::to_string(state.losses.size()) + " losses for " +
                     std::to_string(state.step) + " steps");
}

// Not enough windows left in this epoch for a whole step: the next epoch, in a new order.
void next_epoch_if_done(const StepPlan& plan, const TrainingLoopOptions& options, TrainingState& state) {
  if ((state.cursor + options.grad_accum) * options.batch <= plan.n_windows) return;
  ++state.epoch;
  state.cursor = 0;
  state.order = epoch_order(plan.n_windows, options.shuffle, options.seed, state.epoch);
}

std::string step_line(uint64_t step, uint64_t total, float loss, float lr, double tokens_per_s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "step %llu/%llu  loss %.6f  lr %.3e  %.1f tokens/s",
                static_cast<unsigned long long>(step), static_cast<unsigned long long>(total), static_cast<double>(loss),
                static_cast<double>(lr), tokens_per_s);
  return buf;
}

}  // namespace

TrainingResult run_training(const TokenWindows& data, const TrainingLoopOptions& options, const LrSchedule& schedule,
                            StepTrainer& trainer, TrainingState& state) {
  const StepPlan plan = plan_steps(data, options);
  prepare_data_position(plan, options, state);
  SingleProcess alone;
  Collective& ranks = options.ranks ? *options.ranks : alone;
  const bool root = ranks.is_root();
  const bool checkpoints = !options.checkpoint_dir.empty() && root;
  const uint64_t tokens_per_step = plan.windows_per_step * data.ctx();

  TrainingResult result;
  Progress progress(plan.total_steps, options.json || !root, "steps");
  progress.update(state.step);
  std::vector<std::span<const int32_t>> windows(plan.windows_per_step);

  while (state.step < plan.total_steps) {
    // Every rank decides alike, or one would wait for the others in its next step forever.
    const bool stop_here = options.stop && options.stop->load();
    if (ranks.size() > 1 ? ranks.allreduce_sum(stop_here ? 1.0 : 0.0) > 0 : stop_here) {
      result.interrupted = true;
      break;
    }
    next_epoch_if_done(plan, options, state);
    const uint64_t first = state.cursor * options.batch;
    for (uint64_t i = 0; i < plan.windows_per_step; ++i) windows[i] = data.window(state.order[first + i]);

    const float lr = schedule.at(state.step);
    const TrainRng::State rng_before = state.rng;
    const auto start = std::chrono::steady_clock::now();
    const float loss = trainer.step(windows, lr, state);
    result.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (!std::isfinite(loss)) {
      // The trainer left its tensors unchanged; undo the rest so the state is the last good one.
      state.rng = rng_before;
      result.nan_stopped = true;
      progress.finish();
      if (root)
        std::fprintf(stderr, "lmforge: the loss of step %llu is not finite (%g); training stopped, tensors as after step %llu\n",
                   static_cast<unsigned long long>(state.step + 1), static_cast<double>(loss),
                   static_cast<unsigned long long>(state.step));
      break;
    }
    state.losses.push_back(loss);
    ++state.step;
    state.cursor += options.grad_accum;
    // Eagerly, so that a checkpoint after an epoch's last step is the same as one at the next
    // epoch's start, whichever path led there.
    next_epoch_if_done(plan, options, state);
    ++result.steps_done;

    result.tokens_per_s = result.seconds > 0 ? static_cast<double>(tokens_per_step * result.steps_done) / result.seconds : 0;
    progress.log(step_line(state.step, plan.total_steps, loss, lr, result.tokens_per_s));
    progress.update(state.step);
    if (checkpoints && options.checkpoint_every > 0 && state.step % options.checkpoint_every == 0 &&
        state.step < plan.total_steps)
      save_checkpoint(options.checkpoint_dir, state);
  }
  progress.finish();

  if (checkpoints) {
    save_checkpoint(options.checkpoint_dir, state);
    if (result.nan_stopped)
      std::fprintf(stderr, "lmforge: kept the last good checkpoint (step %llu) in %s\n",
                   static_cast<unsigned long long>(state.step), options.checkpoint_dir.c_str());
    else if (result.interrupted)
      std::fprintf(stderr, "lmforge: interrupted; checkpoint of step %llu written to %s (continue with --resume)\n",
                   static_cast<unsigned long long>(state.step), options.checkpoint_dir.c_str());
  } else if (root && (result.nan_stopped || result.interrupted)) {
    std::fprintf(stderr, "lmforge: stopped after step %llu; no checkpoint directory was given\n",
                 static_cast<unsigned long long>(state.step));
  }
  return result;
}

}  // namespace lmforge
