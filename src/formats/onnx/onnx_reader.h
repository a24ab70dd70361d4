// ONNX model files (ModelProto): graph initializers as tensors, read through the schema-less
// protobuf walker. External data (TensorProto.data_location = EXTERNAL) is read from files
// beside the model, with `location` refused when it leaves that folder.
#pragma once

#include <memory>
#include <string>

#include "convert/llama_source.h"
#include "core/tensor.h"

namespace lmforge {

// True when the first bytes of `path` parse as an ONNX ModelProto (ir_version, graph, ...).
bool sniff_onnx(const std::string& path);

std::unique_ptr<TensorSource> open_onnx(const std::string& path);

// A LLaMA export's weights mapped to llama names (HF naming), with MatMul weights stored
// transposed put back in [out, in] order; hyperparameters inferred from the shapes and any
// config in metadata_props; tokenizer.model taken from beside the file when present.
LlamaModelSource open_onnx_llama(const std::string& path);

}  // namespace lmforge
