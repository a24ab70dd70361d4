// LoRA adapters for a llama model, as PEFT defines them: a target weight W computes
// W x + scale · B (A x), with A of shape [r, in] and B of shape [out, r] (PyTorch order) and
// scale = lora_scale · alpha / r (alpha 0: scale = lora_scale).
//
// In memory an adapter is f32 and in the base GGUF's row order: the rows of B for attn_q and
// attn_k are in the same permuted rotary order as the GGUF's attn_q/attn_k weights (a llama
// base; a qwen2 base's GGUF keeps Hugging Face's order, and so does its adapter), so the
// engine adds B (A x) to the product of the GGUF weight as it is. PEFT import/export undoes
// the permutation; GGUF adapters (llama.cpp's convert_lora_to_gguf.py layout) store it as is.
//
// Shared by the engine (which applies adapters in its one linear() per engine), the trainer
// (src/train/, which trains the A and B of one adapter) and the CLI (reading, writing,
// merging).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lmforge {

class LlamaModel;
struct LlamaConfig;

// The seven llama weights an adapter may target, in the order of --lora-targets' names.
enum class LoraTarget : uint8_t { kQ = 0, kK, kV, kO, kGate, kUp, kDown };
inline constexpr size_t kLoraTargetCount = 7;

// "q", "k", "v", "o", "gate", "up", "down".
const char* lora_target_flag_name(LoraTarget t);
// GGUF base names without "blk.N." and ".weight": "attn_q", "attn_k", "attn_v", "attn_output",
// "ffn_gate", "ffn_up", "ffn_down".
const char* lora_target_gguf_name(LoraTarget t);
// Parses "q,k,v,o,gate,up,down"; throws lmforge::Error naming an unknown target.
std::vector<LoraTarget> parse_lora_targets(const std::string& list);

// One adapted weight: A [rank, in] and B [out, rank], row-major, f32.
struct LoraPair {
  uint32_t rank = 0, in = 0, out = 0;
  std::vector<float> a;  // rank * in
  std::vector<float> b;  // out * rank
};

struct LoraAdapter {
  float alpha = 0.0f;  // adapter.lora.alpha; 0: scale = lora_scale
  uint32_t rank = 0;   // r of every pair (adapters with mixed ranks are refused)
  // layers[l][target]: the pair adapting blk.l's target, or nullopt when not adapted.
  std::vector<std::array<std::optional<LoraPair>, kLoraTargetCount>> layers;
  // Free text for humans (general.name), never a timestamp: output bytes are deterministic.
  std::string name;

  // alpha / rank, or 1 when alpha is 0.
  float base_scale() const { return alpha == 0.0f || rank == 0 ? 1.0f : alpha / static_cast<float>(rank); }
};

// An adapter as applied by an engine: its weights and the user's --lora-scale.
struct AppliedLora {
  std::shared_ptr<const LoraAdapter> adapter;
  float lora_scale = 1.0f;
  float scale() const { return lora_scale * adapter->base_scale(); }
};

// Reads a GGUF LoRA adapter (general.type "adapter", adapter.type "lora") or a PEFT folder
// (adapter_config.json + adapter_model.safetensors), recognised by content, and checks every
// pair's shape against `base` (an adapter for another base is refused, naming the tensor).
// Throws lmforge::Error naming `path` on anything it cannot apply exactly (rsLoRA is folded
// into alpha and said so on stderr; DoRA and other variants are refused).
LoraAdapter read_lora_adapter(const std::string& path, const LlamaModel& base);

// Writes llama.cpp's GGUF adapter layout (atomically: temp file + rename): general.type
// "adapter", general.architecture the base's ("llama" or "qwen2"), adapter.type "lora",
// adapter.lora.alpha, tensors blk.N.<target>.weight.lora_a [in, r] and .lora_b [r, out] in GGUF dimension order, F32.
// Byte-deterministic.
void write_lora_adapter_gguf(const LoraAdapter& adapter, const LlamaConfig& base, const std::string& path);

// Writes a PEFT folder (adapter_config.json + adapter_model.safetensors; B rows of q/k back in
// Hugging Face order), atomically.
void write_lora_adapter_peft(const LoraAdapter& adapter, const LlamaConfig& base, const std::string& dir);

}  // namespace lmforge
