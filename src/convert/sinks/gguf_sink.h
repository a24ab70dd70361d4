// Any llama model -> a llama GGUF that llama.cpp loads: names from the llama tensor table,
// Q/K rows permuted from Hugging Face's rotate_half layout to adjacent pairs, the `llama.*`
// and tokenizer keys, tensors in canonical order, each tensor's type by gguf_type_policy.
#pragma once

#include <string>

#include "convert/convert_options.h"
#include "convert/llama_source.h"

namespace lmforge {

// Writes `model` at `dst` (or into opt.output_fd). With opt.outtype unset, float weights
// become F16 and already-quantized weights (legacy GGML Q4_0/Q4_1/Q8_0) keep their type.
// Every tensor is planned and checked before anything is written.
ConvertReport write_llama_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt);

}  // namespace lmforge
