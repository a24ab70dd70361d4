// LlamaConfig <-> GGUF `llama.*` metadata keys, both ways.
#pragma once

#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "formats/gguf/gguf_value.h"

namespace lmforge {

class GgufReader;

// Hyperparameters from `llama.*` keys (and the special token ids of `tokenizer.ggml.*`);
// throws when a required key is missing or mistyped, or the architecture is not llama.
LlamaConfig llama_config_from_gguf(const GgufReader& gguf, const std::string& file);

// The `llama.*` keys a converter writes for `c`, in llama.cpp's order. Optional keys
// (head_count_kv, freq_base, key/value_length, rope scaling) only when the source had them.
std::vector<GgufKv> llama_config_to_gguf(const LlamaConfig& c);

}  // namespace lmforge
