// A LLaMA exported to ONNX as a llama model: weights mapped back to llama names through the
// ONNX column of the llama tensor table (MatMul weights stored transposed put back in
// [out, in] order), config from config.json beside the model or lmforge's own metadata entry.
#pragma once

#include <string>

#include "convert/llama_source.h"

namespace lmforge {

// One .onnx file; tokenizer.model must sit beside it.
LlamaModelSource open_onnx_llama(const std::string& path);

// An export folder as optimum writes it (formats/onnx_reader's onnx_folder_model): the model
// file, config.json, and the tokenizer files read as a Hugging Face folder's are
// (tokenizer.model plus tokenizer_config.json / special_tokens_map.json / added_tokens.json).
LlamaModelSource open_onnx_llama_folder(const std::string& dir);

}  // namespace lmforge
