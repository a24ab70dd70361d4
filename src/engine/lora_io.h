// The pieces behind lora_adapter.h's readers and writers, for the CLI (convert merges into a
// model it has only as a LlamaConfig, not a loaded LlamaModel), the fuzz harness (which feeds
// bytes, not files) and the tests: target spellings, shape checks against a config, the two
// readers, and the per-row arithmetic every user of an adapter shares.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "arch/llama/llama_config.h"
#include "engine/lora_adapter.h"

namespace lmforge {

class GgufReader;

// PEFT's module name of a target ("q_proj") and the HF block that holds it ("self_attn").
const char* lora_target_peft_module(LoraTarget t);
const char* lora_target_hf_block(LoraTarget t);
std::optional<LoraTarget> lora_target_from_gguf(std::string_view gguf_name);
std::optional<LoraTarget> lora_target_from_peft(std::string_view module);

// Rows and columns of the base weight a target adapts: [out, in].
uint32_t lora_target_out(LoraTarget t, const LlamaConfig& c);
uint32_t lora_target_in(LoraTarget t, const LlamaConfig& c);
// Whether B's rows of this target are in the GGUF's permuted rotary order (attn_q, attn_k of a
// llama base), so that PEFT (Hugging Face order) import, export and merging into a Hugging Face
// source permute them. A NEOX base (qwen2) keeps Hugging Face's order in its GGUF: none are.
bool lora_target_rotary(LoraTarget t, const LlamaConfig& base);

// Checks every pair against `c` (layer count, [out, in] of its target, one rank for all,
// sizes of a and b, finite values) and that at least one pair exists; throws lmforge::Error
// naming `path` and the tensor ("blk.3.attn_q.weight.lora_b").
void check_lora_adapter(const LoraAdapter& adapter, const LlamaConfig& c, const std::string& path);

// read_lora_adapter with only the base's hyperparameters (what `convert --lora` has).
LoraAdapter read_lora_adapter(const std::string& path, const LlamaConfig& base);
// A GGUF adapter already opened.
LoraAdapter read_lora_adapter_gguf(const GgufReader& gguf, const LlamaConfig& base, const std::string& path);
// A PEFT adapter from the text of adapter_config.json and the bytes of
// adapter_model.safetensors; `path` names the folder in errors.
LoraAdapter read_lora_adapter_peft(std::string_view config_json, std::span<const uint8_t> safetensors,
                                   const LlamaConfig& base, const std::string& path);

// Row r of the weight a pair adapts, in the same row order as the pair: w_row[c] += scale ·
// Σ_k B[r][k] A[k][c] (the merge of `convert --lora`, in double sums).
void lora_merge_row(const LoraPair& pair, float scale, uint64_t r, float* w_row);

}  // namespace lmforge
