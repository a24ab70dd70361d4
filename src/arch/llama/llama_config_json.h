// Hugging Face config.json <-> LlamaConfig.
//
// Reading checks every type and range, so that later code can divide by head counts and
// size buffers from these numbers without re-checking them. Rotary settings are read in both
// forms: `rope_theta` + `rope_scaling` (transformers < 5) and `rope_parameters` (transformers
// >= 5: rope_theta, rope_type and the type's parameters in one object); a config with both
// must have them agree.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "arch/llama/llama_config.h"

namespace lmforge {

// Limits on config values: far above any real llama model, low enough that products of two
// of them fit comfortably in 64 bits.
inline constexpr uint32_t kMaxConfigDim = 1u << 20;  // hidden, intermediate, heads, head_dim
inline constexpr uint32_t kMaxConfigVocab = 1u << 24;
inline constexpr uint32_t kMaxConfigLayers = 1u << 12;
inline constexpr uint32_t kMaxConfigContext = 1u << 26;

// `file` names config.json in errors. Accepts LlamaForCausalLM and MistralForCausalLM.
LlamaConfig llama_config_from_json(const nlohmann::json& j, const std::string& file);

// The inverse, for writing a Hugging Face folder: keys as transformers writes them.
nlohmann::json llama_config_to_json(const LlamaConfig& c);

}  // namespace lmforge
