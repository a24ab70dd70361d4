// The batch of one scheduler step: the pending token of every generating slot first (each
// generating slot advances by one token per step, so ongoing streams never wait behind a
// prompt), then prompt chunks of the slots reading their prompt, oldest request first, while
// the step has room (n_batch tokens in all). Only the last prompt token of a slot asks for
// logits, and every generating token does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/llama_batch.h"
#include "generate/scheduler_slot.h"

namespace lmforge {

struct StepBatch {
  LlamaBatch batch;
  // What the step holds of each slot that takes part, in batch order.
  struct Part {
    SchedulerSlot* slot = nullptr;
    size_t n_tokens = 0;  // 1 for a generating slot, the chunk's length for a prompt
    bool prompt = false;
    bool wants_logits = false;  // its last entry asks for logits (the row index is in order)
  };
  std::vector<Part> parts;
  size_t n_prompt_tokens = 0;
  size_t n_generating = 0;
};

// Fills `step` (cleared first) from `slots`; `budget` >= 1 tokens at most, but every
// generating slot always takes part (the caller sizes the budget to at least the slot count).
void build_step(const std::vector<std::unique_ptr<SchedulerSlot>>& slots, size_t budget, StepBatch& step);

}  // namespace lmforge
