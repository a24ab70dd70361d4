// The StepTrainer of `lmforge finetune`: one optimizer step of LoRA on a frozen base. For the
// step's windows (grad_accum micro-batches of `batch` windows) it accumulates the gradient of
// the mean next-token cross-entropy over every position (train/lora_forward_backward.h), then
// applies AdamW (train/adamw.h) to every adapter tensor of the TrainingState. A non-finite loss
// leaves the tensors unchanged.
//
// Data-parallel (a Collective of several ranks): the step's windows are the global ones, each
// micro-batch R * batch windows; rank r computes windows r * batch .. r * batch + batch - 1 of
// every micro-batch, the gradients and loss sums are summed over the ranks, and every rank
// applies the same AdamW step: the result is one process's with --batch R * batch, up to the
// order of float additions.
#pragma once

#include <cstdint>
#include <span>

#include "core/collective.h"
#include "engine/lora_adapter.h"
#include "train/adamw.h"
#include "train/lora_forward_backward.h"
#include "train/training_loop.h"

namespace lmforge {

class LlamaModel;
class ThreadPool;

class LoraStepTrainer final : public StepTrainer {
 public:
  // `shape`: the adapter's rank, alpha and pairs (its values are replaced by the state's at
  // every step). `batch`: windows per micro-batch of this process. `ranks`: the processes of a
  // data-parallel run (nullptr: this one alone); it must outlive the trainer.
  LoraStepTrainer(const LlamaModel& model, LoraAdapter shape, uint32_t ctx, uint32_t batch, const AdamWOptions& adamw,
                  ThreadPool& pool, Collective* ranks = nullptr);
  // The forward/backward pass keeps a reference to adapter_: neither copied nor moved.
  LoraStepTrainer(const LoraStepTrainer&) = delete;
  LoraStepTrainer& operator=(const LoraStepTrainer&) = delete;

  float step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) override;

  // The adapter with the state's current values.
  const LoraAdapter& adapter_from(const TrainingState& state);
  // The gradient of the last step (before AdamW), for tests.
  const LoraAdapter& last_gradient() const { return grads_; }

  // LoraForwardBackward's activation budget (0: recompute every layer, the least memory) and
  // what keeping the activations of one micro-batch takes.
  void set_activation_budget(uint64_t bytes) { fb_.set_activation_budget(bytes); }
  uint64_t activation_budget() const { return fb_.activation_budget(); }
  uint64_t activation_bytes() const { return fb_.activation_bytes(batch_); }

 private:
  LoraAdapter adapter_, grads_;
  uint32_t ctx_, batch_;
  AdamWOptions adamw_;
  SingleProcess alone_;
  Collective& ranks_;
  std::vector<float> packed_;  // every gradient in one buffer, for one sum over the ranks per step
  LoraForwardBackward fb_;
};

}  // namespace lmforge
