// Which GPTQ settings a model's shapes allow, checked before any work: the bit width, a group
// size that divides every linear's input width, and widths that pack into whole int32 words
// (K * bits and N * bits multiples of 32, the checkpoint layout of quant/gptq_packing.h).
#pragma once

#include "arch/llama/llama_config.h"
#include "gptq/gptq_solver.h"

namespace lmforge {

// Throws UsageError with one sentence naming the flag and the linear that refuses it.
void check_gptq_settings(const LlamaConfig& c, const GptqSettings& s);

}  // namespace lmforge
