// Any supported whole-model input as a llama: sniffs the path and hands it to the source
// builder of its kind (Hugging Face, Meta or ONNX export folder; GGUF, legacy GGML or ONNX file).
#pragma once

#include <string>

#include "convert/llama_source.h"

namespace lmforge {

// Throws lmforge::Error naming the path when it is not a whole llama model.
LlamaModelSource open_llama_model_source(const std::string& path);

}  // namespace lmforge
