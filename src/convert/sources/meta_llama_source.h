// Meta's consolidated checkpoint folder as a llama model: params.json read by
// arch/llama/llama_config_meta, the shards merged by formats/meta_checkpoint along the split
// dimension the llama tensor table gives each tensor (Meta naming; Q/K rows stay in Meta's
// adjacent-pair rotary order, which is GGUF's), tokenizer.model beside the shards.
#pragma once

#include <string>

#include "convert/llama_source.h"

namespace lmforge {

// Throws when the shards disagree, one is missing, or params.json contradicts the tensors.
LlamaModelSource open_meta_llama(const std::string& dir);

}  // namespace lmforge
