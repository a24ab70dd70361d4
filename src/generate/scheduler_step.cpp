#include "generate/scheduler_step.h"

#include <algorithm>

namespace lmforge {

void build_step(const std::vector<std::unique_ptr<SchedulerSlot>>& slots, size_t budget, StepBatch& step) {
  step.batch.clear();
  step.parts.clear();
  step.n_prompt_tokens = 0;
  step.n_generating = 0;

  for (const auto& slot : slots) {
    if (slot->state() != SchedulerSlot::State::kGenerating) continue;
    step.batch.add(slot->pending_token(), static_cast<int32_t>(slot->n_past()), static_cast<int32_t>(slot->index()), true);
    step.parts.push_back({slot.get(), 1, false, true});
    ++step.n_generating;
  }

  // Prompts by age (request ids grow with submission), so a long prompt cannot be overtaken
  // forever, and the oldest waiting client gets its first token soonest.
  std::vector<SchedulerSlot*> reading;
  for (const auto& slot : slots)
    if (slot->state() == SchedulerSlot::State::kPrompt) reading.push_back(slot.get());
  std::sort(reading.begin(), reading.end(), [](const SchedulerSlot* a, const SchedulerSlot* b) { return a->request_id() < b->request_id(); });
  for (SchedulerSlot* slot : reading) {
    if (step.batch.size() >= budget) break;
    const std::span<const int32_t> left = slot->prompt_left();
    const size_t n = std::min(left.size(), budget - step.batch.size());
    const bool last = n == left.size();
    for (size_t i = 0; i < n; ++i)
      step.batch.add(left[i], static_cast<int32_t>(slot->n_past() + i), static_cast<int32_t>(slot->index()), last && i + 1 == n);
    step.parts.push_back({slot, n, true, last});
    step.n_prompt_tokens += n;
  }
}

}  // namespace lmforge
