#include "tokenizer/wordpiece_folder.h"

#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge {

namespace {

using IdMap = std::unordered_map<std::string_view, int32_t>;

int32_t find_id(const IdMap& ids, const std::string& token) {
  auto it = ids.find(token);
  return it == ids.end() ? -1 : it->second;
}

int32_t required_id(const IdMap& ids, const std::string& token, const char* role, const std::string& file) {
  const int32_t id = find_id(ids, token);
  if (id < 0) fail(file, std::string("the vocabulary has no ") + role + " token " + quoted_for_message(token));
  return id;
}

}  // namespace

WordPieceVocab assemble_wordpiece_vocab(const WordPieceFolderFiles& f) {
  WordPieceVocab v;
  const auto& tj = f.tokenizer_json;
  if (tj) {
    v.tokens = tj->tokens;
    if (f.vocab_txt) {
      const auto& txt = *f.vocab_txt;
      if (txt.size() != v.tokens.size())
        fail(f.vocab_path, "has " + std::to_string(txt.size()) + " tokens but tokenizer.json has " +
                               std::to_string(v.tokens.size()));
      for (size_t i = 0; i < txt.size(); ++i)
        if (txt[i] != v.tokens[i])
          fail(f.vocab_path, "token " + std::to_string(i) + " is " + quoted_for_message(txt[i]) +
                                 " but tokenizer.json has " + quoted_for_message(v.tokens[i]));
    }
  } else if (f.vocab_txt) {
    v.tokens = *f.vocab_txt;
  } else {
    fail(f.folder, "no vocab.txt or tokenizer.json: not a WordPiece (BERT) tokenizer folder");
  }
  const WordPieceConfigFile cfg = f.config.value_or(WordPieceConfigFile{});

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
  // BertTokenizerFast (and its DistilBERT/ELECTRA/... twins) rebuilds the normalizer from its
  // own arguments when they differ from tokenizer.json's: tokenizer_config.json's values, else
  // its defaults (lower-case, strip_accents None, CJK split). Only the generic
  // PreTrainedTokenizerFast keeps tokenizer.json's normalizer as it is.
  if (!tj || !tj->has_normalizer || cfg.tokenizer_class.value_or("") != "PreTrainedTokenizerFast") {
    s.lowercase = cfg.do_lower_case.value_or(true);
    s.strip_accents = cfg.strip_accents.value_or(std::nullopt);
    s.tokenize_chinese_chars = cfg.tokenize_chinese_chars.value_or(true);
  }
  if (cfg.model_max_length) s.model_max_length = *cfg.model_max_length;
  s.clean_up_tokenization_spaces = cfg.clean_up_tokenization_spaces.value_or(true);
  s.decoder_cleanup = tj ? tj->decoder_cleanup.value_or(true) : true;

  IdMap ids;
  ids.reserve(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) ids.emplace(v.tokens[i], static_cast<int32_t>(i));
  if (ids.size() != v.tokens.size()) fail(tj ? f.json_path : f.vocab_path, "a token appears twice");
  const std::string& settings_file = f.config ? f.config_path : (tj ? f.json_path : f.vocab_path);
  v.unk_id = required_id(ids, cfg.unk_token.value_or(tj ? tj->unk_token : "[UNK]"), "unknown", settings_file);
  v.cls_id = required_id(ids, cfg.cls_token.value_or("[CLS]"), "classifier", settings_file);
  v.sep_id = required_id(ids, cfg.sep_token.value_or("[SEP]"), "separator", settings_file);
  v.pad_id = find_id(ids, cfg.pad_token.value_or("[PAD]"));
  v.mask_id = find_id(ids, cfg.mask_token.value_or("[MASK]"));

  // Tokens matched whole in the raw text.
  const auto check_added = [&](const WordPieceAddedToken& t, const std::string& file) {
    if (static_cast<size_t>(t.id) >= v.tokens.size() || v.tokens[static_cast<size_t>(t.id)] != t.text)
      fail(file, "added token " + quoted_for_message(t.text) + " (id " + std::to_string(t.id) +
                     ") is not that token of the vocabulary; tokens beyond the vocabulary are not supported");
  };
  if (tj && !tj->added_tokens.empty()) {
    for (const auto& t : tj->added_tokens) check_added(t, f.json_path);
    v.added = tj->added_tokens;
  } else if (!cfg.added_tokens_decoder.empty()) {
    for (const auto& t : cfg.added_tokens_decoder) check_added(t, f.config_path);
    v.added = cfg.added_tokens_decoder;
  } else {
    // BertTokenizer cuts its special tokens out of the text before anything else.
    std::vector<int32_t> special = {v.unk_id, v.cls_id, v.sep_id, v.pad_id, v.mask_id};
    for (const auto& extra : cfg.additional_special_tokens) special.push_back(find_id(ids, extra));
    for (int32_t id : special) {
      if (id < 0) continue;
      bool seen = false;
      for (const auto& a : v.added) seen = seen || a.id == id;
      if (!seen) v.added.push_back({v.tokens[static_cast<size_t>(id)], id, true, false, false});
    }
  }
  return v;
}

}  // namespace lmforge
