// The two JSON files of a BERT tokenizer folder, each read into what it says (every field
// optional, types checked); load_wordpiece_vocab decides which file wins.
//
// tokenizer_config.json: do_lower_case, strip_accents (null or bool), tokenize_chinese_chars,
// model_max_length, clean_up_tokenization_spaces, tokenizer_class, the special tokens (a string or an
// AddedToken object), never_split, additional_special_tokens and added_tokens_decoder.
// tokenizer.json: "model" must be WordPiece (vocab, unk_token, continuing_subword_prefix,
// max_input_chars_per_word); the normalizer, when there is one, BertNormalizer; the
// pre-tokenizer BertPreTokenizer; "added_tokens"; the WordPiece decoder's cleanup flag.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

struct WordPieceConfigFile {
  std::optional<bool> do_lower_case;
  std::optional<std::optional<bool>> strip_accents;  // outer: present; inner: null or a value
  std::optional<bool> tokenize_chinese_chars;
  std::optional<size_t> model_max_length;  // absent when missing or Hugging Face's "unlimited"
  std::optional<bool> clean_up_tokenization_spaces;
  std::optional<std::string> tokenizer_class;  // "BertTokenizer", "PreTrainedTokenizerFast", ...
  std::optional<std::string> unk_token, cls_token, sep_token, pad_token, mask_token;
  std::vector<std::string> never_split;
  std::vector<std::string> additional_special_tokens;
  std::vector<WordPieceAddedToken> added_tokens_decoder;
};

WordPieceConfigFile parse_wordpiece_config(const nlohmann::json& j, const std::string& file);

struct WordPieceJsonFile {
  std::vector<std::string> tokens;  // dense ids 0..n-1
  std::string unk_token;
  std::string continuing_prefix = "##";
  size_t max_input_chars_per_word = 100;
  bool has_normalizer = false;
  bool clean_text = true;
  bool lowercase = true;
  std::optional<bool> strip_accents;
  bool handle_chinese_chars = true;
  std::vector<WordPieceAddedToken> added_tokens;
  std::optional<bool> decoder_cleanup;
};

WordPieceJsonFile parse_wordpiece_tokenizer_json(const nlohmann::json& j, const std::string& file);

}  // namespace lmforge
