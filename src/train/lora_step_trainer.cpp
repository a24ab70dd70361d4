#include "train/lora_step_trainer.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "train/lora_tensors.h"

namespace lmforge {

namespace {

void zero(LoraAdapter& g) {
  for (auto& layer : g.layers) {
    for (auto& p : layer) {
      if (!p) continue;
      std::fill(p->a.begin(), p->a.end(), 0.0f);
      std::fill(p->b.begin(), p->b.end(), 0.0f);
    }
  }
}

}  // namespace

LoraStepTrainer::LoraStepTrainer(const LlamaModel& model, LoraAdapter shape, uint32_t ctx, uint32_t batch,
                                 const AdamWOptions& adamw, ThreadPool& pool)
    : adapter_(std::move(shape)),
      grads_(zero_like(adapter_)),
      ctx_(ctx),
      batch_(batch),
      adamw_(adamw),
      fb_(model, adapter_, ctx, pool) {
  if (batch_ == 0) throw Error("finetune", "the batch must hold at least one window");
}

const LoraAdapter& LoraStepTrainer::adapter_from(const TrainingState& state) {
  copy_into_adapter(state.tensors, adapter_);
  return adapter_;
}

float LoraStepTrainer::step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) {
  if (windows.empty() || windows.size() % batch_ != 0) {
    throw Error("finetune", "a step got " + std::to_string(windows.size()) + " windows, not a multiple of the batch " +
                                std::to_string(batch_));
  }
  copy_into_adapter(state.tensors, adapter_);
  zero(grads_);
  const double positions = static_cast<double>(windows.size()) * ctx_;
  const float scale = static_cast<float>(1.0 / positions);
  double sum = 0;
  for (size_t b = 0; b < windows.size(); b += batch_) sum += fb_.accumulate(windows.subspan(b, batch_), scale, grads_);
  const float loss = static_cast<float>(sum / positions);
  if (!std::isfinite(loss)) return loss;
  size_t i = 0;
  for (auto& layer : grads_.layers) {
    for (auto& p : layer) {
      if (!p) continue;
      for (std::vector<float>* g : {&p->a, &p->b}) {
        TrainedTensor& t = state.tensors.at(i++);
        if (t.value.size() != g->size() || t.adam_m.size() != g->size() || t.adam_v.size() != g->size()) {
          throw Error(t.name, "the training state's tensor has the wrong size");
        }
        adamw_step(t.value.data(), t.adam_m.data(), t.adam_v.data(), g->data(), g->size(), lr, state.step + 1, adamw_);
      }
    }
  }
  return loss;
}

}  // namespace lmforge
