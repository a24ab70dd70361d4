#include "convert/gguf_vocab.h"

#include "convert/eos_list.h"
#include "convert/gguf_bpe_vocab.h"

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/hf_folder.h"
#include "arch/llama/llama_config.h"

namespace lmforge {

namespace {

// GGUF token types, which copy sentencepiece_model.proto's piece types.
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

// A special token in tokenizer_config.json is either "text" or {"content": "text", ...}.
std::optional<std::string> token_text(const nlohmann::json& cfg, const std::string& key) {
  if (!cfg.is_object() || !cfg.contains(key)) return std::nullopt;
  const auto& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::optional<uint32_t> find_token(const std::vector<std::string>& tokens, const std::string& text) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] == text) return static_cast<uint32_t>(i);
  return std::nullopt;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

std::vector<GgufKv> gguf_vocab_from_hf(const HfModel& model, const LlamaConfig& config, uint32_t vocab_size,
                                       std::vector<std::string>* warnings) {
  // Llama 3, Qwen2, SmolLM: byte-level BPE from tokenizer.json.
  if (!model.tokenizer && folder_has_bpe_tokenizer(model.dir)) {
    std::vector<uint32_t> config_eos = config.eos_token_ids;
    if (config_eos.empty() && config.eos_token_id) config_eos.push_back(*config.eos_token_id);
    return gguf_vocab_from_bpe_folder(model.dir, vocab_size, config_eos, warnings);
  }
  if (!model.tokenizer) fail(model.dir, "no tokenizer.model in the folder; a llama GGUF needs its SentencePiece vocabulary");
  const auto& sp = *model.tokenizer;
  if (vocab_size == 0) vocab_size = static_cast<uint32_t>(sp.pieces.size());
  if (sp.pieces.size() > vocab_size)
    fail(model.dir, "tokenizer.model has " + std::to_string(sp.pieces.size()) + " pieces but config.json vocab_size is " + std::to_string(vocab_size));

  std::vector<std::string> tokens(vocab_size);
  std::vector<float> scores(vocab_size, -10000.0f);
  std::vector<int32_t> types(vocab_size, kUnused);
  for (uint32_t i = 0; i < vocab_size; ++i) tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (size_t i = 0; i < sp.pieces.size(); ++i) {
    tokens[i] = sp.pieces[i].piece;
    scores[i] = sp.pieces[i].score;
    const int32_t t = sp.pieces[i].type;
    types[i] = (t >= kNormal && t <= kByte) ? t : kNormal;
  }

  if (model.added_tokens.is_object()) {
    for (const auto& [text, id] : model.added_tokens.items()) {
      if (!id.is_number_unsigned() || id.get<uint64_t>() >= vocab_size) continue;  // as llama.cpp: ignored
      const auto i = id.get<uint64_t>();
      tokens[i] = text;
      scores[i] = -1000.0f;
      types[i] = kUserDefined;
    }
  }
  const auto& cfg = model.tokenizer_config;
  if (cfg.is_object() && cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
    for (const auto& [key, data] : cfg["added_tokens_decoder"].items()) {
      uint64_t id;
      try {
        size_t used = 0;
        id = std::stoull(key, &used);
        if (used != key.size()) continue;
      } catch (...) {
        continue;
      }
      if (id >= vocab_size || !data.is_object() || !data.contains("content") || !data["content"].is_string()) continue;
      if (types[id] != kUnused) continue;  // tokens the SentencePiece model defines win
      std::string content = data["content"].get<std::string>();
      const bool special = data.contains("special") && data["special"].is_boolean() && data["special"].get<bool>();
      if (!special) replace_all(content, "\xE2\x96\x81", " ");
      tokens[id] = content;
      scores[id] = -1000.0f;
      types[id] = special ? kControl : kUserDefined;
    }
  }

  std::vector<GgufKv> kv;
  kv.push_back({"tokenizer.ggml.model", GgufValue::str("llama")});
  kv.push_back({"tokenizer.ggml.pre", GgufValue::str("default")});
  kv.push_back({"tokenizer.ggml.tokens", GgufValue::string_array(tokens)});
  kv.push_back({"tokenizer.ggml.scores", GgufValue::f32_array(scores)});
  kv.push_back({"tokenizer.ggml.token_type", GgufValue::i32_array(types)});

  // Special ids: tokenizer_config.json text, then config.json ids, then the SentencePiece
  // model's own trainer ids.
  struct Special {
    const char* name;
    const char* config_key;
    std::optional<uint32_t> config_id;
    int32_t sp_id;
  };
  std::optional<uint32_t> eos;
  const Special specials[] = {
      {"bos", "bos_token", config.bos_token_id, sp.bos_id},
      {"eos", "eos_token", config.eos_token_id, sp.eos_id},
      {"unknown", "unk_token", config.unk_token_id, sp.unk_id},
      {"padding", "pad_token", config.pad_token_id, sp.pad_id},
  };
  for (const auto& s : specials) {
    std::optional<uint32_t> id;
    if (auto text = token_text(cfg, s.config_key)) id = find_token(tokens, *text);
    if (!id && s.config_id && *s.config_id < vocab_size) id = s.config_id;
    if (!id && s.sp_id >= 0 && static_cast<uint32_t>(s.sp_id) < vocab_size) id = static_cast<uint32_t>(s.sp_id);
    if (id) kv.push_back({std::string("tokenizer.ggml.") + s.name + "_token_id", GgufValue::u32(*id)});
    if (id && std::string_view(s.name) == "eos") eos = id;
  }
  // Llama 3's eos lists: ids llama.cpp would not find by their text get the eot key.
  EosListKeys more = eos_list_keys(eos_list(config.eos_token_ids, model.generation_config, vocab_size), tokens, types, eos);
  kv.insert(kv.end(), more.kvs.begin(), more.kvs.end());
  if (warnings) warnings->insert(warnings->end(), more.warnings.begin(), more.warnings.end());
  if (cfg.is_object()) {
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
      kv.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(cfg["add_bos_token"].get<bool>())});
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
      kv.push_back({"tokenizer.ggml.add_eos_token", GgufValue::boolean(cfg["add_eos_token"].get<bool>())});
  }
  // llama.cpp assumes a dummy prefix for SentencePiece vocabularies; say so only when not.
  if (!sp.add_dummy_prefix) kv.push_back({"tokenizer.ggml.add_space_prefix", GgufValue::boolean(false)});
  if (cfg.is_object() && cfg.contains("chat_template") && cfg["chat_template"].is_string())
    kv.push_back({"tokenizer.chat_template", GgufValue::str(cfg["chat_template"].get<std::string>())});
  return kv;
}

