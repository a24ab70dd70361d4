#include "convert/eos_list.h"

#include <algorithm>
#include <iterator>

#include "tokenizer/vocab.h"

namespace lmforge {

std::vector<uint32_t> eos_list(const std::vector<uint32_t>& config_ids, const nlohmann::json& generation_config,
                               uint32_t vocab_size) {
  std::vector<uint32_t> out;
  auto add = [&](const nlohmann::json& v) {
    if (v.is_number_unsigned() && v.get<uint64_t>() < vocab_size) out.push_back(static_cast<uint32_t>(v.get<uint64_t>()));
  };
  for (uint32_t id : config_ids)
    if (id < vocab_size) out.push_back(id);
  if (generation_config.is_object() && generation_config.contains("eos_token_id")) {
    const auto& e = generation_config["eos_token_id"];
    if (e.is_array())
      for (const auto& v : e) add(v);
    else
      add(e);
  }
  std::vector<uint32_t> unique;
  for (uint32_t id : out)
    if (std::find(unique.begin(), unique.end(), id) == unique.end()) unique.push_back(id);
  return unique;
}

EosListKeys eos_list_keys(const std::vector<uint32_t>& ids, const std::vector<std::string>& tokens,
                          const std::vector<int32_t>& types, std::optional<uint32_t> eos) {
  EosListKeys r;
  // llama.cpp puts eot and eom in its end-of-generation set and uses eom for nothing else, so
  // both slots can carry an id its text does not announce.
  const char* slots[] = {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"};
  size_t used = 0;
  for (uint32_t id : ids) {
    if (id >= tokens.size() || (eos && id == *eos)) continue;
    const bool special = id < types.size() && (types[id] == static_cast<int32_t>(TokenType::kControl) ||
                                               types[id] == static_cast<int32_t>(TokenType::kUserDefined));
    if (special && is_end_of_generation_text(tokens[id])) continue;  // llama.cpp finds it by its text
    if (used < std::size(slots)) {
      r.kvs.push_back({slots[used++], GgufValue::u32(id)});
    } else {
      r.warnings.push_back("end-of-generation id " + std::to_string(id) + " (" + tokens[id] +
                           ") has no GGUF key left (eos, eot and eom are taken); llama.cpp and lmforge will not stop on it");
    }
  }
  return r;
}

}  // namespace lmforge
