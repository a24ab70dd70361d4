// Text of generated tokens as they arrive, in pieces that are always whole UTF-8: a token that
// ends inside a multi-byte character (a byte-fallback piece such as <0xE2>) releases nothing
// until the character is complete.
//
// Each push decodes the whole sequence after a context token (the token before the first
// streamed one, so that the first piece keeps its leading space, which SentencePiece's decode
// drops at the start of a text) and releases what was gained since the last release. A piece
// is released only while what was released stays a prefix of the decoded text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lmforge {

class TextStreamer {
 public:
  TextStreamer(const Tokenizer& tok, int32_t context);

  // Adds a token; returns the text it releases (often all of its own text, empty while a
  // character is unfinished, sometimes the text of several tokens at once).
  std::string push(int32_t id);

  // Everything released so far.
  const std::string& released() const { return released_; }

 private:
  const Tokenizer& tok_;
  std::vector<int32_t> ids_;
  std::string base_, released_;
};

}  // namespace lmforge
