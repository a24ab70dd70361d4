#include "generate/special_tokens.h"

namespace lmforge {

int32_t special_token_id(const Tokenizer& tok, std::string_view text) { return tok.special_token_id(text); }

std::vector<int32_t> tokenize_with_specials(const Tokenizer& tok, std::string_view text) {
  return tok.encode(text, false, false, /*parse_special=*/true);
}

}  // namespace lmforge
