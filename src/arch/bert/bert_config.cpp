#include "arch/bert/bert_config.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/json_strict.h"

namespace lmforge {

namespace {

using json = nlohmann::json;

class Reader {
 public:
  Reader(const json& j, const std::string& file) : j_(j), file_(file) {}

  [[noreturn]] void bad(const std::string& what) const { fail(file_, what); }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  uint32_t uint(const char* key, uint32_t min, uint32_t max, std::optional<uint32_t> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      bad(std::string("config.json is missing '") + key + "'");
    }
    const json& v = j_[key];
    if (!v.is_number_integer()) bad(std::string("'") + key + "' must be an integer, found " + v.type_name());
    const bool negative = !v.is_number_unsigned() && v.get<int64_t>() < 0;
    if (!negative) {
      const auto x = v.get<uint64_t>();
      if (x >= min && x <= max) return static_cast<uint32_t>(x);
    }
    bad(std::string("'") + key + "' = " + v.dump() + " is outside " + std::to_string(min) + ".." + std::to_string(max));
  }

  float positive_float(const char* key, double max, float fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number()) bad(std::string("'") + key + "' must be a number, found " + v.type_name());
    const double x = v.get<double>();
    if (!std::isfinite(x) || x <= 0 || x > max)
      bad(std::string("'") + key + "' = " + v.dump() + " is not a positive number up to " + json(max).dump());
    return static_cast<float>(x);
  }

  // A string key that must have one value when present.
  void require_string(const char* key, const char* expected, const char* why) const {
    if (!has(key)) return;
    const json& v = j_[key];
    if (!v.is_string()) bad(std::string("'") + key + "' must be a string");
    if (v.get<std::string>() != expected)
      bad(std::string("'") + key + "' = " + v.dump() + " is not supported (" + why + ")");
  }

  void require_false(const char* key, const char* why) const {
    if (!has(key)) return;
    const json& v = j_[key];
    if (!v.is_boolean()) bad(std::string("'") + key + "' must be true or false");
    if (v.get<bool>()) bad(std::string("'") + key + "' is true: " + why);
  }

 private:
  const json& j_;
  const std::string& file_;
};

}  // namespace

bool is_bert_config_json(const json& config) {
  return config.is_object() && config.contains("model_type") && config["model_type"].is_string() &&
         config["model_type"].get<std::string>() == "bert";
}

bool is_bert_folder(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path cfg = std::filesystem::path(path) / "config.json";
  if (!std::filesystem::is_directory(path, ec) || !std::filesystem::is_regular_file(cfg, ec)) return false;
  try {
    return is_bert_config_json(read_json_file(cfg.string(), 1u << 20));
  } catch (const Error&) {
    return false;
  }
}

BertConfig bert_config_from_json(const json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "config.json is not a JSON object");
  Reader r(j, file);
  if (!r.has("model_type")) r.bad("config.json has no 'model_type' (a BERT model says \"bert\")");
  r.require_string("model_type", "bert", "this reader handles BERT encoders only");
  // Transformers' "gelu" is the exact erf GELU; the tanh forms ("gelu_new",
  // "gelu_pytorch_tanh") and others would give different embeddings.
  if (!r.has("hidden_act")) r.bad("config.json is missing 'hidden_act'");
  r.require_string("hidden_act", "gelu", "only the exact erf GELU, \"gelu\", is computed");
  r.require_string("position_embedding_type", "absolute", "only absolute position embeddings are computed");
  r.require_false("is_decoder", "a BERT decoder is not an embedding encoder");
  r.require_false("add_cross_attention", "cross attention is not computed");

  BertConfig c;
  c.vocab_size = r.uint("vocab_size", 1, kMaxBertVocab);
  c.hidden_size = r.uint("hidden_size", 1, kMaxBertDim);
  c.num_hidden_layers = r.uint("num_hidden_layers", 1, kMaxBertLayers);
  c.num_attention_heads = r.uint("num_attention_heads", 1, c.hidden_size);
  if (c.hidden_size % c.num_attention_heads != 0)
    r.bad("'hidden_size' = " + std::to_string(c.hidden_size) + " is not a multiple of 'num_attention_heads' = " +
          std::to_string(c.num_attention_heads));
  c.intermediate_size = r.uint("intermediate_size", 1, kMaxBertDim * 8);
  c.max_position_embeddings = r.uint("max_position_embeddings", 1, kMaxBertPositions, 512);
  c.type_vocab_size = r.uint("type_vocab_size", 1, kMaxBertTokenTypes, 2);
  c.layer_norm_eps = r.positive_float("layer_norm_eps", 1.0, 1e-12f);
  return c;
}

}  // namespace lmforge
