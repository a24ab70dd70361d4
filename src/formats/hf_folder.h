// A Hugging Face model folder (config.json + weights + tokenizer files) as one object.
//
// Weights come from, in order of preference: model.safetensors, model.safetensors.index.json
// (shards), pytorch_model.bin, pytorch_model.bin.index.json. An index is checked against the
// shards it names: plain file names only, every shard present, and the set of tensors in
// weight_map equal to the set found in the shards (each in the shard the index says).
// Problems that do not stop a conversion (unused files) become warnings. The folder knows no
// architecture: the caller checks config.json and the tensor names through HfFolderChecks
// (convert/sources/hf_llama_source does it for llama).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/sentencepiece_model.h"

namespace lmforge {

struct HfModel {
  std::string dir;
  nlohmann::json config_json;
  std::unique_ptr<TensorSource> weights;
  std::optional<SentencePieceModel> tokenizer;  // tokenizer.model, when present
  // Parsed JSON of the optional files, null when absent.
  nlohmann::json tokenizer_config, special_tokens_map, added_tokens, generation_config;
  std::vector<std::string> files_used;  // names relative to dir
  std::vector<std::string> warnings;
};

// What the caller knows about the model inside, asked at the points where a problem should
// stop the open (config: before the weights are opened) or be warned about in order (tensors:
// after the weights' own warnings, before the unused-file ones).
struct HfFolderChecks {
  // Throws when config.json does not describe a model the caller can handle.
  std::function<void(const nlohmann::json& config, const std::string& config_path)> config;
  // Warnings about the tensor names and shapes.
  std::function<std::vector<std::string>(const std::vector<TensorInfo>& tensors)> tensors;
};

HfModel open_hf_folder(const std::string& dir, const HfFolderChecks& checks = {});

// True when `dir` holds one of the weight files open_hf_folder looks for (model.safetensors,
// its index, pytorch_model.bin, its index).
bool hf_folder_has_weights(const std::string& dir);

// Reads the optional tokenizer files of `dir` into m.tokenizer, m.tokenizer_config,
// m.special_tokens_map, m.added_tokens and m.generation_config, adding their names to
// m.files_used (also for folders whose weights are not safetensors/bin, e.g. ONNX exports).
void read_hf_tokenizer_files(const std::string& dir, HfModel& m);

}  // namespace lmforge
