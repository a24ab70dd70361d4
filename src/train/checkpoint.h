// Training checkpoints: a TrainingState written atomically into a checkpoint folder and read
// back bit for bit.
//
// Crash safety: the new checkpoint goes to a temporary file, is flushed to disk and renamed
// over the name `load_latest_checkpoint` reads only once complete; the previous one stays
// until then. `kill -9` at any moment (during a write included) leaves a checkpoint that
// loads; a full disk fails the write with a clear error and keeps the previous one.
#pragma once

#include <optional>
#include <string>

#include "train/training_state.h"

namespace lmforge {

// Writes `state` into `dir` (created when missing). Throws lmforge::Error naming the file on
// any write error, the previous checkpoint kept.
void save_checkpoint(const std::string& dir, const TrainingState& state);

// The latest complete checkpoint in `dir`, or nullopt when there is none. Throws
// lmforge::Error naming the file when one exists but is damaged (every size and offset checked).
std::optional<TrainingState> load_latest_checkpoint(const std::string& dir);

// The file a complete checkpoint in `dir` has (the one load_latest_checkpoint reads).
std::string checkpoint_file(const std::string& dir);

// Refuses (lmforge::Error, one clear line) to resume `saved` with another base model, data file
// or hyperparameters than `current`'s; `current` holds the fingerprints and options of this
// command line.
void check_resume_compatible(const TrainingState& saved, const TrainingState& current, const std::string& dir);

}  // namespace lmforge
