// ONNX model files (ModelProto): graph initializers as tensors, read through the schema-less
// protobuf walker. External data (TensorProto.data_location = EXTERNAL) is read from files
// beside the model, with `location` refused when it leaves that folder.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace lmforge {

// True when the first bytes of `path` parse as an ONNX ModelProto (ir_version, graph, ...).
bool sniff_onnx(const std::string& path);

std::unique_ptr<TensorSource> open_onnx(const std::string& path);

// An export folder as Hugging Face optimum writes it: the model file (model.onnx, or the
// decoder files of older exports: decoder_model_merged.onnx, decoder_model.onnx), maybe its
// external data, config.json and tokenizer files. Returns the model file's path when `dir`
// holds one of those names and it parses as ONNX; nullopt otherwise.
std::optional<std::string> onnx_folder_model(const std::string& dir);

}  // namespace lmforge
