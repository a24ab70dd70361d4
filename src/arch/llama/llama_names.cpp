#include "arch/llama/llama_names.h"

#include <array>
#include <cctype>
#include <string_view>

namespace lmforge {

namespace {

struct NamePair {
  std::string_view hf;    // suffix after "model.layers.N."
  std::string_view gguf;  // suffix after "blk.N."
};

constexpr std::array<NamePair, 9> kLayerNames = {{
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.down_proj", "ffn_down"},
    {"mlp.up_proj", "ffn_up"},
}};

constexpr std::array<NamePair, 3> kGlobalNames = {{
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
}};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Splits "<prefix><digits>.<rest>" into the layer number and rest.
bool split_layer(std::string_view name, std::string_view prefix, std::string& layer, std::string_view& rest) {
  if (name.substr(0, prefix.size()) != prefix) return false;
  name.remove_prefix(prefix.size());
  size_t i = 0;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  if (i == 0 || i > 6 || i >= name.size() || name[i] != '.') return false;
  if (i > 1 && name[0] == '0') return false;  // one spelling per layer number
  layer = std::string(name.substr(0, i));
  rest = name.substr(i + 1);
  return true;
}

// "weight"/"bias" suffix handling shared by both directions.
bool split_kind(std::string_view s, std::string_view& base, std::string_view& kind) {
  for (std::string_view k : {std::string_view("weight"), std::string_view("bias")}) {
    if (ends_with(s, k) && s.size() > k.size() && s[s.size() - k.size() - 1] == '.') {
      base = s.substr(0, s.size() - k.size() - 1);
      kind = k;
      return true;
    }
  }
  return false;
}

// One table, read in either direction.
std::optional<std::string> translate(const std::string& name, bool to_gguf) {
  const auto from = [&](const NamePair& p) { return to_gguf ? p.hf : p.gguf; };
  const auto to = [&](const NamePair& p) { return to_gguf ? p.gguf : p.hf; };
  std::string_view base, kind;
  if (!split_kind(name, base, kind)) return std::nullopt;
  for (const auto& p : kGlobalNames)
    if (base == from(p)) return std::string(to(p)) + "." + std::string(kind);
  std::string layer;
  std::string_view rest;
  if (!split_layer(base, to_gguf ? "model.layers." : "blk.", layer, rest)) return std::nullopt;
  for (const auto& p : kLayerNames)
    if (rest == from(p))
      return (to_gguf ? "blk." : "model.layers.") + layer + "." + std::string(to(p)) + "." + std::string(kind);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> hf_to_gguf_name(const std::string& hf) { return translate(hf, true); }
std::optional<std::string> gguf_to_hf_name(const std::string& gguf) { return translate(gguf, false); }

const std::vector<std::string>& llama_layer_parts() {
  static const std::vector<std::string> parts = [] {
    std::vector<std::string> v;
    for (const auto& p : kLayerNames) v.emplace_back(p.gguf);
    return v;
  }();
  return parts;
}

std::optional<std::vector<uint64_t>> llama_tensor_shape(const std::string& gguf_name, const LlamaConfig& c) {
  std::string_view base, kind;
  if (!split_kind(gguf_name, base, kind)) return std::nullopt;
  const uint64_t hd = c.head_dim, q = uint64_t{c.num_attention_heads} * hd, kv = uint64_t{c.num_key_value_heads} * hd;
  const uint64_t e = c.hidden_size, ff = c.intermediate_size, v = c.vocab_size;
  const bool bias = kind == "bias";
  // A weight is [rows, cols]; its bias is [rows].
  auto w = [&](uint64_t rows, uint64_t cols) { return bias ? std::vector<uint64_t>{rows} : std::vector<uint64_t>{rows, cols}; };
  if (base == "token_embd" || base == "output") return w(v, e);
  if (base == "output_norm") return bias ? std::nullopt : std::optional(std::vector<uint64_t>{e});
  std::string layer;
  std::string_view part;
  if (!split_layer(base, "blk.", layer, part) || std::stoull(layer) >= c.num_hidden_layers) return std::nullopt;
  if (part == "attn_norm" || part == "ffn_norm") return bias ? std::nullopt : std::optional(std::vector<uint64_t>{e});
  if (part == "attn_q") return w(q, e);
  if (part == "attn_k" || part == "attn_v") return w(kv, e);
  if (part == "attn_output") return w(e, q);
  if (part == "ffn_gate" || part == "ffn_up") return w(ff, e);
  if (part == "ffn_down") return w(e, ff);
  return std::nullopt;
}

bool is_ignored_hf_tensor(const std::string& hf) {
  return ends_with(hf, ".rotary_emb.inv_freq") || ends_with(hf, ".attention.masked_bias") ||
         ends_with(hf, ".attention.bias");
}

RotaryRole rotary_role(const std::string& gguf_name) {
  std::string_view base, kind;
  if (!split_kind(gguf_name, base, kind)) return RotaryRole::kNone;
  if (ends_with(base, ".attn_q")) return RotaryRole::kQuery;
  if (ends_with(base, ".attn_k")) return RotaryRole::kKey;
  return RotaryRole::kNone;
}

}  // namespace lmforge
