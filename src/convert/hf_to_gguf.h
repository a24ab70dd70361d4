// Hugging Face llama folder -> GGUF that llama.cpp loads.
#pragma once

#include <string>

#include "convert/convert_options.h"

namespace lmforge {

ConvertReport convert_hf_to_gguf(const std::string& src_dir, const std::string& dst, const ConvertOptions& opt);

}  // namespace lmforge
