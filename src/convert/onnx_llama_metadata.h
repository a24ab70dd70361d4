// The metadata_props key under which lmforge's ONNX writer stores a llama's config.json text,
// so that the file reads back as a whole model (head counts cannot be inferred from the
// weights). Shared by the ONNX sink (writes it) and the ONNX llama source (reads it).
#pragma once

#include <string_view>

namespace lmforge {

inline constexpr std::string_view kOnnxLlamaConfigKey = "lmforge.llama_config";

}  // namespace lmforge
