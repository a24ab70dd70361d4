#include "formats/gptq_config.h"

#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/json_strict.h"

namespace lmforge {

namespace {

// The first key of `names` present in j, or nullptr.
const nlohmann::json* first_of(const nlohmann::json& j, std::initializer_list<const char*> names, std::string* which) {
  for (const char* n : names) {
    auto it = j.find(n);
    if (it != j.end() && !it->is_null()) {
      *which = n;
      return &*it;
    }
  }
  return nullptr;
}

bool read_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(file, std::string("GPTQ setting \"") + key + "\" is not true or false");
  return it->get<bool>();
}

}  // namespace

GptqConfig gptq_config_from_json(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "the GPTQ quantization settings are not a JSON object");
  GptqConfig c;
  c.file = file;
  if (auto it = j.find("quant_method"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != "gptq")
      fail(file, "quant_method is " + it->dump() + ", not \"gptq\"; lmforge reads GPTQ checkpoints only");
  }
  std::string key;
  const nlohmann::json* bits = first_of(j, {"bits", "w_bit", "wbits"}, &key);
  if (!bits) fail(file, "the GPTQ settings have no \"bits\"");
  if (!bits->is_number_integer() || (bits->get<int64_t>() != 2 && bits->get<int64_t>() != 3 &&
                                     bits->get<int64_t>() != 4 && bits->get<int64_t>() != 8))
    fail(file, "GPTQ \"" + key + "\" is " + bits->dump() + "; lmforge reads 2, 3, 4 and 8 bits");
  c.bits = static_cast<int>(bits->get<int64_t>());
  if (const nlohmann::json* gs = first_of(j, {"group_size", "q_group_size", "groupsize"}, &key)) {
    if (!gs->is_number_integer() || (gs->get<int64_t>() != -1 && gs->get<int64_t>() <= 0) || gs->get<int64_t>() > (int64_t{1} << 31))
      fail(file, "GPTQ \"" + key + "\" is " + gs->dump() + "; expected -1 or a positive group size");
    c.group_size = gs->get<int64_t>();
  }
  c.desc_act = read_bool(j, "desc_act", false, file);
  c.sym = read_bool(j, "sym", true, file);
  c.static_groups = read_bool(j, "static_groups", false, file);
  if (read_bool(j, "is_marlin_format", false, file))
    fail(file, "the checkpoint is in Marlin's repacked layout (is_marlin_format); lmforge reads the gptq and gptq_v2 layouts");
  if (const nlohmann::json* f = first_of(j, {"checkpoint_format", "format"}, &key)) {
    if (!f->is_string()) fail(file, "GPTQ \"" + key + "\" is not a string");
    c.checkpoint_format = f->get<std::string>();
    if (c.checkpoint_format == "gptq_v2") {
      c.v2 = true;
    } else if (c.checkpoint_format != "gptq") {
      fail(file, "GPTQ \"" + key + "\" is \"" + c.checkpoint_format + "\"; lmforge reads \"gptq\" and \"gptq_v2\"");
    }
  }
  return c;
}

std::optional<std::string> autogptq_weight_file(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path qc = fs::path(dir) / "quantize_config.json";
  if (!fs::is_regular_file(qc)) return std::nullopt;
  const nlohmann::json j = read_json_file(qc.string(), 1u << 20);
  if (!j.is_object()) return std::nullopt;
  std::vector<std::string> names;
  if (auto it = j.find("model_file_base_name"); it != j.end() && it->is_string()) names.push_back(it->get<std::string>() + ".safetensors");
  auto bits = j.find("bits");
  auto gs = j.find("group_size");
  if (bits != j.end() && bits->is_number_integer() && gs != j.end() && gs->is_number_integer())
    names.push_back("gptq_model-" + std::to_string(bits->get<int64_t>()) + "bit-" + std::to_string(gs->get<int64_t>()) + "g.safetensors");
  for (const auto& n : names) {
    // A plain file name inside the folder, nothing else.
    if (n.find('/') != std::string::npos || n.find('\\') != std::string::npos || n.starts_with(".")) continue;
    if (fs::is_regular_file(fs::path(dir) / n)) return n;
  }
  return std::nullopt;
}

std::optional<GptqConfig> read_gptq_config(const std::string& dir, const nlohmann::json* config_json) {
  namespace fs = std::filesystem;
  for (const char* name : {"quantize_config.json", "quant_config.json"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p)) return gptq_config_from_json(read_json_file(p.string(), 1u << 20), p.string());
  }
  const fs::path cfg = fs::path(dir) / "config.json";
  nlohmann::json read;
  if (!config_json) {
    if (!fs::is_regular_file(cfg)) return std::nullopt;
    read = read_json_file(cfg.string());
    config_json = &read;
  }
  if (!config_json->is_object()) return std::nullopt;
  auto it = config_json->find("quantization_config");
  if (it == config_json->end() || it->is_null()) return std::nullopt;
  return gptq_config_from_json(*it, cfg.string() + " (quantization_config)");
}

}  // namespace lmforge
