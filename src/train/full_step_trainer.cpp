#include "train/full_step_trainer.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace lmforge {

FullStepTrainer::FullStepTrainer(const LlamaConfig& config, uint32_t ctx, uint32_t batch, const AdamWOptions& adamw,
                                 double clip_norm, ThreadPool& pool)
    : ctx_(ctx), batch_(batch), adamw_(adamw), clip_norm_(clip_norm), fb_(config, ctx, pool) {
  if (batch_ == 0) throw Error("train", "the batch must hold at least one window");
}

float FullStepTrainer::step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) {
  if (windows.empty() || windows.size() % batch_ != 0) {
    throw Error("train", "a step got " + std::to_string(windows.size()) + " windows, not a multiple of the batch " +
                             std::to_string(batch_));
  }
  grads_.resize(state.tensors.size());
  for (size_t i = 0; i < state.tensors.size(); ++i) grads_[i].assign(state.tensors[i].value.size(), 0.0f);
  const double positions = static_cast<double>(windows.size()) * ctx_;
  const float scale = static_cast<float>(1.0 / positions);
  double sum = 0;
  for (size_t b = 0; b < windows.size(); b += batch_)
    sum += fb_.accumulate(windows.subspan(b, batch_), scale, state.tensors, grads_);
  const float loss = static_cast<float>(sum / positions);
  if (!std::isfinite(loss)) return loss;

  // clip_grad_norm_: total = ||all gradients||_2; when total > max, every gradient is multiplied
  // by max / (total + 1e-6). Summed in double in tensor order, so no thread dependence.
  float clip = 1.0f;
  if (clip_norm_ > 0) {
    double sq = 0;
    for (const auto& g : grads_)
      for (float x : g) sq += static_cast<double>(x) * x;
    const double total = std::sqrt(sq);
    if (total > clip_norm_) clip = static_cast<float>(clip_norm_ / (total + 1e-6));
  }
  AdamWOptions no_decay = adamw_;
  no_decay.weight_decay = 0.0;
  for (size_t i = 0; i < state.tensors.size(); ++i) {
    TrainedTensor& t = state.tensors[i];
    std::vector<float>& g = grads_[i];
    if (t.adam_m.size() != g.size() || t.adam_v.size() != g.size())
      throw Error(t.name, "the training state's tensor has the wrong size");
    if (clip != 1.0f) {
      for (float& x : g) x *= clip;
    }
    adamw_step(t.value.data(), t.adam_m.data(), t.adam_v.data(), g.data(), g.size(), lr, state.step + 1,
               t.shape.size() >= 2 ? adamw_ : no_decay);
  }
  return loss;
}

}  // namespace lmforge
