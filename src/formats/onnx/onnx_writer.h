// Writes a weights-only ONNX file: a ModelProto whose graph holds every given tensor as an
// initializer (raw_data, little-endian), no nodes, plus string metadata_props; readable by
// onnx.load and accepted by onnx.checker. Above protobuf's 2 GiB message limit the values go
// to one external data file beside the model ("<name>.data", offsets 4096-aligned, location
// relative). Which tensors and which metadata is the caller's business (convert/sinks/onnx_sink).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "formats/safetensors_writer.h"

namespace lmforge {

struct OnnxWriteOptions {
  // Serialized model size above which the values go to external data. protobuf refuses
  // messages of 2^31 bytes or more; tests set a small value to exercise external data.
  uint64_t external_threshold = 2147483647u;
};

// Writes `tensors` (each produced once, in order; types ONNX can hold) atomically at `dst`.
// Returns the path of the external data file when one was written, else "".
std::string write_onnx_initializers(const std::string& dst, const std::vector<TensorToWrite>& tensors,
                                    const std::vector<std::pair<std::string, std::string>>& metadata_props,
                                    const OnnxWriteOptions& options, bool overwrite);

}  // namespace lmforge
