// The names of the seven LoRA targets in each spelling (--lora-targets, GGUF, PEFT) and the
// parsing of a --lora-targets list.
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/lora_adapter.h"
#include "engine/lora_io.h"

namespace lmforge {

namespace {

struct TargetNames {
  const char* flag;
  const char* gguf;
  const char* peft_module;  // PEFT's target_modules entry (the HF linear's name)
  const char* hf_block;     // the HF submodule holding it
};

constexpr TargetNames kNames[kLoraTargetCount] = {
    {"q", "attn_q", "q_proj", "self_attn"},         {"k", "attn_k", "k_proj", "self_attn"},
    {"v", "attn_v", "v_proj", "self_attn"},         {"o", "attn_output", "o_proj", "self_attn"},
    {"gate", "ffn_gate", "gate_proj", "mlp"},       {"up", "ffn_up", "up_proj", "mlp"},
    {"down", "ffn_down", "down_proj", "mlp"},
};

}  // namespace

const char* lora_target_flag_name(LoraTarget t) { return kNames[static_cast<size_t>(t)].flag; }
const char* lora_target_gguf_name(LoraTarget t) { return kNames[static_cast<size_t>(t)].gguf; }
const char* lora_target_peft_module(LoraTarget t) { return kNames[static_cast<size_t>(t)].peft_module; }
const char* lora_target_hf_block(LoraTarget t) { return kNames[static_cast<size_t>(t)].hf_block; }

std::optional<LoraTarget> lora_target_from_gguf(std::string_view name) {
  for (size_t i = 0; i < kLoraTargetCount; ++i)
    if (name == kNames[i].gguf) return static_cast<LoraTarget>(i);
  return std::nullopt;
}

std::optional<LoraTarget> lora_target_from_peft(std::string_view module) {
  for (size_t i = 0; i < kLoraTargetCount; ++i)
    if (module == kNames[i].peft_module) return static_cast<LoraTarget>(i);
  return std::nullopt;
}

std::vector<LoraTarget> parse_lora_targets(const std::string& list) {
  std::vector<LoraTarget> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    bool found = false;
    for (size_t i = 0; i < kLoraTargetCount && !found; ++i) {
      if (name != kNames[i].flag) continue;
      found = true;
      const auto t = static_cast<LoraTarget>(i);
      for (LoraTarget seen : out)
        if (seen == t) fail("--lora-targets", "target \"" + name + "\" is listed twice");
      out.push_back(t);
    }
    if (!found)
      fail("--lora-targets", "unknown target \"" + name + "\" (known: q, k, v, o, gate, up, down)");
    start = comma + 1;
  }
  return out;
}

}  // namespace lmforge
