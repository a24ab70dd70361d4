#include "arch/llama/llama_config_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "arch/llama/llama_rope_scaling.h"
#include "core/error.h"

namespace lmforge {

namespace {

using json = nlohmann::json;

class Reader {
 public:
  Reader(const json& j, const std::string& file) : j_(j), file_(file) {}

  [[noreturn]] void bad(const std::string& what) const { fail(file_, what); }

  // A present, non-null key.
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  uint32_t uint(const char* key, uint32_t min, uint32_t max) const {
    if (!has(key)) bad(std::string("config.json is missing '") + key + "'");
    return uint_value(j_[key], key, min, max);
  }

  uint32_t uint_value(const json& v, const std::string& key, uint32_t min, uint32_t max) const {
    if (!v.is_number_integer())
      bad("'" + key + "' must be an integer, found " + std::string(v.type_name()));
    // Parsed text gives unsigned numbers, but a json built in code holds signed ones.
    const bool negative = !v.is_number_unsigned() && v.get<int64_t>() < 0;
    if (!negative) {
      const auto x = v.get<uint64_t>();
      if (x >= min && x <= max) return static_cast<uint32_t>(x);
    }
    bad("'" + key + "' = " + v.dump() + " is outside " + std::to_string(min) + ".." +
        std::to_string(max));
  }

  float positive_float(const char* key, double max) const {
    const auto& v = j_[key];
    if (!v.is_number()) bad(std::string("'") + key + "' must be a number, found " + v.type_name());
    const double x = v.get<double>();
    if (!std::isfinite(x) || x <= 0 || x > max)
      bad(std::string("'") + key + "' = " + v.dump() + " is not a positive number up to " +
          json(max).dump());
    return static_cast<float>(x);
  }

  bool boolean(const char* key) const {
    const auto& v = j_[key];
    if (!v.is_boolean()) bad(std::string("'") + key + "' must be true or false");
    return v.get<bool>();
  }

  std::string string(const char* key) const {
    const auto& v = j_[key];
    if (!v.is_string()) bad(std::string("'") + key + "' must be a string");
    return v.get<std::string>();
  }

  // Token ids: an integer, or (Llama 3 style eos) a list whose first entry is used.
  std::optional<uint32_t> token_id(const char* key, uint32_t vocab) const {
    if (!has(key)) return std::nullopt;
    const auto& v = j_[key];
    const json* x = &v;
    if (v.is_array()) {
      if (v.empty()) bad(std::string("'") + key + "' is an empty list");
      x = &v.front();
    }
    return uint_value(*x, key, 0, vocab - 1);
  }

  // Every id of a token-id list (Llama 3's eos_token_id); empty for a single id or none.
  std::vector<uint32_t> token_ids(const char* key, uint32_t vocab) const {
    std::vector<uint32_t> out;
    if (!has(key) || !j_[key].is_array()) return out;
    for (const auto& x : j_[key]) out.push_back(uint_value(x, key, 0, vocab - 1));
    return out;
  }

 private:
  const json& j_;
  const std::string& file_;
};

// Shortest decimal that reads back as the same float, so 1e-5f is written as 1e-05 and not
// as the double nearest to the float (9.99999974737875e-06).
json float_json(float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return json(std::strtod(std::string(buf, r.ptr).c_str(), nullptr));
}

// One rope scaling block (`rope_scaling` or `rope_parameters`), checked: its type must be one
// lmforge implements ("default", "linear", "llama3"), every llama3 parameter present.
struct RopeSpec {
  std::string type = "default";
  std::optional<float> theta;  // rope_parameters' rope_theta
  std::optional<float> linear;
  std::optional<Llama3RopeScaling> llama3;
};

RopeSpec read_rope_spec(const json& s, const char* name, const Reader& r, const std::string& file) {
  const std::string n = name;
  if (!s.is_object()) r.bad("'" + n + "' must be an object or null");
  const json* type = s.contains("rope_type") ? &s["rope_type"] : s.contains("type") ? &s["type"] : nullptr;
  RopeSpec out;
  Reader sr(s, file);
  if (n == "rope_parameters") {
    // Models with several attention kinds (Gemma 3) nest one block per layer type.
    if (!type && !s.contains("rope_theta"))
      r.bad("'rope_parameters' has neither 'rope_type' nor 'rope_theta' (per-layer-type rope parameters are not supported)");
    if (sr.has("rope_theta")) out.theta = sr.positive_float("rope_theta", 1e12);
    if (!type) return out;
  }
  if (!type || !type->is_string()) r.bad("'" + n + "' has no 'type' or 'rope_type' string");
  out.type = type->get<std::string>();
  if (out.type == "linear") {
    if (!sr.has("factor")) r.bad("linear '" + n + "' has no 'factor'");
    out.linear = sr.positive_float("factor", 1e6);
  } else if (out.type == "llama3") {
    // Every parameter is required: transformers refuses a llama3 scaling without them too,
    // and a guessed default would change every angle silently.
    Llama3RopeScaling l3;
    for (const char* key : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!sr.has(key)) r.bad(n + " type 'llama3' has no '" + key + "'");
    l3.factor = sr.positive_float("factor", 1e6);
    l3.low_freq_factor = sr.positive_float("low_freq_factor", 1e6);
    l3.high_freq_factor = sr.positive_float("high_freq_factor", 1e6);
    l3.original_max_position_embeddings = sr.uint("original_max_position_embeddings", 1, kMaxConfigContext);
    out.llama3 = l3;
  } else if (out.type != "default") {  // "default" means no scaling
    r.bad(n + " type '" + out.type + "' is not supported (only 'linear' and 'llama3')");
  }
  return out;
}

bool same_scaling(const RopeSpec& a, const RopeSpec& b) {
  if (a.type != b.type || a.linear != b.linear || a.llama3.has_value() != b.llama3.has_value()) return false;
  if (!a.llama3) return true;
  const Llama3RopeScaling &x = *a.llama3, &y = *b.llama3;
  return x.factor == y.factor && x.low_freq_factor == y.low_freq_factor && x.high_freq_factor == y.high_freq_factor &&
         x.original_max_position_embeddings == y.original_max_position_embeddings;
}

}  // namespace

LlamaConfig llama_config_from_json(const json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "config.json is not a JSON object");
  Reader r(j, file);
  LlamaConfig c;

