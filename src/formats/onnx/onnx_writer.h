// Writes a weights-only ONNX file: a ModelProto whose graph holds every tensor as an
// initializer (raw_data, little-endian), no nodes; readable by onnx.load and accepted by
// onnx.checker. Above protobuf's 2 GiB message limit the values go to one external data file
// beside the model ("<name>.data", offsets 4096-aligned, location relative).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "convert/convert_options.h"

namespace lmforge {

// metadata_props key holding config.json text, so that a llama written here can be read back
// as a whole model (head counts cannot be inferred from the weights).
inline constexpr std::string_view kOnnxLlamaConfigKey = "lmforge.llama_config";

struct OnnxWriteOptions {
  // Serialized model size above which the values go to external data. protobuf refuses
  // messages of 2^31 bytes or more; tests set a small value to exercise external data.
  uint64_t external_threshold = 2147483647u;
};

// Any single file or folder open_model() reads -> ONNX at `dst`. The threshold is taken from
// the environment variable LMFORGE_ONNX_EXTERNAL_THRESHOLD (bytes) when it is set.
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt);
ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt,
                              const OnnxWriteOptions& wopt);

}  // namespace lmforge
