// GGUF (llama) -> Hugging Face folder: model.safetensors, config.json and tokenizer files,
// with the Q/K rows put back into Hugging Face's rotate_half layout.
#pragma once

#include <string>

#include "convert/convert_options.h"

namespace lmforge {

ConvertReport convert_gguf_to_hf(const std::string& src, const std::string& dst_dir, const ConvertOptions& opt);

}  // namespace lmforge
