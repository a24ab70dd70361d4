#include "arch/llama/llama_tensors.h"

#include <array>
#include <cctype>

namespace lmforge {

namespace {

using T = LlamaTensor;
using S = LlamaShape;
using R = RotaryRole;
using M = MetaSplit;

// One row per logical tensor, in GGUF order (the enum's values index it).
//   id              layer  GGUF           Hugging Face                Meta               ONNX export (module path)
constexpr std::array<LlamaTensorRow, 12> kTable = {{
    {T::kTokenEmbd, false, "token_embd", "model.embed_tokens", "tok_embeddings", "model/embed_tokens", S::kVocabByEmbd, R::kNone, M::kByShape, 0},
    {T::kAttnNorm, true, "attn_norm", "input_layernorm", "attention_norm", "input_layernorm", S::kEmbd, R::kNone, M::kReplicated, 7},
    {T::kAttnQ, true, "attn_q", "self_attn.q_proj", "attention.wq", "self_attn/q_proj", S::kQByEmbd, R::kQuery, M::kRows, 0},
    {T::kAttnK, true, "attn_k", "self_attn.k_proj", "attention.wk", "self_attn/k_proj", S::kKvByEmbd, R::kKey, M::kRows, 1},
    {T::kAttnV, true, "attn_v", "self_attn.v_proj", "attention.wv", "self_attn/v_proj", S::kKvByEmbd, R::kNone, M::kRows, 2},
    {T::kAttnOutput, true, "attn_output", "self_attn.o_proj", "attention.wo", "self_attn/o_proj", S::kEmbdByQ, R::kNone, M::kCols, 3},
    {T::kFfnNorm, true, "ffn_norm", "post_attention_layernorm", "ffn_norm", "post_attention_layernorm", S::kEmbd, R::kNone, M::kReplicated, 8},
    {T::kFfnGate, true, "ffn_gate", "mlp.gate_proj", "feed_forward.w1", "mlp/gate_proj", S::kFfByEmbd, R::kNone, M::kRows, 4},
    {T::kFfnDown, true, "ffn_down", "mlp.down_proj", "feed_forward.w2", "mlp/down_proj", S::kEmbdByFf, R::kNone, M::kCols, 5},
    {T::kFfnUp, true, "ffn_up", "mlp.up_proj", "feed_forward.w3", "mlp/up_proj", S::kFfByEmbd, R::kNone, M::kRows, 6},
    {T::kOutputNorm, false, "output_norm", "model.norm", "norm", "model/norm", S::kEmbd, R::kNone, M::kReplicated, 1},
    {T::kOutput, false, "output", "lm_head", "output", "lm_head", S::kVocabByEmbd, R::kNone, M::kRows, 2},
}};

// The prefix before the layer number in each spelling (the ONNX one after '/' -> '.').
std::string_view layer_prefix(LlamaSpelling s) {
  switch (s) {
    case LlamaSpelling::kGguf: return "blk.";
    case LlamaSpelling::kHuggingFace: return "model.layers.";
    case LlamaSpelling::kMeta: return "layers.";
    case LlamaSpelling::kOnnxMatMul: return "model.layers.";
  }
  return "";
}

std::string_view column(const LlamaTensorRow& r, LlamaSpelling s) {
  switch (s) {
    case LlamaSpelling::kGguf: return r.gguf;
    case LlamaSpelling::kHuggingFace: return r.hf;
    case LlamaSpelling::kMeta: return r.meta;
    case LlamaSpelling::kOnnxMatMul: return r.onnx;
  }
  return "";
}

// ONNX node paths use '/' where module paths use '.': compare them as equal.
bool same_path(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] == '/' ? '.' : a[i], y = b[i] == '/' ? '.' : b[i];
    if (x != y) return false;
  }
  return true;
}

// Splits "<digits>.<rest>" into the layer number and rest: one spelling per number.
bool split_layer(std::string_view name, uint32_t& layer, std::string_view& rest) {
  size_t i = 0;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  if (i == 0 || i > 6 || i >= name.size() || name[i] != '.') return false;
  if (i > 1 && name[0] == '0') return false;
  layer = static_cast<uint32_t>(std::stoul(std::string(name.substr(0, i))));
  rest = name.substr(i + 1);
  return true;
}

std::optional<LlamaTensorName> match_base(std::string_view base, LlamaSpelling s, bool bias) {
  for (const auto& r : kTable)
    if (!r.per_layer && same_path(base, column(r, s))) return LlamaTensorName{r.id, 0, bias};
  const std::string_view prefix = layer_prefix(s);
  if (base.substr(0, prefix.size()) != prefix) return std::nullopt;
  uint32_t layer = 0;
  std::string_view rest;
  if (!split_layer(base.substr(prefix.size()), layer, rest)) return std::nullopt;
  for (const auto& r : kTable)
    if (r.per_layer && same_path(rest, column(r, s))) return LlamaTensorName{r.id, layer, bias};
  return std::nullopt;
}

}  // namespace

