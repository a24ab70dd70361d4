// What `finetune` and `train` say when their training loop returns: a NaN stop is an error, an
// interrupted run (Ctrl-C, SIGUSR1) exits 130 without writing its output, and a finished run
// ends with the --json summary {steps, loss, tokens_per_s} on stdout or one closing line.
#pragma once

#include <string>

#include "train/training_loop.h"

namespace lmforge::cli {

// Throws lmforge::Error (naming the data file) on a NaN stop; returns 130 after saying so
// (when `talk`) for an interrupted run, 0 when the caller goes on to write `out`.
int training_stopped_status(const TrainingResult& r, const std::string& data, const std::string& out, bool talk);

// After `out` is written: the --json summary, or the closing line on stderr.
void print_training_summary(const TrainingState& state, const TrainingResult& r, const std::string& out, bool json);

}  // namespace lmforge::cli
