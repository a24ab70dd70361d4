// The StepTrainer of `lmforge train`: one optimizer step over every weight of a llama model
// (train/full_model_tensors.h). For the step's windows (grad_accum micro-batches of `batch`
// windows) it accumulates the gradient of the mean next-token cross-entropy over every position
// (train/full_forward_backward.h), optionally clips the gradients by their global L2 norm
// (torch.nn.utils.clip_grad_norm_'s rule), then applies AdamW (train/adamw.h) to every tensor:
// with weight decay on matrices (the embedding and head included) and none on norm weights.
// A non-finite loss leaves the tensors unchanged.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "arch/llama/llama_config.h"
#include "train/adamw.h"
#include "train/full_forward_backward.h"
#include "train/training_loop.h"

namespace lmforge {

class ThreadPool;

class FullStepTrainer final : public StepTrainer {
 public:
  // `clip_norm` 0: no clipping.
  FullStepTrainer(const LlamaConfig& config, uint32_t ctx, uint32_t batch, const AdamWOptions& adamw, double clip_norm,
                  ThreadPool& pool);

  float step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) override;

  // The gradient of the last step (after clipping, before AdamW), one vector per tensor, for tests.
  const std::vector<std::vector<float>>& last_gradient() const { return grads_; }
  FullForwardBackward& pass() { return fb_; }

 private:
  uint32_t ctx_, batch_;
  AdamWOptions adamw_;
  double clip_norm_;
  FullForwardBackward fb_;
  std::vector<std::vector<float>> grads_;
};

}  // namespace lmforge
