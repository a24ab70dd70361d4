#include "arch/bert/bert_config_gguf.h"

#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

namespace {

uint32_t u32_key(const GgufReader& g, const std::string& key, const std::string& file, uint32_t min, uint32_t max,
                 std::optional<uint32_t> fallback = std::nullopt) {
  const GgufValue* v = g.find_kv(key);
  if (!v) {
    if (fallback) return *fallback;
    fail(file, "missing metadata key " + key);
  }
  const auto u = v->as_uint();
  if (!u || *u < min || *u > max)
    fail(file, "metadata key " + key + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
  return static_cast<uint32_t>(*u);
}

}  // namespace

bool is_bert_gguf(const GgufReader& g) {
  const GgufValue* arch = g.find_kv("general.architecture");
  return arch && arch->type == GgufType::STRING && arch->s == "bert";
}

BertConfig bert_config_from_gguf(const GgufReader& g, const std::string& file) {
  if (!is_bert_gguf(g)) fail(file, "general.architecture is not \"bert\"");
  if (const GgufValue* causal = g.find_kv("bert.attention.causal"))
    if (causal->type != GgufType::BOOL || causal->u != 0) fail(file, "bert.attention.causal must be false for a BERT encoder");
  BertConfig c;
  c.hidden_size = u32_key(g, "bert.embedding_length", file, 1, kMaxBertDim);
  c.num_hidden_layers = u32_key(g, "bert.block_count", file, 1, kMaxBertLayers);
  c.num_attention_heads = u32_key(g, "bert.attention.head_count", file, 1, c.hidden_size);
  if (c.hidden_size % c.num_attention_heads != 0)
    fail(file, "bert.embedding_length " + std::to_string(c.hidden_size) + " is not a multiple of the head count " +
                   std::to_string(c.num_attention_heads));
  c.intermediate_size = u32_key(g, "bert.feed_forward_length", file, 1, kMaxBertDim * 8);
  c.max_position_embeddings = u32_key(g, "bert.context_length", file, 1, kMaxBertPositions);
  c.type_vocab_size = u32_key(g, "tokenizer.ggml.token_type_count", file, 1, kMaxBertTokenTypes, 2);
  const GgufValue* eps = g.find_kv("bert.attention.layer_norm_epsilon");
  if (!eps) fail(file, "missing metadata key bert.attention.layer_norm_epsilon");
  const auto e = eps->as_float();
  if (!e || !(*e > 0 && *e <= 1)) fail(file, "bert.attention.layer_norm_epsilon must be a positive number up to 1");
  c.layer_norm_eps = static_cast<float>(*e);
  const ptrdiff_t embd = g.find("token_embd.weight");
  if (embd < 0) fail(file, "missing tensor token_embd.weight");
  const TensorInfo& t = g.tensors()[static_cast<size_t>(embd)];
  if (t.shape.size() != 2 || t.shape[0] < 1 || t.shape[0] > kMaxBertVocab)
    fail(file, "tensor token_embd.weight has shape " + shape_text(t.shape) + ", not [vocab, hidden]");
  c.vocab_size = static_cast<uint32_t>(t.shape[0]);
  return c;
}

std::optional<Pooling> bert_pooling_from_gguf(const GgufReader& g, const std::string& file) {
  if (!g.find_kv("bert.pooling_type")) return std::nullopt;
  return static_cast<Pooling>(u32_key(g, "bert.pooling_type", file, 0, 3));
}

}  // namespace lmforge
