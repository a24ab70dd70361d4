#include "tokenizer/wordpiece_vocab.h"

#include <filesystem>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/json_strict.h"
#include "tokenizer/wordpiece_json.h"
#include "tokenizer/wordpiece_vocab_txt.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::vector<std::string> read_vocab_txt(const std::string& path) {
  const auto file = MappedFile::open(path);
  if (file->size() > kMaxWordPieceFileBytes)
    fail(path, "the vocabulary is larger than " + std::to_string(kMaxWordPieceFileBytes >> 20) + " MiB");
  const auto bytes = file->bytes();
  return parse_vocab_txt({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path);
}

// The id of `token`, or -1.
int32_t find_id(const std::unordered_map<std::string_view, int32_t>& ids, const std::string& token) {
  auto it = ids.find(token);
  return it == ids.end() ? -1 : it->second;
}

int32_t required_id(const std::unordered_map<std::string_view, int32_t>& ids, const std::string& token,
                    const char* role, const std::string& file) {
  const int32_t id = find_id(ids, token);
  if (id < 0) fail(file, std::string("the vocabulary has no ") + role + " token " + quoted_for_message(token));
  return id;
}

}  // namespace

bool has_wordpiece_files(const std::string& folder) {
  return is_file(fs::path(folder) / "vocab.txt") || is_file(fs::path(folder) / "tokenizer.json");
}

WordPieceVocab load_wordpiece_vocab(const std::string& folder) {
  const std::string vocab_path = (fs::path(folder) / "vocab.txt").string();
  const std::string config_path = (fs::path(folder) / "tokenizer_config.json").string();
  const std::string json_path = (fs::path(folder) / "tokenizer.json").string();

  WordPieceVocab v;
  std::optional<WordPieceJsonFile> tj;
  if (is_file(json_path)) {
    tj = parse_wordpiece_tokenizer_json(read_json_file(json_path, kMaxWordPieceFileBytes), json_path);
    v.tokens = tj->tokens;
    if (is_file(vocab_path)) {
      const auto txt = read_vocab_txt(vocab_path);
      if (txt.size() != v.tokens.size())
        fail(vocab_path, "has " + std::to_string(txt.size()) + " tokens but tokenizer.json has " +
                             std::to_string(v.tokens.size()));
      for (size_t i = 0; i < txt.size(); ++i)
        if (txt[i] != v.tokens[i])
          fail(vocab_path, "token " + std::to_string(i) + " is " + quoted_for_message(txt[i]) + " but tokenizer.json has " +
                               quoted_for_message(v.tokens[i]));
    }
  } else if (is_file(vocab_path)) {
    v.tokens = read_vocab_txt(vocab_path);
  } else {
    fail(folder, "no vocab.txt or tokenizer.json: not a WordPiece (BERT) tokenizer folder");
  }
  const WordPieceConfigFile cfg =
      is_file(config_path) ? parse_wordpiece_config(read_json_file(config_path, kMaxWordPieceFileBytes), config_path)
                           : WordPieceConfigFile{};

  WordPieceSettings& s = v.settings;
  if (tj) {
    s.continuing_prefix = tj->continuing_prefix;
    s.max_input_chars_per_word = tj->max_input_chars_per_word;
    if (tj->has_normalizer) {
      s.clean_text = tj->clean_text;
      s.lowercase = tj->lowercase;
      s.strip_accents = tj->strip_accents;
      s.tokenize_chinese_chars = tj->handle_chinese_chars;
    }
  }
  // tokenizer_config.json overrides the normalizer, as BertTokenizerFast does when it loads.
  if (cfg.do_lower_case) s.lowercase = *cfg.do_lower_case;
  if (cfg.strip_accents) s.strip_accents = *cfg.strip_accents;
  if (cfg.tokenize_chinese_chars) s.tokenize_chinese_chars = *cfg.tokenize_chinese_chars;
  if (cfg.model_max_length) s.model_max_length = *cfg.model_max_length;
  s.clean_up_tokenization_spaces = cfg.clean_up_tokenization_spaces.value_or(true);
  s.decoder_cleanup = tj ? tj->decoder_cleanup.value_or(true) : true;

  std::unordered_map<std::string_view, int32_t> ids;
  ids.reserve(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) ids.emplace(v.tokens[i], static_cast<int32_t>(i));
  const std::string& settings_file = is_file(config_path) ? config_path : (tj ? json_path : vocab_path);
  v.unk_id = required_id(ids, cfg.unk_token.value_or(tj ? tj->unk_token : "[UNK]"), "unknown", settings_file);
  v.cls_id = required_id(ids, cfg.cls_token.value_or("[CLS]"), "classifier", settings_file);
  v.sep_id = required_id(ids, cfg.sep_token.value_or("[SEP]"), "separator", settings_file);
  v.pad_id = find_id(ids, cfg.pad_token.value_or("[PAD]"));
  v.mask_id = find_id(ids, cfg.mask_token.value_or("[MASK]"));

  // Tokens matched whole in the raw text.
  auto check_added = [&](const WordPieceAddedToken& t, const std::string& file) {
    if (static_cast<size_t>(t.id) >= v.tokens.size() || v.tokens[static_cast<size_t>(t.id)] != t.text)
      fail(file, "added token " + quoted_for_message(t.text) + " (id " + std::to_string(t.id) +
                     ") is not that token of the vocabulary; tokens beyond the vocabulary are not supported");
  };
  if (tj && !tj->added_tokens.empty()) {
    for (const auto& t : tj->added_tokens) check_added(t, json_path);
    v.added = tj->added_tokens;
  } else if (!cfg.added_tokens_decoder.empty()) {
    for (const auto& t : cfg.added_tokens_decoder) check_added(t, config_path);
    v.added = cfg.added_tokens_decoder;
  } else {
    // BertTokenizer splits its special tokens out of the text before anything else.
    std::vector<int32_t> special = {v.unk_id, v.cls_id, v.sep_id, v.pad_id, v.mask_id};
    for (const auto& extra : cfg.additional_special_tokens) special.push_back(find_id(ids, extra));
    for (int32_t id : special) {
      if (id < 0) continue;
      bool dup = false;
      for (const auto& a : v.added) dup = dup || a.id == id;
      if (!dup) v.added.push_back({v.tokens[static_cast<size_t>(id)], id, true, false, false});
    }
  }
  return v;
}

}  // namespace lmforge
