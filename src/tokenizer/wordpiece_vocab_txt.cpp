#include "tokenizer/wordpiece_vocab_txt.h"

#include <unordered_map>

#include "core/error.h"
#include "core/text_checks.h"
#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

std::vector<std::string> parse_vocab_txt(std::string_view bytes, const std::string& file) {
  if (bytes.empty()) fail(file, "the vocabulary is empty");
  if (const auto bad = find_invalid_utf8(bytes)) fail(file, "the vocabulary is not valid UTF-8", *bad);
  std::vector<std::string> tokens;
  std::unordered_map<std::string_view, size_t> first_line;  // token -> its byte offset
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t end = pos;
    while (end < bytes.size() && bytes[end] != '\n' && bytes[end] != '\r') ++end;
    const std::string_view token = bytes.substr(pos, end - pos);
    if (token.size() > kMaxWordPieceTokenBytes)
      fail(file, "a token is longer than " + std::to_string(kMaxWordPieceTokenBytes) + " bytes", pos);
    if (tokens.size() >= kMaxWordPieceTokens)
      fail(file, "the vocabulary has more than " + std::to_string(kMaxWordPieceTokens) + " tokens", pos);
    const auto [it, fresh] = first_line.emplace(token, pos);
    if (!fresh)
      fail(file, "token " + quoted_for_message(token) + " appears twice (first at byte " + std::to_string(it->second) +
                     ")", pos);
    tokens.emplace_back(token);
    if (end < bytes.size() && bytes[end] == '\r' && end + 1 < bytes.size() && bytes[end + 1] == '\n') ++end;
    pos = end + 1;
  }
  return tokens;
}

}  // namespace lmforge
