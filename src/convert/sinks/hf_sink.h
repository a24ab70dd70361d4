// Any LlamaModelSource -> Hugging Face folder (model.safetensors or shards, config.json,
// generation_config.json, tokenizer.model + tokenizer_config.json), Q/K rows in the
// rotate_half order Hugging Face expects. A GGUF with a byte-level BPE vocabulary gets
// tokenizer.json, tokenizer_config.json and generation_config.json instead of tokenizer.model
// (convert/hf_bpe_tokenizer.h).
#pragma once

#include <string>

#include "convert/convert_options.h"
#include "convert/llama_source.h"

namespace lmforge {

ConvertReport write_llama_hf(LlamaModelSource& model, const std::string& dst_dir, const ConvertOptions& opt);

// A GGUF file (refused otherwise) -> Hugging Face folder, with the GGUF's vocabulary keys
// (add_bos, chat template) carried into tokenizer_config.json.
ConvertReport convert_gguf_to_hf(const std::string& src, const std::string& dst_dir, const ConvertOptions& opt);

}  // namespace lmforge
