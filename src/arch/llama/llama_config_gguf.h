// LlamaConfig <-> GGUF `llama.*` (or `qwen2.*`) metadata keys, both ways, and the
// `rope_freqs.weight` tensor of Llama 3 rope scaling.
#pragma once

#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "formats/gguf/gguf_value.h"

namespace lmforge {

class GgufReader;

// The tensor llama.cpp keeps Llama 3's per-frequency rope divisors in (F32, head_dim / 2).
inline constexpr const char* kRopeFreqsTensor = "rope_freqs.weight";

// Hyperparameters from `llama.*` keys (and the special token ids of `tokenizer.ggml.*`);
// throws when a required key is missing or mistyped, or the architecture is not llama.
LlamaConfig llama_config_from_gguf(const GgufReader& gguf, const std::string& file);

// The `llama.*` keys a converter writes for `c`, in llama.cpp's order. Optional keys
// (head_count_kv, freq_base, key/value_length, rope scaling) only when the source had them.
std::vector<GgufKv> llama_config_to_gguf(const LlamaConfig& c);

}  // namespace lmforge
