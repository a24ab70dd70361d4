// vocab.txt: one token per line, the line number is the id.
//
// Lines end at \n, \r\n or a lone \r, as Python's universal newlines read them (so a token can
// never contain \r or \n); a final line without a newline is a token; an empty line is the
// token "" (Hugging Face keeps it, and it shifts every later id). Refused, with the byte
// offset: invalid UTF-8, a token seen twice (two ids for one text), tokens over
// kMaxWordPieceTokenBytes, more than kMaxWordPieceTokens lines, an empty file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

std::vector<std::string> parse_vocab_txt(std::string_view bytes, const std::string& file);

}  // namespace lmforge
