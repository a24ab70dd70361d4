#include "convert/gguf_bpe_vocab.h"

#include <filesystem>

#include "convert/eos_list.h"
#include "core/error.h"
#include "formats/json_strict.h"
#include "tokenizer/bpe_json.h"

namespace lmforge {

namespace {

// llama.cpp's converter also makes control tokens of added tokens that look like markers.
bool looks_special(const std::string& t) { return t.size() >= 4 && t.starts_with("<|") && t.ends_with("|>"); }

}  // namespace

bool folder_has_bpe_tokenizer(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "tokenizer.json", ec) && !fs::exists(fs::path(dir) / "tokenizer.model", ec);
}

std::vector<GgufKv> gguf_vocab_from_bpe_folder(const std::string& dir, uint32_t vocab_size,
                                               const std::vector<uint32_t>& config_eos_ids, std::vector<std::string>* warnings) {
  BpeVocab v = load_bpe_folder(dir);
  if (v.eos_id < 0 && !config_eos_ids.empty() && config_eos_ids[0] < v.size()) v.eos_id = static_cast<int32_t>(config_eos_ids[0]);
  if (vocab_size == 0) vocab_size = static_cast<uint32_t>(v.size());
  if (v.size() > vocab_size)
    fail(dir, "tokenizer.json has " + std::to_string(v.size()) + " tokens but config.json vocab_size is " + std::to_string(vocab_size));
  std::vector<std::string> tokens(vocab_size);
  std::vector<int32_t> types(vocab_size, static_cast<int32_t>(TokenType::kUnused));
  for (uint32_t i = 0; i < vocab_size; ++i) {
    if (i >= v.size()) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      continue;
    }
    tokens[i] = v.tokens[i];
    TokenType t = v.types[i];
    if (t == TokenType::kUserDefined && looks_special(tokens[i])) t = TokenType::kControl;
    types[i] = static_cast<int32_t>(t);
  }
  std::vector<std::string> merges;
  merges.reserve(v.merges.size());
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);

  std::vector<GgufKv> kv;
  kv.push_back({"tokenizer.ggml.model", GgufValue::str("gpt2")});
  kv.push_back({"tokenizer.ggml.pre", GgufValue::str(std::string(bpe_pre_tokenizer_name(v.pre_tokenizer)))});
  kv.push_back({"tokenizer.ggml.tokens", GgufValue::string_array(tokens)});
  kv.push_back({"tokenizer.ggml.token_type", GgufValue::i32_array(types)});
  kv.push_back({"tokenizer.ggml.merges", GgufValue::string_array(merges)});
  if (v.bos_id >= 0) kv.push_back({"tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(v.bos_id))});
  if (v.eos_id >= 0) kv.push_back({"tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(v.eos_id))});
  // The rest of the eos lists (generation_config.json's, then config.json's), eos first.
  std::vector<uint32_t> eog;
  for (int32_t id : v.extra_eos_ids) eog.push_back(static_cast<uint32_t>(id));
  eog.insert(eog.end(), config_eos_ids.begin(), config_eos_ids.end());
  EosListKeys more = eos_list_keys(eos_list(eog, nlohmann::json(), vocab_size), tokens, types,
                                   v.eos_id >= 0 ? std::optional<uint32_t>(static_cast<uint32_t>(v.eos_id)) : std::nullopt);
  kv.insert(kv.end(), more.kvs.begin(), more.kvs.end());
  if (warnings) warnings->insert(warnings->end(), more.warnings.begin(), more.warnings.end());
  if (v.pad_id >= 0) kv.push_back({"tokenizer.ggml.padding_token_id", GgufValue::u32(static_cast<uint32_t>(v.pad_id))});
  // Written only when the folder says it, as llama.cpp's converter does: otherwise llama.cpp
  // (and lmforge's reader) use the pre-tokenizer's default, which add_bos already holds.
  if (v.add_bos_stated) kv.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(v.add_bos)});
  if (v.add_eos) kv.push_back({"tokenizer.ggml.add_eos_token", GgufValue::boolean(true)});
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string config = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::is_regular_file(config, ec)) {
    const nlohmann::json cfg = read_json_file(config);
    if (cfg.is_object() && cfg.contains("chat_template") && cfg["chat_template"].is_string())
      kv.push_back({"tokenizer.chat_template", GgufValue::str(cfg["chat_template"].get<std::string>())});
  }
  return kv;
}

}  // namespace lmforge
