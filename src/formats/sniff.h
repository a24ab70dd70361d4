// Recognising a model file by its content, never by its extension.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace lmforge {

enum class FileFormat {
  kGguf,
  kSafetensors,
  kPytorchZip,
  kPytorchLegacy,
  kHfFolder,
  kGgmlLegacy,     // ggml / ggmf / ggjt (pre-GGUF llama.cpp)
  kMetaFolder,     // params.json + consolidated.NN.pth
  kOnnx,           // ONNX ModelProto
  kTfCheckpoint,   // TensorFlow PREFIX.index + PREFIX.data-*
  kProtobufPb,     // another .pb protobuf: GraphDef, SavedModel, ONNX TensorProto
  kUnknown,
};

// Short machine name used by `inspect --json` ("gguf", "safetensors", ...).
std::string_view file_format_name(FileFormat f);

// Looks at the first bytes of a file (or notes that `path` is a directory). Throws when the
// path cannot be read.
FileFormat sniff_format(const std::string& path);

// Opens any supported single file or folder as a tensor source; throws with a clear message
// for unsupported or unrecognised content.
std::unique_ptr<TensorSource> open_model(const std::string& path);

}  // namespace lmforge
