#include "arch/llama/llama_config_gguf.h"

#include <cmath>
#include <cstring>

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

// The per-frequency rope divisors of `rope_freqs.weight` (Llama 3 scaling), checked against
// the head dimension; empty when the file has none.
std::vector<float> rope_freq_factors(const GgufReader& g, uint32_t head_dim, const std::string& file) {
  const ptrdiff_t i = g.find(kRopeFreqsTensor);
  if (i < 0) return {};
  const TensorInfo& t = g.tensors()[static_cast<size_t>(i)];
  if (t.dtype != DType::F32 || t.shape != std::vector<uint64_t>{head_dim / 2})
    fail(file, std::string(kRopeFreqsTensor) + " must be F32 of shape [" + std::to_string(head_dim / 2) + "] (head_dim / 2), found " +
                   std::string(dtype_name(t.dtype)) + " " + shape_text(t.shape), t.offset);
  const TensorBytes b = g.read(static_cast<size_t>(i));
  if (b.size() != sizeof(float) * (head_dim / 2)) fail(file, std::string(kRopeFreqsTensor) + " data is truncated", t.offset);
  std::vector<float> out(head_dim / 2);
  std::memcpy(out.data(), b.data(), b.size());
  for (float f : out)
    if (!std::isfinite(f) || f <= 0) fail(file, std::string(kRopeFreqsTensor) + " holds a factor that is not a positive number", t.offset);
  return out;
}

}  // namespace

LlamaConfig llama_config_from_gguf(const GgufReader& g, const std::string& file) {
  const GgufValue* arch = g.find_kv("general.architecture");
  if (!arch || arch->type != GgufType::STRING) fail(file, "missing general.architecture");
  if (arch->s != "llama" && arch->s != "qwen2")
    fail(file, "architecture " + quoted_for_message(arch->s) + " is not supported (only llama and qwen2)");
  const std::string a = arch->s;
  auto key = [&](const char* k) { return a + "." + k; };
  LlamaConfig c;
  if (a == "qwen2") {
    c.architecture = "Qwen2ForCausalLM";
    c.model_type = "qwen2";
    c.attention_bias = true;
  }
  c.hidden_size = require_u32(g, key("embedding_length"), file);
  c.intermediate_size = require_u32(g, key("feed_forward_length"), file);
  c.num_hidden_layers = require_u32(g, key("block_count"), file);
  c.num_attention_heads = require_u32(g, key("attention.head_count"), file);
  c.max_position_embeddings = require_u32(g, key("context_length"), file);
  if (g.find_kv(key("attention.key_length"))) {
    c.head_dim = require_u32(g, key("attention.key_length"), file);
    c.has_head_dim = true;
    if (g.find_kv(key("attention.value_length")) && require_u32(g, key("attention.value_length"), file) != c.head_dim)
      fail(file, key("attention.value_length") + " differs from " + key("attention.key_length") + ", which lmforge cannot run");
  } else {
    if (c.num_attention_heads == 0 || c.hidden_size % c.num_attention_heads != 0)
      fail(file, key("embedding_length") + " is not a multiple of " + key("attention.head_count"));
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  c.num_key_value_heads = c.num_attention_heads;
  if (g.find_kv(key("attention.head_count_kv"))) {
    c.num_key_value_heads = require_u32(g, key("attention.head_count_kv"), file);
    c.has_num_key_value_heads = true;
  }
  if (c.num_key_value_heads == 0 || c.num_attention_heads % c.num_key_value_heads != 0)
    fail(file, key("attention.head_count") + " is not a multiple of " + key("attention.head_count_kv"));
  auto eps = optional_f32(g, key("attention.layer_norm_rms_epsilon"), file);
  if (!eps) fail(file, "missing metadata key " + key("attention.layer_norm_rms_epsilon"));
  c.rms_norm_eps = *eps;
  if (auto theta = optional_f32(g, key("rope.freq_base"), file)) {
    c.rope_theta = *theta;
    c.has_rope_theta = true;
  }
  if (const GgufValue* t = g.find_kv(key("rope.scaling.type")); t && t->type == GgufType::STRING && t->s != "none") {
    if (t->s != "linear") fail(file, "rope scaling type " + quoted_for_message(t->s) + " is not supported (only linear)");
    auto factor = optional_f32(g, key("rope.scaling.factor"), file);
    if (!factor) fail(file, key("rope.scaling.type") + " is linear but " + key("rope.scaling.factor") + " is missing");
    c.rope_scaling_linear = *factor;
  }
  if (g.find_kv(key("attention.sliding_window"))) c.sliding_window = require_u32(g, key("attention.sliding_window"), file);
  if (c.head_dim % 2 == 0) c.rope_freq_factors = rope_freq_factors(g, c.head_dim, file);
  if (!c.rope_freq_factors.empty() && c.rope_scaling_linear)
    fail(file, "the file has both linear rope scaling and per-frequency factors (" + std::string(kRopeFreqsTensor) + ")");
  const GgufValue* tokens = g.find_kv("tokenizer.ggml.tokens");
  c.vocab_size = g.find_kv(key("vocab_size")) ? require_u32(g, key("vocab_size"), file)
                                              : static_cast<uint32_t>(tokens ? tokens->array.size() : 0);
  auto id = [&](const char* k) -> std::optional<uint32_t> {
    if (!g.find_kv(k)) return std::nullopt;
    return require_u32(g, k, file);
  };
  c.bos_token_id = id("tokenizer.ggml.bos_token_id");
  c.eos_token_id = id("tokenizer.ggml.eos_token_id");
  c.pad_token_id = id("tokenizer.ggml.padding_token_id");
  c.tie_word_embeddings = g.find(gguf_weight_name(LlamaTensor::kOutput)) < 0;
  return c;
}

std::vector<GgufKv> llama_config_to_gguf(const LlamaConfig& c) {
  std::vector<GgufKv> kv;
  const std::string a = gguf_architecture(c);
  auto set = [&](const char* key, GgufValue v) { kv.push_back({a + "." + key, std::move(v)}); };
  set("vocab_size", GgufValue::u32(c.vocab_size));
  set("context_length", GgufValue::u32(c.max_position_embeddings));
  set("embedding_length", GgufValue::u32(c.hidden_size));
  set("block_count", GgufValue::u32(c.num_hidden_layers));
  set("feed_forward_length", GgufValue::u32(c.intermediate_size));
  set("rope.dimension_count", GgufValue::u32(c.head_dim));
  set("attention.head_count", GgufValue::u32(c.num_attention_heads));
  if (c.has_num_key_value_heads) set("attention.head_count_kv", GgufValue::u32(c.num_key_value_heads));
  if (c.has_rope_theta) set("rope.freq_base", GgufValue::f32(c.rope_theta));
  set("attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps));
  // llama.cpp derives the head size from embedding_length / head_count unless these say
  // otherwise, so a head_dim that differs must be written even when config.json left it out.
  if (c.has_head_dim || uint64_t{c.head_dim} * c.num_attention_heads != c.hidden_size) {
    set("attention.key_length", GgufValue::u32(c.head_dim));
    set("attention.value_length", GgufValue::u32(c.head_dim));
  }
  if (c.rope_scaling_linear) {
    set("rope.scaling.type", GgufValue::str("linear"));
    set("rope.scaling.factor", GgufValue::f32(*c.rope_scaling_linear));
  }
  if (c.sliding_window) set("attention.sliding_window", GgufValue::u32(*c.sliding_window));
  return kv;
}

}  // namespace lmforge