std::span<const LlamaTensorRow> llama_tensor_table() { return kTable; }

const LlamaTensorRow& llama_tensor_row(LlamaTensor id) { return kTable[static_cast<size_t>(id)]; }

std::optional<LlamaTensorName> parse_llama_tensor_name(std::string_view name, LlamaSpelling s) {
  if (s == LlamaSpelling::kOnnxMatMul) {
    // "[/]<module path with '/'>/MatMul[...]": the module path names the weight.
    if (!name.empty() && name.front() == '/') name.remove_prefix(1);
    const size_t slash = name.rfind('/');
    if (slash == std::string_view::npos || name.substr(slash + 1, 6) != "MatMul") return std::nullopt;
    std::string dotted(name.substr(0, slash));
    for (char& c : dotted)
      if (c == '/') c = '.';
    return match_base(dotted, s, false);
  }
  for (const std::string_view kind : {std::string_view("weight"), std::string_view("bias")}) {
    if (name.size() <= kind.size() + 1 || name.substr(name.size() - kind.size()) != kind || name[name.size() - kind.size() - 1] != '.')
      continue;
    const bool bias = kind == "bias";
    if (bias && s == LlamaSpelling::kMeta) return std::nullopt;  // Meta's llama has no biases
    return match_base(name.substr(0, name.size() - kind.size() - 1), s, bias);
  }
  return std::nullopt;
}

std::optional<std::string> spell_llama_tensor(const LlamaTensorName& t, LlamaSpelling s) {
  const LlamaTensorRow& r = llama_tensor_row(t.id);
  if (t.bias && (s == LlamaSpelling::kMeta || s == LlamaSpelling::kOnnxMatMul)) return std::nullopt;
  if (s == LlamaSpelling::kOnnxMatMul) {
    // The layer number keeps its dot ("/model/layers.0/self_attn/q_proj/MatMul"), as torch
    // names a ModuleList entry.
    return std::string(r.per_layer ? "/model/layers." + std::to_string(t.layer) + "/" : "/") + std::string(r.onnx) + "/MatMul";
  }
  std::string out;
  if (r.per_layer) out = std::string(layer_prefix(s)) + std::to_string(t.layer) + ".";
  out += column(r, s);
  return out + (t.bias ? ".bias" : ".weight");
}

std::string gguf_weight_name(LlamaTensor id, uint32_t layer) {
  return *spell_llama_tensor(LlamaTensorName{id, layer, false}, LlamaSpelling::kGguf);
}

std::optional<std::vector<uint64_t>> llama_tensor_shape(const LlamaTensorName& t, const LlamaConfig& c) {
  const LlamaTensorRow& r = llama_tensor_row(t.id);
  if (r.per_layer && t.layer >= c.num_hidden_layers) return std::nullopt;
  const uint64_t hd = c.head_dim, q = uint64_t{c.num_attention_heads} * hd, kv = uint64_t{c.num_key_value_heads} * hd;
  const uint64_t e = c.hidden_size, ff = c.intermediate_size, v = c.vocab_size;
  // A weight is [rows, cols]; its bias is [rows].
  auto w = [&](uint64_t rows, uint64_t cols) { return t.bias ? std::vector<uint64_t>{rows} : std::vector<uint64_t>{rows, cols}; };
  switch (r.shape) {
    case LlamaShape::kVocabByEmbd: return w(v, e);
    case LlamaShape::kEmbd: return t.bias ? std::nullopt : std::optional(std::vector<uint64_t>{e});
    case LlamaShape::kQByEmbd: return w(q, e);
    case LlamaShape::kKvByEmbd: return w(kv, e);
    case LlamaShape::kEmbdByQ: return w(e, q);
    case LlamaShape::kFfByEmbd: return w(ff, e);
    case LlamaShape::kEmbdByFf: return w(e, ff);
  }
  return std::nullopt;
}

LlamaFileOrder llama_gguf_order(const LlamaTensorName& t) {
  const int bias = t.bias ? 1 : 0;
  switch (t.id) {
    case LlamaTensor::kTokenEmbd: return {0, 0, bias};
    case LlamaTensor::kOutputNorm: return {2, 0, bias};
    case LlamaTensor::kOutput: return {3, 0, bias};
    default: break;
  }
  const int row_in_layer = static_cast<int>(t.id) - static_cast<int>(LlamaTensor::kAttnNorm);
  return {1, t.layer, 2 * row_in_layer + bias};
}

bool is_ignored_llama_tensor(std::string_view name, LlamaSpelling s) {
  switch (s) {
    case LlamaSpelling::kHuggingFace:
      return name.ends_with(".rotary_emb.inv_freq") || name.ends_with(".attention.masked_bias") || name.ends_with(".attention.bias");
    case LlamaSpelling::kMeta: return name == "rope.freqs";
    case LlamaSpelling::kGguf: return name == "rope_freqs.weight";
    case LlamaSpelling::kOnnxMatMul: return false;
  }
  return false;
}

}  // namespace lmforge
