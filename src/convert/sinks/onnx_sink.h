// Any single file or folder open_model() reads -> a weights-only ONNX file (the container
// writer in formats/onnx/onnx_writer), with the llama config stored as metadata when the
// source is a whole llama model.
#pragma once

#include <string>
#include <string_view>

#include "convert/convert_options.h"
#include "formats/onnx/onnx_writer.h"

namespace lmforge {

// metadata_props key holding config.json text, so that a llama written here can be read back
// as a whole model (head counts cannot be inferred from the weights).
inline constexpr std::string_view kOnnxLlamaConfigKey = "lmforge.llama_config";

// Float tensors keep their type unless opt.outtype names one; quantized ones become F32. The
// external-data threshold is taken from the environment variable
// LMFORGE_ONNX_EXTERNAL_THRESHOLD (bytes) when it is set.
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt);
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt,
                              const OnnxWriteOptions& wopt);

}  // namespace lmforge
