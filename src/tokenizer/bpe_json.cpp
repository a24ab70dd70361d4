#include "tokenizer/bpe_json.h"

#include <filesystem>
#include <limits>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "core/text_checks.h"
#include "formats/json_strict.h"

namespace lmforge {

namespace {

using nlohmann::json;

// Far above any published vocabulary (Gemma's 262k); ids are further held to the number of
// entries (plus a small allowance for gaps) before they size anything.
constexpr int64_t kMaxTokens = 4 << 20;
constexpr size_t kMaxIdGap = 1024;

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string string_at(const json& j, const char* key, const std::string& what, const std::string& file) {
  const json* v = member(j, key);
  if (!v || !v->is_string()) fail(file, what + " has no string \"" + key + "\"");
  return v->get<std::string>();
}

bool bool_at(const json& j, const char* key, bool fallback, const std::string& what, const std::string& file) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_boolean()) fail(file, what + ": \"" + key + "\" must be true or false");
  return v->get<bool>();
}

int32_t id_of(const json& v, const std::string& what, const std::string& file) {
  if (!v.is_number_integer()) fail(file, what + " must be an integer id");
  const auto id = v.get<int64_t>();
  if (id < 0 || id >= kMaxTokens) fail(file, what + " " + std::to_string(id) + " is out of range");
  return static_cast<int32_t>(id);
}

std::string type_of(const json& j, const std::string& what, const std::string& file) {
  if (!j.is_object()) fail(file, what + " must be an object");
  return string_at(j, "type", what, file);
}

// A ByteLevel step as these vocabularies use it: no prefix space; returns its use_regex.
bool byte_level_uses_regex(const json& j, const std::string& file) {
  if (bool_at(j, "add_prefix_space", false, "the ByteLevel pre-tokenizer", file))
    fail(file, "the ByteLevel pre-tokenizer's add_prefix_space=true is not supported");
  return bool_at(j, "use_regex", true, "the ByteLevel pre-tokenizer", file);
}

BpePreTokenizer pre_tokenizer_of(const json* p, const std::string& file) {
  if (!p || p->is_null()) fail(file, "the tokenizer has no pre_tokenizer; a byte-level BPE needs at least ByteLevel");
  const std::string type = type_of(*p, "pre_tokenizer", file);
  if (type == "ByteLevel") {
    if (!byte_level_uses_regex(*p, file)) fail(file, "a ByteLevel pre-tokenizer without its regex and without a Split is not supported");
    return BpePreTokenizer::kGpt2;
  }
  if (type != "Sequence") fail(file, "pre-tokenizer " + quoted_for_message(type) + " is not supported");
  const json* steps = member(*p, "pretokenizers");
  if (!steps || !steps->is_array() || steps->size() != 2)
    fail(file, "the pre-tokenizer Sequence must have two steps (Split or Digits, then ByteLevel)");
  const json& first = (*steps)[0];
  const json& second = (*steps)[1];
  const std::string t1 = type_of(first, "a pre-tokenizer step", file), t2 = type_of(second, "a pre-tokenizer step", file);
  if (t2 != "ByteLevel") fail(file, "pre-tokenizer step " + quoted_for_message(t2) + " after " + quoted_for_message(t1) + " is not supported");
  const bool byte_level_regex = byte_level_uses_regex(second, file);
  if (t1 == "Digits") {
    if (!bool_at(first, "individual_digits", false, "the Digits pre-tokenizer", file) || !byte_level_regex)
      fail(file, "only Digits(individual_digits=true) followed by ByteLevel with its regex (SmolLM's) is supported");
    return BpePreTokenizer::kSmollm;
  }
  if (t1 != "Split") fail(file, "pre-tokenizer step " + quoted_for_message(t1) + " is not supported");
  if (byte_level_regex) fail(file, "a Split followed by ByteLevel with its own regex is not supported");
  const json* pattern = member(first, "pattern");
  const json* regex = pattern ? member(*pattern, "Regex") : nullptr;
  if (!regex || !regex->is_string()) fail(file, "the Split pre-tokenizer must have a {\"Regex\": ...} pattern");
  const std::string behavior = member(first, "behavior") && (*member(first, "behavior")).is_string() ? first["behavior"].get<std::string>() : "";
  if (behavior != "Isolated" || bool_at(first, "invert", false, "the Split pre-tokenizer", file))
    fail(file, "only Split with behavior Isolated and invert false is supported (got " + quoted_for_message(behavior) + ")");
  const auto kind = bpe_pre_tokenizer_from_regex(regex->get<std::string>());
  if (!kind)
    fail(file, "the Split regex " + quoted_for_message(regex->get<std::string>()) +
                   " is not one lmforge implements (Llama 3's, Qwen2's or GPT-2's)");
  return *kind;
}

