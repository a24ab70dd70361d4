#include "train/train_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "arch/llama/llama_config_json.h"
#include "core/error.h"

namespace lmforge {

namespace {

using nlohmann::json;

const std::set<std::string> kModelKeys = {"vocab_size",          "hidden_size",       "intermediate_size",
                                          "num_hidden_layers",   "num_attention_heads", "num_key_value_heads",
                                          "max_position_embeddings", "rope_theta",    "rms_norm_eps",
                                          "tie_word_embeddings"};
const std::set<std::string> kTrainingKeys = {"ctx", "batch", "grad_accum", "steps", "epochs", "lr", "warmup",
                                             "lr_schedule", "min_lr", "weight_decay", "grad_clip", "beta2", "seed"};

uint64_t whole(const json& j, const std::string& key, const std::string& file, uint64_t max) {
  if (!j.is_number_integer() || j.get<int64_t>() < 0 || j.get<uint64_t>() > max)
    throw Error(file, "\"" + key + "\" must be a whole number between 0 and " + std::to_string(max));
  return j.get<uint64_t>();
}

double number(const json& j, const std::string& key, const std::string& file) {
  if (!j.is_number() || !std::isfinite(j.get<double>())) throw Error(file, "\"" + key + "\" must be a number");
  return j.get<double>();
}

TrainSettings read_settings(const json& t, const std::string& file) {
  if (!t.is_object()) throw Error(file, "\"training\" must be an object");
  TrainSettings s;
  for (const auto& [key, v] : t.items()) {
    if (!kTrainingKeys.count(key)) throw Error(file, "unknown training setting \"" + key + "\"");
    const std::string k = "training." + key;
    if (key == "ctx") s.ctx = static_cast<uint32_t>(whole(v, k, file, 1u << 20));
    if (key == "batch") s.batch = static_cast<uint32_t>(whole(v, k, file, 65536));
    if (key == "grad_accum") s.grad_accum = static_cast<uint32_t>(whole(v, k, file, 65536));
    if (key == "steps") s.steps = whole(v, k, file, uint64_t{1} << 40);
    if (key == "epochs") s.epochs = whole(v, k, file, uint64_t{1} << 40);
    if (key == "lr") s.lr = static_cast<float>(number(v, k, file));
    if (key == "warmup") s.warmup = whole(v, k, file, uint64_t{1} << 40);
    if (key == "min_lr") s.min_lr = number(v, k, file);
    if (key == "weight_decay") s.weight_decay = number(v, k, file);
    if (key == "grad_clip") s.grad_clip = number(v, k, file);
    if (key == "beta2") s.beta2 = number(v, k, file);
    if (key == "seed") s.seed = whole(v, k, file, UINT64_MAX);
    if (key == "lr_schedule") {
      if (!v.is_string()) throw Error(file, "\"training.lr_schedule\" must be \"constant\" or \"cosine\"");
      s.lr_schedule = v.get<std::string>();
    }
  }
  return s;
}

}  // namespace

void check_train_settings(const TrainSettings& s, const std::string& where) {
  if (s.steps && s.epochs) throw Error(where, "give steps or epochs, not both");
  if (s.steps && *s.steps == 0) throw Error(where, "steps must be at least 1");
  if (s.epochs && *s.epochs == 0) throw Error(where, "epochs must be at least 1");
  if (s.ctx < 1) throw Error(where, "ctx must be at least 1");
  if (s.batch < 1) throw Error(where, "batch must be at least 1");
  if (s.grad_accum < 1) throw Error(where, "grad_accum must be at least 1");
  if (!(s.lr > 0.0f) || !std::isfinite(s.lr)) throw Error(where, "lr must be a positive number");
  if (s.lr_schedule != "constant" && s.lr_schedule != "cosine")
    throw Error(where, "lr_schedule must be constant or cosine, got " + s.lr_schedule);
  if (!(s.min_lr >= 0.0 && s.min_lr <= 1.0)) throw Error(where, "min_lr is a fraction of lr, between 0 and 1");
  if (s.min_lr > 0.0 && s.lr_schedule != "cosine") throw Error(where, "min_lr needs the cosine schedule");
  if (!(s.weight_decay >= 0.0) || !std::isfinite(s.weight_decay))
    throw Error(where, "weight_decay must be zero or positive");
  if (!(s.beta2 >= 0.0 && s.beta2 < 1.0)) throw Error(where, "beta2 must be in [0, 1)");
  if (!(s.grad_clip >= 0.0) || !std::isfinite(s.grad_clip)) throw Error(where, "grad_clip must be zero or positive");
}

TrainConfig read_train_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open the training configuration");
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(path, "not a JSON object");

  json model = json::object();
  TrainConfig cfg;
  bool have_tokenizer = false;
  for (const auto& [key, v] : j.items()) {
    if (kModelKeys.count(key)) {
      model[key] = v;
    } else if (key == "head_dim") {
      model[key] = v;
    } else if (key == "tokenizer") {
      if (!v.is_string() || v.get<std::string>().empty()) throw Error(path, "\"tokenizer\" must be a path");
      const std::filesystem::path p(v.get<std::string>());
      cfg.tokenizer = p.is_absolute() ? p.string() : (std::filesystem::path(path).parent_path() / p).string();
      have_tokenizer = true;
    } else if (key == "training") {
      cfg.training = read_settings(v, path);
    } else {
      throw Error(path, "unknown field \"" + key + "\"");
    }
  }
  for (const std::string& key : kModelKeys)
    if (!model.contains(key)) throw Error(path, "missing field \"" + key + "\"");
  if (!have_tokenizer) throw Error(path, "missing field \"tokenizer\" (a tokenizer.model, tokenizer.json or GGUF)");
  if (!model["tie_word_embeddings"].is_boolean()) throw Error(path, "\"tie_word_embeddings\" must be true or false");
  for (const char* key : {"rope_theta", "rms_norm_eps"})
    if (!(number(model[key], key, path) > 0)) throw Error(path, std::string("\"") + key + "\" must be positive");
  model["architectures"] = json::array({"LlamaForCausalLM"});
  model["model_type"] = "llama";
  model["hidden_act"] = "silu";
  cfg.model = llama_config_from_json(model, path);
  check_train_settings(cfg.training, path);
  return cfg;
}

}  // namespace lmforge
