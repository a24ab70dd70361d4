#include "tokenizer/wordpiece_json.h"

#include <cmath>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge {

namespace {

using nlohmann::json;

const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<bool> optional_bool(const json& j, const char* key, const std::string& file) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_boolean()) fail(file, std::string("\"") + key + "\" must be true or false");
  return v->get<bool>();
}

// A string (checked for length) at `key`, or nullopt.
std::optional<std::string> optional_string(const json& j, const char* key, const std::string& file) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) fail(file, std::string("\"") + key + "\" must be a string");
  auto s = v->get<std::string>();
  if (s.size() > kMaxWordPieceTokenBytes) fail(file, std::string("\"") + key + "\" is too long");
  return s;
}

// A special token as tokenizer_config.json writes it: "[CLS]" or {"content": "[CLS]", ...}.
std::optional<std::string> special_token(const json& j, const char* key, const std::string& file) {
  const json* v = member(j, key);
  if (v && v->is_object()) return optional_string(*v, "content", file);
  return optional_string(j, key, file);
}

std::vector<std::string> string_list(const json& j, const char* key, const std::string& file) {
  std::vector<std::string> out;
  const json* v = member(j, key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) fail(file, std::string("\"") + key + "\" must be a list");
  for (const auto& e : *v) {
    const json* s = &e;
    if (e.is_object()) {
      s = member(e, "content");
      if (!s) fail(file, std::string("an entry of \"") + key + "\" has no \"content\"");
    }
    if (!s->is_string()) fail(file, std::string("\"") + key + "\" must list strings");
    if (s->get_ref<const std::string&>().size() > kMaxWordPieceTokenBytes)
      fail(file, std::string("an entry of \"") + key + "\" is too long");
    out.push_back(s->get<std::string>());
  }
  return out;
}

int32_t token_id(const json& v, const std::string& what, const std::string& file) {
  if (!v.is_number_integer()) fail(file, what + " must be an integer id");
  const auto id = v.get<int64_t>();
  if (id < 0 || id >= static_cast<int64_t>(kMaxWordPieceTokens)) fail(file, what + " is out of range");
  return static_cast<int32_t>(id);
}

WordPieceAddedToken added_token(const json& e, int32_t id, const std::string& file) {
  if (!e.is_object()) fail(file, "an added token must be an object");
  WordPieceAddedToken t;
  auto content = optional_string(e, "content", file);
  if (!content || content->empty()) fail(file, "an added token has no \"content\"");
  t.text = *content;
  t.id = id;
  t.special = optional_bool(e, "special", file).value_or(false);
  t.lstrip = optional_bool(e, "lstrip", file).value_or(false);
  t.rstrip = optional_bool(e, "rstrip", file).value_or(false);
  return t;
}

// "type" of an object member (normalizer, pre_tokenizer, ...), or "" when null/absent.
std::string component_type(const json& j, const char* key, const std::string& file) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return "";
  if (!v->is_object()) fail(file, std::string("\"") + key + "\" must be an object");
  auto t = optional_string(*v, "type", file);
  if (!t) fail(file, std::string("\"") + key + "\" has no \"type\"");
  return *t;
}

}  // namespace

WordPieceConfigFile parse_wordpiece_config(const json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "the tokenizer settings must be a JSON object");
  WordPieceConfigFile c;
  c.do_lower_case = optional_bool(j, "do_lower_case", file);
  if (const json* v = member(j, "strip_accents")) {
    if (v->is_null()) c.strip_accents = std::optional<bool>();
    else if (v->is_boolean()) c.strip_accents = std::optional<bool>(v->get<bool>());
    else fail(file, "\"strip_accents\" must be true, false or null");
  }
  c.tokenize_chinese_chars = optional_bool(j, "tokenize_chinese_chars", file);
  c.clean_up_tokenization_spaces = optional_bool(j, "clean_up_tokenization_spaces", file);
  c.tokenizer_class = optional_string(j, "tokenizer_class", file);
  if (const json* v = member(j, "model_max_length"); v && !v->is_null()) {
    if (!v->is_number()) fail(file, "\"model_max_length\" must be a number");
    const double d = v->get<double>();
    // Hugging Face writes int(1e30) for "no limit"; the limit then comes from the model.
    if (!(d >= 2) || (d <= 1e6 && d != std::floor(d)))
      fail(file, "\"model_max_length\" must be a whole number of at least 2");
    if (d <= 1e6) c.model_max_length = static_cast<size_t>(d);
  }
  c.unk_token = special_token(j, "unk_token", file);
  c.cls_token = special_token(j, "cls_token", file);
  c.sep_token = special_token(j, "sep_token", file);
  c.pad_token = special_token(j, "pad_token", file);
  c.mask_token = special_token(j, "mask_token", file);
  c.never_split = string_list(j, "never_split", file);
  c.additional_special_tokens = string_list(j, "additional_special_tokens", file);
  if (const json* v = member(j, "added_tokens_decoder"); v && !v->is_null()) {
    if (!v->is_object()) fail(file, "\"added_tokens_decoder\" must be an object");
    for (const auto& [key, e] : v->items()) {
      int64_t id = -1;
      size_t used = 0;
      try {
        id = std::stoll(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || key.empty() || id < 0 || id >= static_cast<int64_t>(kMaxWordPieceTokens))
        fail(file, "\"added_tokens_decoder\" key " + quoted_for_message(key) + " is not a token id");
      c.added_tokens_decoder.push_back(added_token(e, static_cast<int32_t>(id), file));
    }
  }
  return c;
}

