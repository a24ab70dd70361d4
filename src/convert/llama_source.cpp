#include "convert/llama_source.h"

#include <filesystem>

namespace lmforge {

std::string folder_model_name(const std::string& dir, const nlohmann::json& config_json) {
  namespace fs = std::filesystem;
  std::string name = fs::path(dir).filename().string();
  if (name.empty()) name = fs::path(dir).parent_path().filename().string();  // "dir/"
  if (config_json.contains("_name_or_path") && config_json["_name_or_path"].is_string()) {
    const std::string n = config_json["_name_or_path"].get<std::string>();
    if (!n.empty()) name = fs::path(n).filename().string();
  }
  return name;
}

}  // namespace lmforge
