// Any single file or folder open_model() reads -> a weights-only ONNX file (the container
// writer in formats/onnx/onnx_writer), with the llama config stored as metadata when the
// source is a whole llama model.
#pragma once

#include <string>

#include "convert/convert_options.h"
#include "convert/onnx_llama_metadata.h"
#include "formats/onnx/onnx_writer.h"

namespace lmforge {

// Float tensors keep their type unless opt.outtype names one; quantized ones become F32. The
// external-data threshold is taken from the environment variable
// LMFORGE_ONNX_EXTERNAL_THRESHOLD (bytes) when it is set.
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt);
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt,
                              const OnnxWriteOptions& wopt);

}  // namespace lmforge
