// A Hugging Face model folder (config.json + weights + tokenizer files) as one object.
//
// Weights come from, in order of preference: model.safetensors, model.safetensors.index.json
// (shards), pytorch_model.bin, pytorch_model.bin.index.json. An index is checked against the
// shards it names: plain file names only, every shard present, and the set of tensors in
// weight_map equal to the set found in the shards (each in the shard the index says).
// Problems that do not stop a conversion (unused files, unexpected tensor names, shapes that
// contradict config.json, missing tensors) become warnings.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/sentencepiece_model.h"
#include "arch/llama/llama_config.h"

namespace lmforge {

struct HfModel {
  std::string dir;
  LlamaConfig config;
  nlohmann::json config_json;
  std::unique_ptr<TensorSource> weights;
  std::optional<SentencePieceModel> tokenizer;  // tokenizer.model, when present
  // Parsed JSON of the optional files, null when absent.
  nlohmann::json tokenizer_config, special_tokens_map, added_tokens, generation_config;
  std::vector<std::string> files_used;  // names relative to dir
  std::vector<std::string> warnings;
};

HfModel open_hf_folder(const std::string& dir);

// Warnings about tensor names and shapes against the config (also used by open_hf_folder):
// names that are not llama HF names, shapes that contradict the config, required tensors
// that are missing.
std::vector<std::string> check_llama_hf_tensors(const std::vector<TensorInfo>& tensors,
                                                const LlamaConfig& config);

}  // namespace lmforge
