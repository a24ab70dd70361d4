// The sampling flags (--temp, --top-k ... --seed) as `run` and `ask` both take them: one list,
// so the two commands cannot drift apart.
#pragma once

#include <CLI/CLI.hpp>

#include "sampling/sampler.h"

namespace lmforge::cli {

// Adds the sampling flags to `sub`, each writing into `s` (which must outlive the parse).
void add_sampling_flags(CLI::App* sub, SamplingParams& s);

}  // namespace lmforge::cli
