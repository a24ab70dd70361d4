#include "arch/bert/bert_pooling.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text_checks.h"
#include "formats/json_strict.h"

namespace lmforge {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMaxSmallJson = 1u << 20;

// A module path from modules.json: empty (the folder itself) or one plain folder name.
bool plain_relative(const std::string& p) {
  if (p.empty()) return true;
  if (p == "." || p == ".." || p.find('/') != std::string::npos || p.find('\\') != std::string::npos) return false;
  for (unsigned char ch : p)
    if (ch < 0x20) return false;
  return true;
}

bool flag(const json& cfg, const char* key, const std::string& file) {
  if (!cfg.contains(key) || cfg[key].is_null()) return false;
  if (!cfg[key].is_boolean()) fail(file, std::string("'") + key + "' must be true or false");
  return cfg[key].get<bool>();
}

}  // namespace

BertModules parse_bert_modules(const json& modules, const std::string& modules_path) {
  if (!modules.is_array()) fail(modules_path, "modules.json must be a list of modules");
  BertModules r;
  bool have_transformer = false;
  for (const json& m : modules) {
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
      fail(modules_path, "every module needs a \"type\" string");
    const std::string type = m["type"].get<std::string>();
    std::string path;
    if (m.contains("path")) {
      if (!m["path"].is_string()) fail(modules_path, "a module's \"path\" must be a string");
      path = m["path"].get<std::string>();
    }
    if (!plain_relative(path))
      fail(modules_path, "module path " + quoted_for_message(path) + " is not a folder name inside the model folder");
    if (type == "sentence_transformers.models.Transformer") {
      have_transformer = true;
    } else if (type == "sentence_transformers.models.Pooling") {
      if (r.has_pooling) fail(modules_path, "modules.json lists two Pooling modules");
      r.has_pooling = true;
      r.pooling_dir = path;
    } else if (type == "sentence_transformers.models.Normalize") {
      r.normalize = true;
    } else {
      fail(modules_path, "module " + quoted_for_message(type) + " is not one lmforge runs (Transformer, Pooling, Normalize)");
    }
  }
  if (!have_transformer) fail(modules_path, "modules.json lists no Transformer module");
  return r;
}

Pooling parse_bert_pooling_config(const json& cfg, const std::string& cfg_path, uint32_t hidden_size) {
  if (!cfg.is_object()) fail(cfg_path, "the pooling config is not a JSON object");
  if (cfg.contains("word_embedding_dimension")) {
    const json& d = cfg["word_embedding_dimension"];
    if (!d.is_number_integer() || d.get<int64_t>() != static_cast<int64_t>(hidden_size))
      fail(cfg_path, "word_embedding_dimension " + d.dump() + " is not the model's hidden size " + std::to_string(hidden_size));
  }
  for (const char* unsupported : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                  "pooling_mode_weightedmean_tokens"})
    if (flag(cfg, unsupported, cfg_path)) fail(cfg_path, std::string(unsupported) + " is not supported (mean, cls or last only)");
  const bool mean = flag(cfg, "pooling_mode_mean_tokens", cfg_path);
  const bool cls = flag(cfg, "pooling_mode_cls_token", cfg_path);
  const bool last = flag(cfg, "pooling_mode_lasttoken", cfg_path);
  if (!mean && !cls && !last && cfg.contains("pooling_mode")) {
    // The one-string form some configs use instead of the flags (llama.cpp's converter reads it too).
    const json& m = cfg["pooling_mode"];
    if (!m.is_string()) fail(cfg_path, "'pooling_mode' must be a string");
    const std::string mode = m.get<std::string>();
    if (mode == "mean") return Pooling::Mean;
    if (mode == "cls") return Pooling::Cls;
    if (mode == "lasttoken") return Pooling::Last;
    fail(cfg_path, "pooling_mode " + quoted_for_message(mode) + " is not supported (mean, cls or lasttoken only)");
  }
  if (int(mean) + int(cls) + int(last) != 1)
    fail(cfg_path, "exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_lasttoken must be true");
  return mean ? Pooling::Mean : cls ? Pooling::Cls : Pooling::Last;
}

BertPoolingChoice read_bert_pooling(const std::string& folder, uint32_t hidden_size) {
  BertPoolingChoice c;
  const std::string modules_path = (fs::path(folder) / "modules.json").string();
  if (!fs::exists(modules_path)) {
    c.source = "default: no modules.json, so mean pooling";
    return c;
  }
  const BertModules modules = parse_bert_modules(read_json_file(modules_path, kMaxSmallJson), modules_path);
  c.normalize_module = modules.normalize;
  if (!modules.has_pooling) {
    c.source = "default: modules.json lists no Pooling module, so mean pooling";
    return c;
  }
  const std::string rel = (fs::path(modules.pooling_dir) / "config.json").string();
  const std::string cfg_path = (fs::path(folder) / rel).string();
  if (!fs::exists(cfg_path)) fail(cfg_path, "the Pooling module's config.json is missing");
  c.pooling = parse_bert_pooling_config(read_json_file(cfg_path, kMaxSmallJson), cfg_path, hidden_size);
  c.source = rel;
  return c;
}

}  // namespace lmforge
