// Writes a weights-only ONNX file: a ModelProto whose graph holds every tensor as an
// initializer (raw_data), no nodes; readable by onnx.load and accepted by onnx.checker.
#pragma once

#include <string>

#include "convert/convert_options.h"

namespace lmforge {

// Any single file or folder open_model() reads -> ONNX at `dst`.
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt);

}  // namespace lmforge
