// The quantization settings of a GPTQ checkpoint folder (AutoGPTQ, GPTQModel, transformers /
// optimum), read from the first of quantize_config.json, quant_config.json or config.json's
// "quantization_config" that exists, as AutoGPTQ's loader looks for them.
//
// Accepted spellings: bits | w_bit | wbits, group_size | q_group_size | groupsize,
// checkpoint_format | format ("gptq" = v1 zero points stored minus one, "gptq_v2" = stored as
// is). Missing sym is true and missing desc_act false (AutoGPTQ's defaults). Anything else
// (quant_method other than gptq, the marlin or awq layouts, bits outside 2/3/4/8) is refused
// with one line naming the file and the key.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace lmforge {

struct GptqConfig {
  std::string file;          // the file the settings came from, for messages
  int bits = 4;              // 2, 3, 4 or 8
  int64_t group_size = -1;   // inputs per group; -1 = one group per row (the whole input)
  bool desc_act = false;     // act-order: g_idx may be a permutation of the groups
  bool sym = true;
  bool static_groups = false;
  bool v2 = false;           // checkpoint_format gptq_v2: qzeros hold the zero points as is
  std::string checkpoint_format = "gptq";

  // Inputs per group for a linear with `in` inputs (`in` when group_size is -1).
  uint64_t group_size_for(uint64_t in) const { return group_size < 0 ? in : static_cast<uint64_t>(group_size); }
};

// nullopt when the folder has none of the three (not a GPTQ folder); throws when one exists
// and is not a GPTQ configuration lmforge reads. `config_json` is config.json when the caller
// already parsed it (may be null).
std::optional<GptqConfig> read_gptq_config(const std::string& dir, const nlohmann::json* config_json = nullptr);

// AutoGPTQ's own weight file name when a folder has none of the usual ones: quantize_config.json's
// model_file_base_name + ".safetensors" (a plain file name), else its default
// gptq_model-<bits>bit-<group_size>g.safetensors; nullopt when no such file exists.
std::optional<std::string> autogptq_weight_file(const std::string& dir);

// The settings inside one JSON object (exposed for tests); `file` names it in errors.
GptqConfig gptq_config_from_json(const nlohmann::json& j, const std::string& file);

}  // namespace lmforge