  if (r.has("model_type")) c.model_type = r.string("model_type");
  if (r.has("architectures")) {
    const auto& a = j["architectures"];
    if (!a.is_array() || a.empty() || !a[0].is_string())
      r.bad("'architectures' must be a non-empty list of strings");
    c.architecture = a[0].get<std::string>();
  } else if (c.model_type == "mistral") {
    c.architecture = "MistralForCausalLM";
  } else if (c.model_type == "qwen2") {
    c.architecture = "Qwen2ForCausalLM";
  } else if (c.model_type != "llama") {
    r.bad("config.json has neither 'architectures' nor a llama 'model_type'");
  }
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM")
    r.bad("architecture '" + c.architecture +
          "' is not supported (expected LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM)");
  // Qwen2's attention always has q/k/v biases; a llama's "attention_bias" would add one to
  // o_proj too, and "mlp_bias" to the MLP, which the engine does not have.
  c.attention_bias = c.architecture == "Qwen2ForCausalLM";
  if (c.architecture != "Qwen2ForCausalLM") {
    if (r.has("attention_bias") && r.boolean("attention_bias"))
      r.bad("'attention_bias' true (biases on q/k/v/o_proj) is not supported for " + c.architecture);
  }
  if (r.has("mlp_bias") && r.boolean("mlp_bias")) r.bad("'mlp_bias' true is not supported");

  c.vocab_size = r.uint("vocab_size", 1, kMaxConfigVocab);
  c.hidden_size = r.uint("hidden_size", 1, kMaxConfigDim);
  c.intermediate_size = r.uint("intermediate_size", 1, kMaxConfigDim);
  c.num_hidden_layers = r.uint("num_hidden_layers", 1, kMaxConfigLayers);
  c.num_attention_heads = r.uint("num_attention_heads", 1, kMaxConfigDim);

  c.has_num_key_value_heads = r.has("num_key_value_heads");
  c.num_key_value_heads = c.has_num_key_value_heads
                              ? r.uint("num_key_value_heads", 1, c.num_attention_heads)
                              : c.num_attention_heads;
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    r.bad("num_attention_heads (" + std::to_string(c.num_attention_heads) +
          ") is not a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) +
          ")");

