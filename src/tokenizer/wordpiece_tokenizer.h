// The WordPiece (BERT) tokenizer: text to ids and back as Hugging Face's BertTokenizer(Fast)
// gives them.
//
// encode: the text is decoded from UTF-8 (each ill-formed byte is U+FFFD, which cleaning then
// drops); added tokens ([CLS], [MASK], ...) are cut out of the raw text first, leftmost and
// longest match first; each remaining stretch goes through the basic tokenizer
// (wordpiece_basic.h); each word becomes its longest vocabulary prefix, then the longest
// "##"-continuation of the rest, and so on; a word longer than max_input_chars_per_word
// characters, or one with a rest no continuation matches, is one [UNK].
// encode_for_model wraps the ids as [CLS] ... [SEP] and holds them to model_max_length.
//
// decode: tokens joined with spaces, "##" continuations glued to the token before, then Hugging
// Face's clean-up of spaces before punctuation and contractions when the settings ask for it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

class WordPieceTokenizer {
 public:
  // The vocabulary must be what load_wordpiece_vocab returns (valid special ids).
  explicit WordPieceTokenizer(WordPieceVocab vocab);

  const WordPieceVocab& vocab() const { return vocab_; }
  size_t size() const { return vocab_.size(); }

  // Ids of `text` without [CLS]/[SEP] (what `tokenize --lines` shows per line).
  std::vector<int32_t> encode(std::string_view text) const;

  // [CLS] ids [SEP], what the model is fed. Longer than model_max_length: with `truncate`, the
  // first model_max_length - 2 ids are kept; without, lmforge::Error names `source` and says
  // how many tokens there are and what the limit is.
  std::vector<int32_t> encode_for_model(std::string_view text, bool truncate, const std::string& source = "text") const;

  // Text of ids (BertTokenizerFast.decode). Throws lmforge::Error for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // The vocabulary's token for `id` ("hello", "##ing", "[CLS]"). Throws for a bad id.
  const std::string& token(int32_t id) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  void check_id(int32_t id) const;
  // Length of the longest added token at text[pos], and its index in vocab_.added; 0 when none.
  size_t match_added(std::u32string_view text, size_t pos, size_t& which) const;
  void encode_stretch(std::u32string_view text, std::vector<int32_t>& out) const;
  void encode_word(std::u32string_view word, std::vector<int32_t>& out) const;

  WordPieceVocab vocab_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
  std::vector<std::u32string> added_text_;  // vocab_.added[i].text as code points
  std::vector<bool> special_;               // per id: an added special token
  size_t longest_token_ = 0;                // bytes
};

}  // namespace lmforge