bool normalizer_is_nfc(const json* n, const std::string& file) {
  if (!n || n->is_null()) return false;
  const std::string type = type_of(*n, "normalizer", file);
  if (type == "NFC") return true;
  if (type == "Sequence") {
    const json* list = member(*n, "normalizers");
    if (list && list->is_array() && list->empty()) return false;
    if (list && list->is_array() && list->size() == 1 && type_of((*list)[0], "a normalizer", file) == "NFC") return true;
  }
  fail(file, "normalizer " + quoted_for_message(type) + " is not supported (only none or NFC)");
}

// The id of the special token the TemplateProcessing "single" template puts first, or -1; sets
// add_eos when one follows the text, and has_template when there is a template at all (a
// ByteLevel post-processor says nothing about BOS: Llama 3's first tokenizer.json).
int32_t template_bos(const json* post, const std::unordered_map<std::string, int32_t>& ids, bool& add_eos, bool& has_template,
                     const std::string& file) {
  add_eos = false;
  if (!post || post->is_null()) return -1;
  const std::string type = type_of(*post, "post_processor", file);
  if (type == "ByteLevel") return -1;
  if (type == "Sequence") {
    const json* list = member(*post, "processors");
    if (!list || !list->is_array()) fail(file, "the post_processor Sequence has no \"processors\" list");
    int32_t bos = -1;
    for (const json& p : *list) {
      bool eos = false;
      const int32_t b = template_bos(&p, ids, eos, has_template, file);
      if (b >= 0) bos = b;
      add_eos = add_eos || eos;
    }
    return bos;
  }
  if (type != "TemplateProcessing") fail(file, "post-processor " + quoted_for_message(type) + " is not supported");
  has_template = true;
  const json* single = member(*post, "single");
  if (!single || !single->is_array()) fail(file, "the TemplateProcessing post-processor has no \"single\" template");
  int32_t bos = -1;
  bool seen_text = false;
  for (const json& piece : *single) {
    if (member(piece, "Sequence")) {
      seen_text = true;
      continue;
    }
    const json* special = member(piece, "SpecialToken");
    if (!special) fail(file, "the TemplateProcessing template has a piece that is neither Sequence nor SpecialToken");
    const std::string name = string_at(*special, "id", "a SpecialToken of the template", file);
    auto it = ids.find(name);
    if (it == ids.end()) fail(file, "the post-processor's special token " + quoted_for_message(name) + " is not in the vocabulary");
    if (seen_text) add_eos = true;
    else bos = it->second;
  }
  return bos;
}

