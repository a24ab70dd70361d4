#include "arch/llama/llama_config_meta.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lmforge {

namespace {

// A positive integer field of params.json.
uint32_t param_u32(const nlohmann::json& p, const char* key, const std::string& file, std::optional<uint32_t> fallback = std::nullopt) {
  if (!p.contains(key) || p[key].is_null()) {
    if (fallback) return *fallback;
    fail(file, std::string("missing \"") + key + "\"");
  }
  const auto& v = p[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > int64_t{1} << 30)
    fail(file, std::string("\"") + key + "\" must be a positive integer");
  return static_cast<uint32_t>(v.get<int64_t>());
}

std::optional<double> param_f64(const nlohmann::json& p, const char* key, const std::string& file) {
  if (!p.contains(key) || p[key].is_null()) return std::nullopt;
  if (!p[key].is_number()) fail(file, std::string("\"") + key + "\" must be a number");
  const double v = p[key].get<double>();
  if (!std::isfinite(v) || v <= 0) fail(file, std::string("\"") + key + "\" must be positive");
  return v;
}

}  // namespace

uint32_t meta_ffn_width(uint32_t dim, uint32_t multiple_of, std::optional<double> ffn_dim_multiplier) {
  // model.py: hidden = int(2 * 4*dim / 3); hidden = int(multiplier * hidden) when given;
  // rounded up to a multiple of multiple_of.
  uint64_t h = (uint64_t{8} * dim) / 3;
  if (ffn_dim_multiplier) h = static_cast<uint64_t>(*ffn_dim_multiplier * static_cast<double>(h));
  const uint64_t m = std::max<uint32_t>(multiple_of, 1);
  h = m * ((h + m - 1) / m);
  return static_cast<uint32_t>(std::min<uint64_t>(h, UINT32_MAX));
}

LlamaConfig meta_config_from_params(const nlohmann::json& root, const std::string& file) {
  if (!root.is_object()) fail(file, "params.json is not a JSON object");
  // Some releases nest ModelArgs under "model".
  const nlohmann::json& p = root.contains("model") && root["model"].is_object() && !root.contains("dim") ? root["model"] : root;
  LlamaConfig c;
  c.hidden_size = param_u32(p, "dim", file);
  c.num_hidden_layers = param_u32(p, "n_layers", file);
  c.num_attention_heads = param_u32(p, "n_heads", file);
  c.num_key_value_heads = c.num_attention_heads;
  if (p.contains("n_kv_heads") && !p["n_kv_heads"].is_null()) {
    c.num_key_value_heads = param_u32(p, "n_kv_heads", file);
    c.has_num_key_value_heads = true;
  }
  if (c.hidden_size % c.num_attention_heads != 0) fail(file, "\"dim\" is not a multiple of \"n_heads\"");
  if (c.num_attention_heads % c.num_key_value_heads != 0) fail(file, "\"n_heads\" is not a multiple of \"n_kv_heads\"");
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (c.head_dim % 2 != 0) fail(file, "head dimension dim/n_heads is odd; rotary embeddings need pairs");
  const uint32_t multiple_of = param_u32(p, "multiple_of", file, 256u);
  c.intermediate_size = meta_ffn_width(c.hidden_size, multiple_of, param_f64(p, "ffn_dim_multiplier", file));
  c.rms_norm_eps = static_cast<float>(param_f64(p, "norm_eps", file).value_or(1e-5));
  if (auto theta = param_f64(p, "rope_theta", file)) {
    c.rope_theta = static_cast<float>(*theta);
    c.has_rope_theta = true;
  }
  // vocab_size is -1 in LLaMA 1/2 ("from the tokenizer"): the embedding's rows decide.
  if (p.contains("vocab_size") && p["vocab_size"].is_number_integer() && p["vocab_size"].get<int64_t>() > 0)
    c.vocab_size = param_u32(p, "vocab_size", file);
  // params.json has no context length; llama.cpp's converter infers it the same way.
  if (p.contains("max_seq_len"))
    c.max_position_embeddings = param_u32(p, "max_seq_len", file);
  else if (c.has_rope_theta && c.rope_theta == 1000000.0f)
    c.max_position_embeddings = 16384;  // Code Llama
  else if (c.rms_norm_eps == 1e-5f)
    c.max_position_embeddings = 4096;  // Llama 2
  else
    c.max_position_embeddings = 2048;  // LLaMA 1
  c.tie_word_embeddings = false;
  c.torch_dtype = "float16";
  return c;
}

}  // namespace lmforge
