#include "arch/bert/bert_tensors.h"

#include <unordered_map>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge {

std::vector<BertTensorSpec> bert_tensor_specs(const BertConfig& c) {
  const uint64_t h = c.hidden_size, ff = c.intermediate_size;
  std::vector<BertTensorSpec> s;
  s.push_back({"embeddings.word_embeddings.weight", "token_embd.weight", {c.vocab_size, h}});
  s.push_back({"embeddings.position_embeddings.weight", "position_embd.weight", {c.max_position_embeddings, h}});
  s.push_back({"embeddings.token_type_embeddings.weight", "token_types.weight", {c.type_vocab_size, h}});
  s.push_back({"embeddings.LayerNorm.weight", "token_embd_norm.weight", {h}});
  s.push_back({"embeddings.LayerNorm.bias", "token_embd_norm.bias", {h}});
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string hf = "encoder.layer." + std::to_string(l) + ".";
    const std::string gg = "blk." + std::to_string(l) + ".";
    auto linear = [&](const std::string& hf_name, const std::string& gguf_name, uint64_t out, uint64_t in) {
      s.push_back({hf + hf_name + ".weight", gg + gguf_name + ".weight", {out, in}});
      s.push_back({hf + hf_name + ".bias", gg + gguf_name + ".bias", {out}});
    };
    auto norm = [&](const std::string& hf_name, const std::string& gguf_name) {
      s.push_back({hf + hf_name + ".weight", gg + gguf_name + ".weight", {h}});
      s.push_back({hf + hf_name + ".bias", gg + gguf_name + ".bias", {h}});
    };
    linear("attention.self.query", "attn_q", h, h);
    linear("attention.self.key", "attn_k", h, h);
    linear("attention.self.value", "attn_v", h, h);
    linear("attention.output.dense", "attn_output", h, h);
    norm("attention.output.LayerNorm", "attn_output_norm");
    linear("intermediate.dense", "ffn_up", ff, h);
    linear("output.dense", "ffn_down", h, ff);
    norm("output.LayerNorm", "layer_output_norm");
  }
  return s;
}

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// TensorFlow-era spelling of LayerNorm parameters.
std::string tf_alias(const std::string& name) {
  auto swap_suffix = [&](const std::string& from, const std::string& to) -> std::string {
    if (name.size() >= from.size() && name.compare(name.size() - from.size(), from.size(), from) == 0)
      return name.substr(0, name.size() - from.size()) + to;
    return {};
  };
  if (auto a = swap_suffix("LayerNorm.weight", "LayerNorm.gamma"); !a.empty()) return a;
  return swap_suffix("LayerNorm.bias", "LayerNorm.beta");
}

// Tensors a BertModel checkpoint may hold that the encoder does not read.
bool ignored(const std::string& rest) {
  return starts_with(rest, "pooler.") || rest == "embeddings.position_ids";
}

}  // namespace

BertTensorMap map_bert_tensors(const std::vector<TensorInfo>& tensors, const BertConfig& config,
                               const std::string& file) {
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < tensors.size(); ++i) by_name.emplace(tensors[i].name, i);

  BertTensorMap m;
  const std::string word = "embeddings.word_embeddings.weight";
  const bool plain = by_name.count(word) != 0, prefixed = by_name.count("bert." + word) != 0;
  if (plain && prefixed)
    fail(file, "the checkpoint holds the encoder twice, with and without the \"bert.\" prefix (" + word + ")");
  if (!plain && !prefixed)
    fail(file, "no BERT word embeddings: neither '" + word + "' nor 'bert." + word + "' is in the checkpoint");
  m.prefix = prefixed ? "bert." : "";

  const auto specs = bert_tensor_specs(config);
  std::vector<bool> used(tensors.size(), false);
  for (const BertTensorSpec& s : specs) {
    std::string name = m.prefix + s.hf;
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      const std::string alias = tf_alias(name);
      if (!alias.empty()) it = by_name.find(alias);
    }
    if (it == by_name.end()) fail(file, "missing tensor '" + name + "' (" + s.gguf + ")");
    const TensorInfo& t = tensors[it->second];
    if (t.shape != s.shape)
      fail(file, "tensor " + quoted_for_message(t.name) + " has shape " + shape_text(t.shape) + " but the config needs " +
                     shape_text(s.shape));
    m.source.push_back(it->second);
    used[it->second] = true;
  }

  size_t unknown = 0;
  std::string first_unknown;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (used[i]) continue;
    const std::string& n = tensors[i].name;
    const std::string rest = starts_with(n, m.prefix) ? n.substr(m.prefix.size()) : n;
    if (ignored(rest) || starts_with(n, "cls.")) continue;
    if (unknown++ == 0) first_unknown = n;
  }
  if (unknown)
    m.warnings.push_back(std::to_string(unknown) + " tensor(s) that a BertModel does not read were ignored (first: " +
                         quoted_for_message(first_unknown) + ")");
  return m;
}

}  // namespace lmforge