// "<s>" or {"content": "<s>", ...} as tokenizer_config.json writes special tokens.
std::string config_token(const json& cfg, const char* key) {
  const json* v = member(cfg, key);
  if (v && v->is_object()) v = member(*v, "content");
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

BpeVocab bpe_vocab_from_tokenizer_json(const json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "tokenizer.json must be a JSON object");
  const json* model = member(j, "model");
  if (!model) fail(file, "tokenizer.json has no \"model\"");
  const std::string type = type_of(*model, "\"model\"", file);
  if (type != "BPE") fail(file, "tokenizer model type " + quoted_for_message(type) + " is not supported; lmforge reads BPE tokenizer.json files");
  if (bool_at(*model, "byte_fallback", false, "the BPE model", file))
    fail(file, "a BPE model with byte_fallback (SentencePiece-style) is not supported; byte-level BPE has none");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = member(*model, key);
    if (v && !v->is_null() && !(v->is_string() && v->get_ref<const std::string&>().empty()))
      fail(file, std::string("the BPE model's \"") + key + "\" is not supported");
  }
  const json* dropout = member(*model, "dropout");
  if (dropout && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0))
    fail(file, "BPE dropout is not supported");

  BpeVocab v;
  v.ignore_merges = bool_at(*model, "ignore_merges", false, "the BPE model", file);
  v.nfc = normalizer_is_nfc(member(j, "normalizer"), file);
  v.pre_tokenizer = pre_tokenizer_of(member(j, "pre_tokenizer"), file);

  const json* vocab = member(*model, "vocab");
  if (!vocab || !vocab->is_object()) fail(file, "the BPE model has no \"vocab\" object");
  std::vector<std::string> tokens;
  std::vector<bool> present;
  std::unordered_map<std::string, int32_t> ids;
  const json* added = member(j, "added_tokens");
  const size_t entries = vocab->size() + (added && added->is_array() ? added->size() : 0);
  const auto place = [&](int32_t id, const std::string& text, const char* where) {
    if (static_cast<size_t>(id) >= entries + kMaxIdGap)
      fail(file, std::string(where) + ": id " + std::to_string(id) + " is far beyond the " + std::to_string(entries) + " entries");
    if (static_cast<size_t>(id) >= tokens.size()) {
      tokens.resize(static_cast<size_t>(id) + 1);
      present.resize(static_cast<size_t>(id) + 1, false);
    }
    if (present[id]) {
      if (tokens[id] == text) return false;  // an added token repeating its vocab entry (GPT-2's <|endoftext|>)
      fail(file, std::string(where) + ": duplicate vocabulary entries for id " + std::to_string(id) + " (" + quoted_for_message(tokens[id]) +
                     " and " + quoted_for_message(text) + ")");
    }
    if (auto [it, fresh] = ids.emplace(text, id); !fresh)
      fail(file, std::string(where) + ": duplicate vocabulary entries: " + quoted_for_message(text) + " has ids " + std::to_string(it->second) +
                     " and " + std::to_string(id));
    tokens[id] = text;
    present[id] = true;
    return true;
  };
  for (auto it = vocab->begin(); it != vocab->end(); ++it) place(id_of(it.value(), "vocab entry " + quoted_for_message(it.key()), file), it.key(), "vocab");

  std::vector<std::pair<int32_t, bool>> added_ids;  // id, special
  if (added && !added->is_null()) {
    if (!added->is_array()) fail(file, "\"added_tokens\" must be a list");
    for (const json& t : *added) {
      const int32_t id = id_of(member(t, "id") ? t["id"] : json(), "an added token's \"id\"", file);
      const std::string content = string_at(t, "content", "an added token", file);
      if (content.empty()) fail(file, "added token " + std::to_string(id) + " has empty content");
      place(id, content, "added_tokens");
      added_ids.emplace_back(id, bool_at(t, "special", false, "an added token", file));
    }
  }
  const size_t n = tokens.size();
  if (n == 0) fail(file, "the vocabulary is empty");
  v.types.assign(n, TokenType::kNormal);
  for (size_t i = 0; i < n; ++i)
    if (!present[i]) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.types[i] = TokenType::kUnused;
    }
  for (auto [id, special] : added_ids) v.types[id] = special ? TokenType::kControl : TokenType::kUserDefined;
  v.tokens = std::move(tokens);

  const json* merges = member(*model, "merges");
  if (!merges || !merges->is_array()) fail(file, "the BPE model has no \"merges\" list");
  v.merges.reserve(merges->size());
  for (size_t r = 0; r < merges->size(); ++r) {
    const json& m = (*merges)[r];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t space = s.find(' ', 1);
      if (space == std::string::npos || space + 1 >= s.size() || s.find(' ', space + 1) != std::string::npos)
        fail(file, "merge " + std::to_string(r) + " " + quoted_for_message(s) + " is not two tokens separated by one space");
      v.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      v.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(file, "merge " + std::to_string(r) + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  const json* unk = member(*model, "unk_token");
  if (unk && unk->is_string()) {
    auto it = ids.find(unk->get<std::string>());
    if (it == ids.end()) fail(file, "unk_token " + quoted_for_message(unk->get<std::string>()) + " is not in the vocabulary");
    v.unk_id = it->second;
  }
  v.bos_id = template_bos(member(j, "post_processor"), ids, v.add_eos, v.add_bos_stated, file);
  // Without a template llama.cpp's converter writes no add_bos_token and llama.cpp falls back
  // to its pre-tokenizer default (BOS for llama-bpe): the same default here.
  v.add_bos = v.add_bos_stated ? v.bos_id >= 0 : v.pre_tokenizer == BpePreTokenizer::kLlama3;
  check_bpe_vocab(v, file);
  return v;
}

BpeVocab load_bpe_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(dir) / "tokenizer.json").string();
  BpeVocab v = bpe_vocab_from_tokenizer_json(read_json_file(path), path);
  std::error_code ec;
  const auto id_of_text = [&](const std::string& text) -> int32_t {
    for (size_t i = 0; i < v.tokens.size(); ++i)
      if (v.tokens[i] == text) return static_cast<int32_t>(i);
    return -1;
  };
  const std::string config = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::is_regular_file(config, ec)) {
    const json cfg = read_json_file(config);
    if (const std::string bos = config_token(cfg, "bos_token"); !bos.empty()) {
      const int32_t id = id_of_text(bos);
      if (id < 0) fail(config, "bos_token " + quoted_for_message(bos) + " is not in the vocabulary");
      v.bos_id = id;
    }
    if (const std::string eos = config_token(cfg, "eos_token"); !eos.empty()) {
      const int32_t id = id_of_text(eos);
      if (id < 0) fail(config, "eos_token " + quoted_for_message(eos) + " is not in the vocabulary");
      v.eos_id = id;
    }
    // pad_token as llama.cpp's converter writes it (tokenizer.ggml.padding_token_id); a name
    // the vocabulary lacks is skipped, as it does.
    if (const std::string pad = config_token(cfg, "pad_token"); !pad.empty()) v.pad_id = id_of_text(pad);
    // tokenizer_config.json's add_bos_token outranks the template, as in llama.cpp's converter.
    if (const json* add = member(cfg, "add_bos_token"); add && add->is_boolean()) {
      v.add_bos = add->get<bool>();
      v.add_bos_stated = true;
    }
  }
  // Ids tokenizer_config.json does not name come from config.json, as llama.cpp's converter
  // takes them (Qwen2.5: "bos_token": null there, bos_token_id 151643 in config.json).
  const std::string model_config = (fs::path(dir) / "config.json").string();
  if ((v.bos_id < 0 || v.eos_id < 0) && fs::is_regular_file(model_config, ec)) {
    const json cfg = read_json_file(model_config);
    for (auto [key, id] : {std::pair{"bos_token_id", &v.bos_id}, std::pair{"eos_token_id", &v.eos_id}}) {
      const json* value = member(cfg, key);
      if (*id >= 0 || !value || !value->is_number_integer()) continue;  // a list: generation_config.json's business
      const int32_t candidate = id_of(*value, std::string("config.json's ") + key, model_config);
      if (static_cast<size_t>(candidate) < v.size()) *id = candidate;
    }
  }
  const std::string generation = (fs::path(dir) / "generation_config.json").string();
  if (fs::is_regular_file(generation, ec)) {
    const json gen = read_json_file(generation);
    const json* eos = member(gen, "eos_token_id");
    std::vector<int32_t> list;
    if (eos && eos->is_array())
      for (const json& e : *eos) list.push_back(id_of(e, "generation_config.json's eos_token_id", generation));
    else if (eos && !eos->is_null())
      list.push_back(id_of(*eos, "generation_config.json's eos_token_id", generation));
    for (int32_t id : list) {
      if (static_cast<size_t>(id) >= v.size()) fail(generation, "eos_token_id " + std::to_string(id) + " is outside the vocabulary");
      if (v.eos_id < 0) v.eos_id = id;
      else if (id != v.eos_id) v.extra_eos_ids.push_back(id);
    }
  }
  check_bpe_vocab(v, path);
  return v;
}