nlohmann::json hf_llama_tokenizer_config_base() {
  return {{"tokenizer_class", "LlamaTokenizer"}, {"legacy", true}, {"clean_up_tokenization_spaces", false}};
}

HfTokenizerFiles hf_tokenizer_from_kvs(const std::vector<GgufKv>& kvs, const std::string& file) {
  const auto find_kv = [&kvs](const std::string& key) -> const GgufValue* {
    for (const auto& kv : kvs)
      if (kv.key == key) return &kv.value;
    return nullptr;
  };
  const GgufValue* model = find_kv("tokenizer.ggml.model");
  if (!model || model->type != GgufType::STRING || model->s != "llama")
    fail(file, "only SentencePiece ('llama') vocabularies can be written as tokenizer.model");
  const GgufValue* tokens = find_kv("tokenizer.ggml.tokens");
  const GgufValue* scores = find_kv("tokenizer.ggml.scores");
  const GgufValue* types = find_kv("tokenizer.ggml.token_type");
  if (!tokens || tokens->type != GgufType::ARRAY || tokens->array_type != GgufType::STRING)
    fail(file, "tokenizer.ggml.tokens is missing or not an array of strings");
  const size_t n = tokens->array.size();
  if (scores && (scores->type != GgufType::ARRAY || scores->array_type != GgufType::FLOAT32 || scores->array.size() != n))
    fail(file, "tokenizer.ggml.scores must be a FLOAT32 array as long as the token list");
  if (types && (types->type != GgufType::ARRAY || types->array_type != GgufType::INT32 || types->array.size() != n))
    fail(file, "tokenizer.ggml.token_type must be an INT32 array as long as the token list");

  HfTokenizerFiles out;
  auto& sp = out.model;
  sp.model_type = 2;  // BPE, as llama's SentencePiece models are
  sp.normalizer_name = "identity";
  sp.remove_extra_whitespaces = false;
  sp.pieces.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sp.pieces[i].piece = tokens->array[i].s;
    sp.pieces[i].score = scores ? static_cast<float>(scores->array[i].f) : 0.0f;
    sp.pieces[i].type = types ? static_cast<int32_t>(types->array[i].i) : kNormal;
    if (sp.pieces[i].type == kByte) sp.byte_fallback = true;
  }
  auto id_of = [&](const char* key) -> std::optional<uint32_t> {
    const GgufValue* v = find_kv(key);
    if (!v) return std::nullopt;
    auto u = v->as_uint();
    if (!u || *u >= n) return std::nullopt;
    return static_cast<uint32_t>(*u);
  };
  const auto bos = id_of("tokenizer.ggml.bos_token_id");
  const auto eos = id_of("tokenizer.ggml.eos_token_id");
  const auto unk = id_of("tokenizer.ggml.unknown_token_id");
  const auto pad = id_of("tokenizer.ggml.padding_token_id");
  sp.bos_id = bos ? static_cast<int32_t>(*bos) : -1;
  sp.eos_id = eos ? static_cast<int32_t>(*eos) : -1;
  sp.unk_id = unk ? static_cast<int32_t>(*unk) : 0;
  // SentencePiece refuses a pad id that doubles as another special; keep those in the JSON only.
  sp.pad_id = (pad && pad != bos && pad != eos && pad != unk) ? static_cast<int32_t>(*pad) : -1;
  if (const GgufValue* v = find_kv("tokenizer.ggml.add_space_prefix"); v && v->type == GgufType::BOOL)
    sp.add_dummy_prefix = v->u != 0;

  auto& cfg = out.tokenizer_config;
  auto& map = out.special_tokens_map;
  cfg = hf_llama_tokenizer_config_base();
  map = nlohmann::json::object();
  if (const GgufValue* v = find_kv("tokenizer.ggml.add_bos_token"); v && v->type == GgufType::BOOL)
    cfg["add_bos_token"] = v->u != 0;
  if (const GgufValue* v = find_kv("tokenizer.ggml.add_eos_token"); v && v->type == GgufType::BOOL)
    cfg["add_eos_token"] = v->u != 0;
  const std::pair<const char*, std::optional<uint32_t>> named[] = {
      {"bos_token", bos}, {"eos_token", eos}, {"unk_token", unk}, {"pad_token", pad}};
  for (const auto& [key, id] : named) {
    if (!id) continue;
    cfg[key] = sp.pieces[*id].piece;
    map[key] = sp.pieces[*id].piece;
  }
  if (const GgufValue* v = find_kv("tokenizer.chat_template"); v && v->type == GgufType::STRING)
    cfg["chat_template"] = v->s;
  if (const GgufValue* v = find_kv("llama.context_length"); v && v->as_uint())
    cfg["model_max_length"] = *v->as_uint();
  return out;
}

HfTokenizerFiles hf_tokenizer_from_gguf(const GgufReader& gguf) {
  return hf_tokenizer_from_kvs(gguf.kvs(), gguf.tensors().empty() ? std::string() : gguf.tensors()[0].file);
}

std::vector<GgufKv> gguf_vocab_from_spm(const SentencePieceModel& spm, uint32_t vocab_size, const std::string& file) {
  HfModel m;
  m.dir = file;
  m.tokenizer = spm;
  return gguf_vocab_from_hf(m, LlamaConfig{}, vocab_size);
}

}  // namespace lmforge
