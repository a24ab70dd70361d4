// Byte-level BPE tokenizer (Llama 3, Qwen2, SmolLM, GPT-2), giving the ids llama.cpp gives on
// the same GGUF and the tokenizers library gives on the same tokenizer.json.
//
// encode: added tokens that are not special (user-defined) are cut out of the text first and
// become their ids (both references do this even without parse_special); each remaining
// fragment is normalized (NFC when the tokenizer.json asks), cut into words by the
// pre-tokenizer, and each word's bytes are written in the byte-level alphabet and merged:
// always the adjacent pair with the lowest merge rank, the leftmost among equals. With
// ignore_merges (Llama 3) a word that is itself a token is taken whole.
//
// decode: tokens' byte-level strings back to bytes, added tokens as their text, control tokens
// invisible; bytes that do not form UTF-8 become U+FFFD each.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe_vocab.h"
#include "tokenizer/tokenizer.h"

namespace lmforge {

class BpeTokenizer final : public Tokenizer {
 public:
  // Checks the vocabulary (check_bpe_vocab); errors name `file`.
  explicit BpeTokenizer(BpeVocab vocab, const std::string& file = "");

  const BpeVocab& vocab() const { return vocab_; }
  std::string_view kind() const override { return "gpt2"; }
  std::string description() const override;
  size_t size() const override { return vocab_.size(); }
  std::string decode(std::span<const int32_t> ids) const override;
  const std::string& piece(int32_t id) const override;
  std::string token_text(int32_t id) const override;
  int32_t piece_to_id(std::string_view piece) const override;
  TokenType token_type(int32_t id) const override;

 protected:
  std::vector<int32_t> encode_text(std::string_view text) const override;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  struct Scratch;

  void check_id(int32_t id) const;
  void encode_fragment(std::string_view text, Scratch& s, std::vector<int32_t>& out) const;
  void encode_word(std::string_view bytes, Scratch& s, std::vector<int32_t>& out) const;
  // Length of the longest user-defined token at the start of `s`, with its id; 0 when none.
  size_t match_user_defined(std::string_view s, int32_t& id) const;

  BpeVocab vocab_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;  // a repeated string: the last id, as llama.cpp
  std::unordered_map<uint64_t, Merge> merges_;                          // (left id, right id) -> rank and result
  std::array<int32_t, 256> byte_ids_{};                                  // id of each byte's character, -1 when absent
  std::vector<int32_t> user_defined_;                                    // longest first
  std::array<bool, 256> user_defined_first_byte_{};
};

}  // namespace lmforge
