#include "arch/llama/llama_config_gguf.h"

#include "arch/llama/llama_tensors.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

namespace {

uint32_t require_u32(const GgufReader& g, const std::string& key, const std::string& file) {
  const GgufValue* v = g.find_kv(key);
  if (!v) fail(file, "missing metadata key " + key);
  auto u = v->as_uint();
  if (!u || *u > UINT32_MAX) fail(file, "metadata key " + key + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(*u);
}

std::optional<float> optional_f32(const GgufReader& g, const std::string& key, const std::string& file) {
  const GgufValue* v = g.find_kv(key);
  if (!v) return std::nullopt;
  auto f = v->as_float();
  if (!f) fail(file, "metadata key " + key + " must be a float");
  return static_cast<float>(*f);
}

}  // namespace

LlamaConfig llama_config_from_gguf(const GgufReader& g, const std::string& file) {
  const GgufValue* arch = g.find_kv("general.architecture");
  if (!arch || arch->type != GgufType::STRING) fail(file, "missing general.architecture");
  if (arch->s != "llama") fail(file, "architecture " + quoted_for_message(arch->s) + " is not supported (only llama)");
  LlamaConfig c;
  c.hidden_size = require_u32(g, "llama.embedding_length", file);
  c.intermediate_size = require_u32(g, "llama.feed_forward_length", file);
  c.num_hidden_layers = require_u32(g, "llama.block_count", file);
  c.num_attention_heads = require_u32(g, "llama.attention.head_count", file);
  c.max_position_embeddings = require_u32(g, "llama.context_length", file);
  if (c.num_attention_heads == 0 || c.hidden_size % c.num_attention_heads != 0)
    fail(file, "llama.embedding_length is not a multiple of llama.attention.head_count");
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (g.find_kv("llama.attention.key_length")) {
    c.head_dim = require_u32(g, "llama.attention.key_length", file);
    c.has_head_dim = true;
  }
  c.num_key_value_heads = c.num_attention_heads;
  if (g.find_kv("llama.attention.head_count_kv")) {
    c.num_key_value_heads = require_u32(g, "llama.attention.head_count_kv", file);
    c.has_num_key_value_heads = true;
  }
  if (c.num_key_value_heads == 0 || c.num_attention_heads % c.num_key_value_heads != 0)
    fail(file, "llama.attention.head_count is not a multiple of llama.attention.head_count_kv");
  auto eps = optional_f32(g, "llama.attention.layer_norm_rms_epsilon", file);
  if (!eps) fail(file, "missing metadata key llama.attention.layer_norm_rms_epsilon");
  c.rms_norm_eps = *eps;
  if (auto theta = optional_f32(g, "llama.rope.freq_base", file)) {
    c.rope_theta = *theta;
    c.has_rope_theta = true;
  }
  if (const GgufValue* t = g.find_kv("llama.rope.scaling.type"); t && t->type == GgufType::STRING && t->s != "none") {
    if (t->s != "linear") fail(file, "rope scaling type " + quoted_for_message(t->s) + " is not supported");
    auto factor = optional_f32(g, "llama.rope.scaling.factor", file);
    if (!factor) fail(file, "llama.rope.scaling.type is linear but llama.rope.scaling.factor is missing");
    c.rope_scaling_linear = *factor;
  }
  const GgufValue* tokens = g.find_kv("tokenizer.ggml.tokens");
  c.vocab_size = g.find_kv("llama.vocab_size") ? require_u32(g, "llama.vocab_size", file)
                                               : static_cast<uint32_t>(tokens ? tokens->array.size() : 0);
  auto id = [&](const char* key) -> std::optional<uint32_t> {
    if (!g.find_kv(key)) return std::nullopt;
    return require_u32(g, key, file);
  };
  c.bos_token_id = id("tokenizer.ggml.bos_token_id");
  c.eos_token_id = id("tokenizer.ggml.eos_token_id");
  c.pad_token_id = id("tokenizer.ggml.padding_token_id");
  c.tie_word_embeddings = g.find(gguf_weight_name(LlamaTensor::kOutput)) < 0;
  return c;
}

std::vector<GgufKv> llama_config_to_gguf(const LlamaConfig& c) {
  std::vector<GgufKv> kv;
  auto set = [&](const char* key, GgufValue v) { kv.push_back({key, std::move(v)}); };
  set("llama.vocab_size", GgufValue::u32(c.vocab_size));
  set("llama.context_length", GgufValue::u32(c.max_position_embeddings));
  set("llama.embedding_length", GgufValue::u32(c.hidden_size));
  set("llama.block_count", GgufValue::u32(c.num_hidden_layers));
  set("llama.feed_forward_length", GgufValue::u32(c.intermediate_size));
  set("llama.rope.dimension_count", GgufValue::u32(c.head_dim));
  set("llama.attention.head_count", GgufValue::u32(c.num_attention_heads));
  if (c.has_num_key_value_heads) set("llama.attention.head_count_kv", GgufValue::u32(c.num_key_value_heads));
  if (c.has_rope_theta) set("llama.rope.freq_base", GgufValue::f32(c.rope_theta));
  set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps));
  if (c.has_head_dim) {
    set("llama.attention.key_length", GgufValue::u32(c.head_dim));
    set("llama.attention.value_length", GgufValue::u32(c.head_dim));
  }
  if (c.rope_scaling_linear) {
    set("llama.rope.scaling.type", GgufValue::str("linear"));
    set("llama.rope.scaling.factor", GgufValue::f32(*c.rope_scaling_linear));
  }
  return kv;
}

}  // namespace lmforge
