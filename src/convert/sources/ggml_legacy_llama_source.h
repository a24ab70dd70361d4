// A legacy llama.cpp file (ggml / ggmf / ggjt) as a llama model: the container's header
// hyperparameters turned into a LlamaConfig (with what the tensors' shapes say about GQA and
// n_ff), its vocabulary into GGUF tokenizer keys; Meta naming.
#pragma once

#include <string>

#include "convert/llama_source.h"

namespace lmforge {

LlamaModelSource open_ggml_legacy_llama(const std::string& path);

}  // namespace lmforge
