// What a data-parallel training run needs beyond the Collective's sums (core/collective.h):
// that every rank trains on the same base and data, starts from the same checkpoint and ends
// with the same tensors.
//
// Rank 0 alone reads and writes the checkpoint folder; the other ranks get its checkpoint's
// bytes through the Collective, so the folder need not be shared between machines.
#pragma once

#include <optional>
#include <string>

#include "core/collective.h"
#include "train/training_state.h"

namespace lmforge {

// Rank 0's latest checkpoint in `dir` (checkpoint.h), decoded on every rank; nullopt on every
// rank when rank 0 has none. Throws lmforge::Error on every rank when it is damaged.
std::optional<TrainingState> load_latest_checkpoint_on_all(const std::string& dir, Collective& ranks);

// Throws lmforge::Error when this rank's base model or data fingerprint differs from rank 0's
// (another file at the same path on another machine).
void check_same_inputs(const TrainingState& state, Collective& ranks);

// Throws lmforge::Error when this rank's trained values or Adam moments differ from rank 0's in
// any bit (a SHA-256 of them: one broadcast of 64 hex digits).
void check_same_tensors(const TrainingState& state, Collective& ranks);

}  // namespace lmforge
