// A Hugging Face llama folder: the container (formats/hf_folder) checked as a llama —
// config.json read as a LlamaConfig, tensor names and shapes held to the llama table — and
// assembled into a LlamaModelSource.
#pragma once

#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "convert/llama_source.h"
#include "core/tensor.h"
#include "formats/hf_folder.h"

namespace lmforge {

struct LlamaHfFolder {
  HfModel files;
  LlamaConfig config;
};

// Opens `dir` with the llama checks: a config.json that is not a llama throws; tensor
// problems become warnings in files.warnings.
LlamaHfFolder open_llama_hf_folder(const std::string& dir);

// Warnings about tensor names and shapes against the config: names that are not llama HF
// names, shapes that contradict the config, required tensors that are missing.
std::vector<std::string> check_llama_hf_tensors(const std::vector<TensorInfo>& tensors, const LlamaConfig& config);

// The folder as a whole model (HF naming), vocabulary keys included.
LlamaModelSource llama_source_from_hf_folder(const std::string& dir);

}  // namespace lmforge