WordPieceJsonFile parse_wordpiece_tokenizer_json(const json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "tokenizer.json must be a JSON object");
  const json* model = member(j, "model");
  if (!model || !model->is_object()) fail(file, "tokenizer.json has no \"model\"");
  const auto type = optional_string(*model, "type", file);
  if (!type || *type != "WordPiece")
    fail(file, "the tokenizer model is " + quoted_for_message(type.value_or("unnamed")) + ", not WordPiece");
  WordPieceJsonFile t;
  t.unk_token = optional_string(*model, "unk_token", file).value_or("[UNK]");
  if (auto p = optional_string(*model, "continuing_subword_prefix", file)) t.continuing_prefix = *p;
  if (const json* v = member(*model, "max_input_chars_per_word"); v && !v->is_null()) {
    if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > (1 << 20))
      fail(file, "\"max_input_chars_per_word\" must be a whole number from 1 to 1048576");
    t.max_input_chars_per_word = static_cast<size_t>(v->get<int64_t>());
  }
  const json* vocab = member(*model, "vocab");
  if (!vocab || !vocab->is_object()) fail(file, "the WordPiece model has no \"vocab\" object");
  if (vocab->empty()) fail(file, "the vocabulary is empty");
  if (vocab->size() > kMaxWordPieceTokens)
    fail(file, "the vocabulary has more than " + std::to_string(kMaxWordPieceTokens) + " tokens");
  t.tokens.assign(vocab->size(), std::string());
  std::vector<bool> seen(vocab->size(), false);
  for (const auto& [token, id_value] : vocab->items()) {
    const int32_t id = token_id(id_value, "the id of token " + quoted_for_message(token), file);
    if (static_cast<size_t>(id) >= seen.size())
      fail(file, "token " + quoted_for_message(token) + " has id " + std::to_string(id) + ", beyond the " +
                     std::to_string(seen.size()) + " tokens");
    if (seen[static_cast<size_t>(id)])
      fail(file, "id " + std::to_string(id) + " is given to two tokens (one is " + quoted_for_message(token) + ")");
    if (token.size() > kMaxWordPieceTokenBytes) fail(file, "token id " + std::to_string(id) + " is too long");
    seen[static_cast<size_t>(id)] = true;
    t.tokens[static_cast<size_t>(id)] = token;
  }

  const std::string normalizer = component_type(j, "normalizer", file);
  if (!normalizer.empty()) {
    if (normalizer != "BertNormalizer")
      fail(file, "normalizer " + quoted_for_message(normalizer) + " is not supported; only BertNormalizer is");
    const json& n = j["normalizer"];
    t.has_normalizer = true;
    t.clean_text = optional_bool(n, "clean_text", file).value_or(true);
    t.lowercase = optional_bool(n, "lowercase", file).value_or(true);
    t.strip_accents = optional_bool(n, "strip_accents", file);
    t.handle_chinese_chars = optional_bool(n, "handle_chinese_chars", file).value_or(true);
  }
  const std::string pre = component_type(j, "pre_tokenizer", file);
  if (pre != "BertPreTokenizer")
    fail(file, "pre-tokenizer " + quoted_for_message(pre.empty() ? "none" : pre) +
                   " is not supported; only BertPreTokenizer is");
  if (component_type(j, "decoder", file) == "WordPiece") t.decoder_cleanup = optional_bool(j["decoder"], "cleanup", file);

  if (const json* added = member(j, "added_tokens"); added && !added->is_null()) {
    if (!added->is_array()) fail(file, "\"added_tokens\" must be a list");
    for (const auto& e : *added) {
      if (!e.is_object() || !member(e, "id")) fail(file, "an added token has no \"id\"");
      t.added_tokens.push_back(added_token(e, token_id(e["id"], "an added token's id", file), file));
    }
  }
  return t;
}

}  // namespace lmforge
