// A BERT (WordPiece) vocabulary with the settings that decide how text is split, as a Hugging
// Face folder describes them: vocab.txt, tokenizer_config.json and, when present,
// tokenizer.json (whose "model" must be {"type": "WordPiece"}).
//
// Which file wins: the vocabulary comes from tokenizer.json when it has one (it is what the
// fast tokenizer loads), else from vocab.txt, and both must agree when both exist;
// tokenizer_config.json's do_lower_case, strip_accents and tokenize_chinese_chars (absent:
// true, null, true) override tokenizer.json's BertNormalizer, as BertTokenizerFast does on
// loading, unless tokenizer_class is the generic PreTrainedTokenizerFast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lmforge {

struct WordPieceSettings {
  bool clean_text = true;              // drop NUL, U+FFFD and control characters; whitespace to ' '
  bool lowercase = true;               // do_lower_case
  std::optional<bool> strip_accents;   // nullopt: follow `lowercase` (BertTokenizer's None)
  bool tokenize_chinese_chars = true;  // spaces around CJK ideographs
  std::string continuing_prefix = "##";
  size_t max_input_chars_per_word = 100;  // longer words become [UNK]
  size_t model_max_length = 512;          // ids per sequence, [CLS] and [SEP] included
  // decode(): the WordPiece decoder's cleanup of each token (" ." -> "."), then the whole text's
  // (clean_up_tokenization_spaces, which also joins " ' " and the like).
  bool decoder_cleanup = true;
  bool clean_up_tokenization_spaces = true;

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

// A token matched whole in the raw text before any normalization ([CLS], [MASK], ...), as
// Hugging Face's added tokens are. lstrip/rstrip swallow the whitespace beside a match.
struct WordPieceAddedToken {
  std::string text;
  int32_t id = -1;
  bool special = true;  // dropped by decode(skip_special_tokens)
  bool lstrip = false;
  bool rstrip = false;
};

struct WordPieceVocab {
  std::vector<std::string> tokens;  // id -> token text
  int32_t unk_id = -1;              // always valid once loaded
  int32_t cls_id = -1;
  int32_t sep_id = -1;
  int32_t pad_id = -1;   // -1: none
  int32_t mask_id = -1;  // -1: none
  std::vector<WordPieceAddedToken> added;
  WordPieceSettings settings;

  size_t size() const { return tokens.size(); }
};

// Limits on what the readers accept, far above any real BERT vocabulary.
inline constexpr uint64_t kMaxWordPieceFileBytes = 64u << 20;
inline constexpr size_t kMaxWordPieceTokens = 4u << 20;
inline constexpr size_t kMaxWordPieceTokenBytes = 1024;

// The folder's files, read and cross-checked. Throws lmforge::Error (file and byte) on
// anything it cannot trust: missing or duplicate tokens, missing [UNK]/[CLS]/[SEP], invalid
// UTF-8, files over the limits, settings of the wrong type, a tokenizer.json whose model,
// normalizer or pre-tokenizer is not BERT's.
WordPieceVocab load_wordpiece_vocab(const std::string& folder);

// Whether `folder` looks like a WordPiece tokenizer (has vocab.txt, or a tokenizer.json);
// callers use it to route a Hugging Face folder before loading.
bool has_wordpiece_files(const std::string& folder);

}  // namespace lmforge
