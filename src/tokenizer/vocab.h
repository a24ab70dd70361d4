// A SentencePiece vocabulary as the tokenizer uses it: pieces, scores, piece types, special ids
// and the normalizer flags, built from GGUF `tokenizer.ggml.*` keys or from `tokenizer.model`.
//
// Both sources end in the same struct so that the tokenizer has one code path; what GGUF does
// not record (the normalizer flags, byte fallback) is filled in with llama.cpp's conventions
// for SentencePiece vocabularies.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "formats/sentencepiece_model.h"

namespace lmforge {

class GgufReader;

// sentencepiece_model.proto's piece types, which GGUF's token_type copies.
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct Vocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;

  int32_t unk_id = 0;   // always a valid id
  int32_t bos_id = -1;  // -1: the vocabulary has none
  int32_t eos_id = -1;
  int32_t pad_id = -1;
  // Every id that ends generation (llama.cpp's "EOG" set): eos_id, GGUF's eot/eom ids and
  // the control tokens llama.cpp recognises by their text (<|eot_id|>, <|im_end|>, ...).
  std::vector<int32_t> eog_ids;
  bool add_bos = true;  // what `tokenize` does by default (GGUF add_bos_token)
  bool add_eos = false;

  // Normalizer flags (NormalizerSpec). Only the identity normalization is supported.
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = false;
  bool escape_whitespaces = true;
  // Characters outside the vocabulary become <0xXX> pieces instead of the unknown id.
  bool byte_fallback = false;

  size_t size() const { return pieces.size(); }
  // Whether drawing `id` ends the text (eos_id also when eog_ids was never filled in).
  bool is_end_of_generation(int32_t id) const;
};

// Whether llama.cpp takes a control token with this text for an end of generation.
bool is_end_of_generation_text(std::string_view text);

// The end-of-generation ids of `v` (see Vocab::eog_ids), given its eos id and GGUF's
// `extra` ids (eot, eom; -1 for none), sorted.
std::vector<int32_t> end_of_generation_ids(const Vocab& v, std::initializer_list<int32_t> extra);

// From a parsed tokenizer.model. Refuses what the tokenizer cannot reproduce exactly: models
// other than BPE, normalization rules other than identity, a missing unknown piece.
Vocab vocab_from_sentencepiece(const SentencePieceModel& model, const std::string& file);

// From a GGUF file's `tokenizer.ggml.*` keys (model "llama"), as llama.cpp reads them: the
// dummy prefix follows `tokenizer.ggml.add_space_prefix` (default true), extra whitespace is
// kept, byte fallback is on when the vocabulary has byte pieces.
Vocab vocab_from_gguf(const GgufReader& gguf, const std::string& file);

// `path` is a GGUF file, a Hugging Face folder (its tokenizer.model) or a tokenizer.model
// file; recognised by content.
Vocab load_vocab(const std::string& path);

}  // namespace lmforge
