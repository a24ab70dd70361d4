// Recognising a model file by its content, never by its extension.
#pragma once

#include <string>
#include <string_view>


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
  kOnnxFolder,     // an ONNX export folder (model.onnx + config.json + tokenizer files, no HF weights)
  kTfCheckpoint,   // TensorFlow PREFIX.index + PREFIX.data-*
  kProtobufPb,     // another .pb protobuf: GraphDef, SavedModel, ONNX TensorProto
  kUnknown,
};

// Short machine name used by `inspect --json` ("gguf", "safetensors", ...).
std::string_view file_format_name(FileFormat f);

// Looks at the first bytes of a file, or at which files a folder holds. Throws when the path
// cannot be read. (Opening what was found is convert/open_model's job: a folder is a whole
// model, which takes knowing the model.)
FileFormat sniff_format(const std::string& path);

}  // namespace lmforge