json bpe_vocab_to_tokenizer_json(const BpeVocab& v) {
  json vocab = json::object();
  json added = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const TokenType t = v.types[i];
    if (t == TokenType::kControl || t == TokenType::kUserDefined) {
      added.push_back({{"id", i}, {"content", v.tokens[i]}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}, {"special", t == TokenType::kControl}});
    } else if (t == TokenType::kUnused && v.tokens[i] == "[PAD" + std::to_string(i) + "]") {
      continue;  // a converter's filler for an id the original vocabulary did not have
    } else {
      vocab[v.tokens[i]] = i;
    }
  }
  json merges = json::array();
  for (const auto& [a, b] : v.merges) merges.push_back(json::array({a, b}));

  const json byte_level_no_regex = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  const json byte_level_regex = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  json pre;
  switch (v.pre_tokenizer) {
    case BpePreTokenizer::kLlama3:
    case BpePreTokenizer::kQwen2:
      pre = {{"type", "Sequence"},
             {"pretokenizers",
              json::array({{{"type", "Split"}, {"pattern", {{"Regex", std::string(bpe_pre_tokenizer_regex(v.pre_tokenizer))}}},
                            {"behavior", "Isolated"}, {"invert", false}},
                           byte_level_no_regex})}};
      break;
    case BpePreTokenizer::kSmollm:
      pre = {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}}, byte_level_regex})}};
      break;
    case BpePreTokenizer::kGpt2: pre = byte_level_regex; break;
    case BpePreTokenizer::kDefault:
      throw Error("", "llama.cpp's 'default' pre-tokenizer has no tokenizer.json form");
  }
  json post = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  if (!v.add_bos && v.pre_tokenizer == BpePreTokenizer::kLlama3) {
    // A ByteLevel post-processor would read back as llama-bpe's default (BOS added): say "no BOS".
    post = {{"type", "TemplateProcessing"},
            {"single", json::array({{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
            {"pair", json::array({{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
            {"special_tokens", json::object()}};
  } else if (v.add_bos && v.bos_id >= 0) {
    const std::string& bos = v.tokens[static_cast<size_t>(v.bos_id)];
    json single = json::array({{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}});
    json pair = single;
    pair.push_back({{"SpecialToken", {{"id", bos}, {"type_id", 1}}}});
    pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
    json entry = json::object();
    entry["id"] = bos;
    entry["ids"] = json::array({v.bos_id});
    entry["tokens"] = json::array({bos});
    json specials = json::object();
    specials[bos] = entry;
    post = json::object();
    post["type"] = "TemplateProcessing";
    post["single"] = single;
    post["pair"] = pair;
    post["special_tokens"] = specials;
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      // Qwen2's tokenizer.json normalizes to NFC; GGUF does not record it (llama.cpp skips it).
      {"normalizer", v.nfc || v.pre_tokenizer == BpePreTokenizer::kQwen2 ? json{{"type", "NFC"}} : json(nullptr)},
      {"pre_tokenizer", pre},
      {"post_processor", post},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", v.unk_id >= 0 ? json(v.tokens[static_cast<size_t>(v.unk_id)]) : json(nullptr)},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", v.ignore_merges},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

}  // namespace lmforge
