// `lmforge convert BASE OUT --lora A`: the base's weights as a TensorSource in which every
// weight an adapter targets reads as F32 rows W + Σ scale·B A (the others pass through), so
// that the converter's sinks write (and quantize, for quantized outputs) the merged rows.
#pragma once

#include <vector>

#include "cli/lora_flags.h"
#include "convert/llama_source.h"

namespace lmforge::cli {

// Reads the requested adapters against model.config and wraps model.weights with the merge.
// Returns how many weights are merged. Throws lmforge::Error for an adapter that does not fit
// or a targeted weight of a type that cannot be decoded.
size_t merge_loras_into(LlamaModelSource& model, const std::vector<LoraRequest>& requests, bool quiet);

}  // namespace lmforge::cli
