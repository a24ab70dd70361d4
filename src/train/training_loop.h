// The loop every training command shares: which windows each step sees (file order or
// shuffled per epoch from the seed, epochs wrapping), the learning rate of each step, the
// per-step line / progress bar / --json summary, checkpoints every K steps and on Ctrl-C,
// resume, and stopping on a NaN loss with the last good checkpoint kept.
//
// What a step computes is not its business: finetune (LoRA) and train (all weights) each
// implement StepTrainer. The loop owns the TrainingState's step, epoch, cursor, order, rng and
// losses; the trainer owns its tensors.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/collective.h"
#include "train/token_windows.h"
#include "train/training_state.h"

namespace lmforge {

enum class LrScheduleKind { kConstant, kCosine };

// Step s (from 0) uses lr * (s + 1) / warmup while s < warmup; after it, constant lr, or
// cosine from lr down to 0 over the remaining steps (total_steps - warmup).
struct LrSchedule {
  float lr = 2e-4f;
  uint64_t warmup = 0;
  LrScheduleKind kind = LrScheduleKind::kConstant;
  uint64_t total_steps = 0;
  float at(uint64_t step) const;
};

struct TrainingLoopOptions {
  uint32_t batch = 4;        // windows per micro-batch; a partial last batch of an epoch is dropped
  uint32_t grad_accum = 1;   // micro-batches per optimizer step
  uint64_t steps = 0;        // optimizer steps in all (those before a resume included); 0: use epochs
  uint64_t epochs = 1;
  bool shuffle = true;       // else file order
  uint64_t seed = 0;         // epoch e's order: shuffled_order(windows, mix_seed(seed, e))
  std::string checkpoint_dir;    // empty: no checkpoints
  uint64_t checkpoint_every = 0; // 0: only at the end and on Ctrl-C
  bool json = false;         // no per-step lines or progress bar; the caller prints the summary
  // Set (by a signal handler) to stop after the current step, checkpoint, and return.
  const std::atomic<bool>* stop = nullptr;
  // Data-parallel runs (nullptr: one process). `batch` above is then the global batch, every
  // rank's windows together, and the StepTrainer takes its own share of each micro-batch. The
  // ranks stop together when any of them saw `stop`; rank 0 alone prints and writes
  // checkpoints.
  Collective* ranks = nullptr;
};

// What one optimizer step computes. Implementations must give bit-identical results for any
// thread count (fixed partitions of the work, reductions in a fixed order).
class StepTrainer {
 public:
  virtual ~StepTrainer() = default;
  // `windows`: batch * grad_accum windows of ctx + 1 tokens, in micro-batch order. Computes
  // the mean next-token cross-entropy over every position (accumulating gradients over the
  // micro-batches), applies one AdamW step with learning rate `lr` to state.tensors (step
  // number state.step, from 0), and returns the loss. A non-finite loss must leave
  // state.tensors unchanged.
  virtual float step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) = 0;
};

struct TrainingResult {
  uint64_t steps_done = 0;     // steps this call ran
  double seconds = 0;          // training time of those steps (loading excluded)
  double tokens_per_s = 0;     // batch * grad_accum * ctx * steps_done / seconds (all ranks' tokens)
  bool interrupted = false;    // stopped by `stop`; a checkpoint was written
  bool nan_stopped = false;    // a non-finite loss: stopped, the last good checkpoint kept
};

// Runs steps from state.step until the total is reached, `stop` is set or a loss is not
// finite. `state` is fresh (step 0, tensors initialised by the trainer) or loaded from a
// checkpoint (checkpoint.h). Total steps: options.steps, else epochs * (windows / batch /
// grad_accum). Throws lmforge::Error when the data give no whole step.
TrainingResult run_training(const TokenWindows& data, const TrainingLoopOptions& options, const LrSchedule& schedule,
                            StepTrainer& trainer, TrainingState& state);

}  // namespace lmforge
