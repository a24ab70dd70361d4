// LlamaConfig from Meta's params.json (the ModelArgs of the original llama/model.py).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "arch/llama/llama_config.h"

namespace lmforge {

// model.py's feed-forward width: int(8*dim/3), times ffn_dim_multiplier when given, rounded
// up to a multiple of `multiple_of`.
uint32_t meta_ffn_width(uint32_t dim, uint32_t multiple_of, std::optional<double> ffn_dim_multiplier);

// Hyperparameters from params.json (ModelArgs, possibly nested under "model"). vocab_size is
// 0 when the file leaves it to the tokenizer (-1).
LlamaConfig meta_config_from_params(const nlohmann::json& params, const std::string& file);

}  // namespace lmforge
