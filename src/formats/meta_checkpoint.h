// Meta's original LLaMA release layout: a folder with params.json, consolidated.NN.pth (one
// per model-parallel rank) and tokenizer.model.
//
// Each rank's file holds its slice of every tensor, cut the way fairscale's layers in Meta's
// model.py cut them: ColumnParallelLinear (wq, wk, wv, w1, w3, output) by output rows,
// RowParallelLinear (wo, w2) by input columns, the embedding by width (LLaMA 1/2) or by
// vocabulary (Llama 3), norms replicated. The merged source puts the slices back together
// one tensor at a time. Q/K rows stay in Meta's adjacent-pair rotary order, which is GGUF's.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "convert/llama_source.h"
#include "arch/llama/llama_config.h"

namespace lmforge {

// True when `dir` is a folder holding params.json and consolidated.00.pth.
bool is_meta_checkpoint_dir(const std::string& dir);

// The merged model: shards concatenated along each tensor kind's split dimension, Meta
// naming, config from params.json (n_ff from multiple_of / ffn_dim_multiplier). Throws when
// the shards disagree, one is missing, or params.json contradicts the tensors.
LlamaModelSource open_meta_llama(const std::string& dir);

// model.py's feed-forward width: int(8*dim/3), times ffn_dim_multiplier when given, rounded
// up to a multiple of `multiple_of`.
uint32_t meta_ffn_width(uint32_t dim, uint32_t multiple_of, std::optional<double> ffn_dim_multiplier);

// Hyperparameters from params.json (ModelArgs, possibly nested under "model"). vocab_size is
// 0 when the file leaves it to the tokenizer (-1).
LlamaConfig meta_config_from_params(const nlohmann::json& params, const std::string& file);

}  // namespace lmforge
