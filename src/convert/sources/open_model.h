// Any supported file or folder as one TensorSource, for `inspect` and the tensor-level
// converters (safetensors, ONNX output). It sits in convert/ rather than formats/ because a
// folder is a whole model: a Hugging Face folder is checked as a llama (config.json, tensor
// names and shapes) and Meta's model-parallel shards are merged along the llama table's split
// dimensions.
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"

namespace lmforge {

// Throws with a clear message for unsupported or unrecognised content.
std::unique_ptr<TensorSource> open_model(const std::string& path);

}  // namespace lmforge
