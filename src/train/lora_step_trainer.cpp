#include "train/lora_step_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

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

// Visits every gradient matrix in the training state's tensor order (layer, target, A then B).
template <typename Fn>
void for_each_matrix(LoraAdapter& g, Fn&& fn) {
  for (auto& layer : g.layers) {
    for (auto& p : layer) {
      if (!p) continue;
      fn(p->a);
      fn(p->b);
    }
  }
}

// Sums the gradients over the ranks: packed into one buffer, one collective call per step.
void sum_over_ranks(LoraAdapter& grads, std::vector<float>& packed, Collective& ranks) {
  packed.clear();
  for_each_matrix(grads, [&](const std::vector<float>& m) { packed.insert(packed.end(), m.begin(), m.end()); });
  ranks.allreduce_sum(packed);
  size_t at = 0;
  for_each_matrix(grads, [&](std::vector<float>& m) {
    std::copy(packed.begin() + static_cast<std::ptrdiff_t>(at), packed.begin() + static_cast<std::ptrdiff_t>(at + m.size()),
              m.begin());
    at += m.size();
  });
}

}  // namespace

LoraStepTrainer::LoraStepTrainer(const LlamaModel& model, LoraAdapter shape, uint32_t ctx, uint32_t batch,
                                 const AdamWOptions& adamw, ThreadPool& pool, Collective* ranks)
    : adapter_(std::move(shape)),
      grads_(zero_like(adapter_)),
      ctx_(ctx),
      batch_(batch),
      adamw_(adamw),
      ranks_(ranks ? *ranks : alone_),
      fb_(model, adapter_, ctx, pool) {
  if (batch_ == 0) throw Error("finetune", "the batch must hold at least one window");
}

const LoraAdapter& LoraStepTrainer::adapter_from(const TrainingState& state) {
  copy_into_adapter(state.tensors, adapter_);
  return adapter_;
}

float LoraStepTrainer::step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) {
  const size_t global_batch = size_t{batch_} * static_cast<size_t>(ranks_.size());
  if (windows.empty() || windows.size() % global_batch != 0) {
    throw Error("finetune", "a step got " + std::to_string(windows.size()) + " windows, not a multiple of the batch " +
                                std::to_string(global_batch));
  }
  copy_into_adapter(state.tensors, adapter_);
  zero(grads_);
  // The mean over every position of the global step, whichever rank computes it.
  const double positions = static_cast<double>(windows.size()) * ctx_;
  const float scale = static_cast<float>(1.0 / positions);
  const size_t own = static_cast<size_t>(ranks_.rank()) * batch_;
  double sum = 0;
  for (size_t b = 0; b < windows.size(); b += global_batch)
    sum += fb_.accumulate(windows.subspan(b + own, batch_), scale, grads_);
  if (ranks_.size() > 1) {
    sum = ranks_.allreduce_sum(sum);
    sum_over_ranks(grads_, packed_, ranks_);
  }
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
