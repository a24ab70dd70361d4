// The AutoGPTQ checkpoint folder that `lmforge gptq` writes (the layout users download from
// the hub, "checkpoint_format": "gptq", i.e. v1 zero points):
//   model.safetensors   per decoder linear `model.layers.N.{self_attn,mlp}.X_proj.`
//                         qweight int32 [K*bits/32, N], qzeros int32 [G, N*bits/32],
//                         scales f16 [G, N], g_idx int32 [K]  (quant/gptq_packing.h)
//                       embed_tokens, the norms and lm_head (absent when tied) as f16
//   quantize_config.json, config.json (+ quantization_config), generation_config.json,
//   tokenizer.model, tokenizer_config.json, special_tokens_map.json
// Q and K rows are written in Hugging Face's rotate_half order (the model is quantized in
// GGUF order; rows are independent in GPTQ, so this is a pure relabelling of outputs).
//
// Layers are quantized while the file is written: the safetensors header is known from the
// config alone, and the first tensor of layer N asks the ModelQuantizer for that layer, so only
// one layer's results are held at a time. Everything goes to a temporary folder renamed into
// place at the end (core/atomic_output): an error leaves nothing behind.
//
// v1 cannot store an asymmetric zero point of 0 (stored as 0 - 1, read back as 2^bits): such
// groups (all of a group's weights >= 0) are written as AutoGPTQ writes them and counted in
// `unrepresentable_zeros`, which the command reports as a warning.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "gptq/model_quantizer.h"

namespace lmforge {

struct LoadedModel;

struct GptqFolderOptions {
  GptqSettings settings;
  bool rtn = false;
  bool overwrite = false;
  uint32_t n_windows = 0, seqlen = 0;  // recorded in the safetensors metadata
};

struct GptqFolderSummary {
  uint64_t unrepresentable_zeros = 0;
  uint64_t bytes = 0;  // tensor bytes written
};

GptqFolderSummary write_gptq_folder(const LoadedModel& loaded, ModelQuantizer& quantizer, const std::string& out_dir,
                                    const GptqFolderOptions& opt,
                                    const std::function<void(const QuantizedLayer&)>& on_layer);

// quantize_config.json's object (also config.json's quantization_config).
nlohmann::json gptq_quantize_config(const GptqSettings& s);

}  // namespace lmforge
