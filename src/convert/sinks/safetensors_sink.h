// Any single-file checkpoint (PyTorch .bin/.pt/.pth, safetensors, GGUF) -> one safetensors
// file with the same tensor names, types and values.
#pragma once

#include <string>

#include "convert/convert_options.h"

namespace lmforge {

ConvertReport convert_to_safetensors(const std::string& src, const std::string& dst, const ConvertOptions& opt);

}  // namespace lmforge
