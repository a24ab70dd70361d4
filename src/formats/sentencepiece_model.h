// SentencePiece's `tokenizer.model`: a serialized sentencepiece.ModelProto (protobuf).
// We read the fields a llama vocabulary needs with our own bounds-checked wire walker.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmforge {

struct SentencePieceModel {
  // Piece types use sentencepiece_model.proto's numbering, which GGUF's token_type copies:
  // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
  struct Piece {
    std::string piece;
    float score = 0.0f;
    int32_t type = 1;
  };
  std::vector<Piece> pieces;

  // TrainerSpec (field 2)
  int32_t model_type = 1;  // 1 unigram, 2 bpe, 3 word, 4 char
  int32_t vocab_size = 0;
  bool byte_fallback = false;
  bool split_digits = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  // NormalizerSpec (field 3)
  std::string normalizer_name;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Throws lmforge::Error (naming `file` and the byte offset) on malformed input.
SentencePieceModel parse_sentencepiece_model(std::span<const uint8_t> bytes, const std::string& file);

}  // namespace lmforge
