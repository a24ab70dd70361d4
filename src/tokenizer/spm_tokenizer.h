// SentencePiece BPE tokenizer for the llama vocabulary, giving the ids libsentencepiece gives.
//
// encode: identity normalization (dummy prefix, spaces as U+2581, the model's whitespace
// flags), then the text is split into characters (user-defined pieces matched whole, longest
// first, and never merged), then adjacent symbols are merged repeatedly, always the pair whose
// joined text is the best-scoring piece (ties: the leftmost pair). Pieces of type unused take
// part in merging but are split back into the pieces they were made from. A symbol that is not
// in the vocabulary becomes one <0xXX> piece per byte with byte fallback; without it, each run
// of such symbols becomes one unknown id.
// Text that looks like a control piece ("<s>") is ordinary text.
//
// decode: pieces joined, U+2581 as space, the dummy prefix's space dropped, runs of byte pieces
// reassembled into UTF-8 (each ill-formed byte becomes U+FFFD), control pieces invisible.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace lmforge {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab);

  const Vocab& vocab() const { return vocab_; }
  std::string_view kind() const override { return "llama"; }
  std::string description() const override { return "SentencePiece BPE"; }
  size_t size() const override { return vocab_.size(); }
  TokenType token_type(int32_t id) const override;

  // The text the BPE step sees (U+2581 for spaces, dummy prefix added).
  std::string normalize(std::string_view text) const;

  // Text of a sequence of ids. Throws lmforge::Error for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids) const override;

  // The vocabulary's piece for `id` ("▁the", "<0x0A>", "<s>"). Throws for a bad id.
  const std::string& piece(int32_t id) const override;

  // What one token shows on its own, as llama.cpp's token_to_piece renders it: U+2581 as a
  // space, a byte piece as its raw byte, control and unknown pieces as their text.
  std::string token_text(int32_t id) const override;

  // libsentencepiece's PieceToId: control/unknown/byte pieces first, then the others, else
  // the unknown id.
  int32_t piece_to_id(std::string_view piece) const override;

 protected:
  std::vector<int32_t> encode_text(std::string_view text) const override;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using PieceMap = std::unordered_map<std::string, int32_t, Hash, std::equal_to<>>;

  void check_id(int32_t id) const;
  // Length of the longest user-defined piece at the start of `s`, 0 when none matches.
  size_t match_user_defined(std::string_view s) const;
  // BPE over normalized text; returns the final pieces as views into `normalized`.
  std::vector<std::string_view> bpe(std::string_view normalized) const;

  Vocab vocab_;
  PieceMap mergeable_;  // normal, user-defined and unused pieces (what merges may produce)
  PieceMap reserved_;   // control, unknown and byte pieces
  std::unordered_set<std::string, Hash, std::equal_to<>> user_defined_;
  std::vector<size_t> user_defined_lengths_;  // distinct lengths, longest first
  std::array<int32_t, 256> byte_ids_{};       // id of <0xXX> for each byte
  std::vector<int16_t> byte_value_;           // byte of each well-formed byte piece, else -1
};

}  // namespace lmforge