  c.has_head_dim = r.has("head_dim");
  if (c.has_head_dim) {
    c.head_dim = r.uint("head_dim", 1, kMaxConfigDim);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      r.bad("hidden_size (" + std::to_string(c.hidden_size) +
            ") is not a multiple of num_attention_heads (" + std::to_string(c.num_attention_heads) +
            ")");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  // Rotary embeddings rotate pairs of dimensions.
  if (c.head_dim % 2 != 0) r.bad("head dimension " + std::to_string(c.head_dim) + " is odd");

  if (r.has("max_position_embeddings"))
    c.max_position_embeddings = r.uint("max_position_embeddings", 1, kMaxConfigContext);
  if (r.has("rms_norm_eps")) c.rms_norm_eps = r.positive_float("rms_norm_eps", 1.0);
  // Rotary settings in either form: `rope_theta` + `rope_scaling` (transformers < 5), or
  // `rope_parameters` holding both (transformers >= 5). A config may carry both forms; they
  // must then agree.
  std::optional<float> theta;
  if (r.has("rope_theta")) theta = r.positive_float("rope_theta", 1e12);
  std::optional<RopeSpec> scaling, parameters;
  if (r.has("rope_scaling")) scaling = read_rope_spec(j["rope_scaling"], "rope_scaling", r, file);
  if (r.has("rope_parameters")) {
    parameters = read_rope_spec(j["rope_parameters"], "rope_parameters", r, file);
    if (parameters->theta) {
      if (theta && *theta != *parameters->theta)
        r.bad("'rope_theta' (" + j["rope_theta"].dump() + ") and 'rope_parameters.rope_theta' (" +
              j["rope_parameters"]["rope_theta"].dump() + ") disagree");
      theta = parameters->theta;
    }
    if (scaling && !same_scaling(*scaling, *parameters))
      r.bad("'rope_scaling' (" + j["rope_scaling"].dump() + ") and 'rope_parameters' (" + j["rope_parameters"].dump() +
            ") disagree");
  }
  c.has_rope_theta = theta.has_value();
  if (theta) c.rope_theta = *theta;
  const std::optional<RopeSpec>& spec = parameters ? parameters : scaling;
  if (spec && spec->linear) c.rope_scaling_linear = spec->linear;
  if (spec && spec->llama3) {
    c.rope_scaling_llama3 = spec->llama3;
    c.rope_freq_factors = llama3_rope_freq_factors(*spec->llama3, c.rope_theta, c.head_dim, file);
  }

  if (r.has("sliding_window")) {
    c.sliding_window = r.uint("sliding_window", 1, UINT32_MAX);
    // Qwen2 records a window but turns it off ("use_sliding_window": false); Mistral 7B v0.1's
    // 4096 lies beyond what lmforge runs by default and is recorded only, as llama.cpp does.
    if (c.architecture == "Qwen2ForCausalLM" && r.has("use_sliding_window") && r.boolean("use_sliding_window") &&
        *c.sliding_window < c.max_position_embeddings)
      r.bad("'use_sliding_window' is true: sliding-window attention is not supported");
  }

  if (r.has("tie_word_embeddings")) c.tie_word_embeddings = r.boolean("tie_word_embeddings");
  c.bos_token_id = r.token_id("bos_token_id", c.vocab_size);
  c.eos_token_id = r.token_id("eos_token_id", c.vocab_size);
  c.eos_token_ids = r.token_ids("eos_token_id", c.vocab_size);
  c.pad_token_id = r.token_id("pad_token_id", c.vocab_size);
  c.unk_token_id = r.token_id("unk_token_id", c.vocab_size);
  // transformers >= 4.56 writes "dtype"; older versions "torch_dtype".
  if (r.has("torch_dtype"))
    c.torch_dtype = r.string("torch_dtype");
  else if (r.has("dtype"))
    c.torch_dtype = r.string("dtype");
  return c;
}

json llama_config_to_json(const LlamaConfig& c) {
  json j = json::object();
  j["architectures"] = {c.architecture};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads ? c.num_key_value_heads : c.num_attention_heads;
  if (c.has_head_dim ||
      (c.num_attention_heads && c.head_dim && c.head_dim * c.num_attention_heads != c.hidden_size))
    j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = float_json(c.rms_norm_eps);
  j["rope_theta"] = float_json(c.rope_theta);
  if (c.rope_scaling_linear) {
    j["rope_scaling"] = json{{"type", "linear"}, {"factor", float_json(*c.rope_scaling_linear)}};
  } else if (c.rope_scaling_llama3) {
    const Llama3RopeScaling& l3 = *c.rope_scaling_llama3;
    j["rope_scaling"] = json{{"rope_type", "llama3"},
                             {"factor", float_json(l3.factor)},
                             {"low_freq_factor", float_json(l3.low_freq_factor)},
                             {"high_freq_factor", float_json(l3.high_freq_factor)},
                             {"original_max_position_embeddings", l3.original_max_position_embeddings}};
  } else if (!c.rope_freq_factors.empty()) {
    // A GGUF keeps only the divisors (rope_freqs.weight), which config.json cannot express.
    throw UsageError("the model's per-frequency rope factors (rope_freqs.weight) cannot be written as a config.json "
                "rope_scaling; convert from the original Hugging Face folder instead");
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() > 1)
    j["eos_token_id"] = c.eos_token_ids;
  else if (c.eos_token_id)
    j["eos_token_id"] = *c.eos_token_id;
  if (c.sliding_window) j["sliding_window"] = *c.sliding_window;
  if (c.architecture == "Qwen2ForCausalLM") j["use_sliding_window"] = false;
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  if (c.unk_token_id) j["unk_token_id"] = *c.unk_token_id;
  if (!c.torch_dtype.empty()) j["torch_dtype"] = c.torch_dtype;
  return j;
}

}  // namespace lmforge
