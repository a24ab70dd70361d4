// Meta's original LLaMA release layout: a folder with params.json, consolidated.NN.pth (one
// per model-parallel rank) and tokenizer.model.
#pragma once

#include <string>

#include "convert/llama_source.h"

namespace lmforge {

// True when `dir` is a folder holding params.json and consolidated.00.pth.
bool is_meta_checkpoint_dir(const std::string& dir);

// The merged model: shards concatenated along each tensor kind's split dimension, Meta
// naming, config from params.json (n_ff from multiple_of / ffn_dim_multiplier).
LlamaModelSource open_meta_llama(const std::string& dir);

}  // namespace lmforge
