#include "generate/special_tokens.h"

#include <string>

namespace lmforge {

namespace {

bool is_special(TokenType t) { return t == TokenType::kControl || t == TokenType::kUserDefined; }

}  // namespace

int32_t special_token_id(const SpmTokenizer& tok, std::string_view text) {
  const Vocab& v = tok.vocab();
  for (size_t i = 0; i < v.size(); ++i)
    if (is_special(v.types[i]) && v.pieces[i] == text) return static_cast<int32_t>(i);
  return -1;
}

std::vector<int32_t> tokenize_with_specials(const SpmTokenizer& tok, std::string_view text) {
  const Vocab& v = tok.vocab();
  std::vector<int32_t> specials;  // a vocabulary has few; scanning them at each byte is cheap
  for (size_t id = 0; id < v.size(); ++id)
    if (is_special(v.types[id]) && !v.pieces[id].empty()) specials.push_back(static_cast<int32_t>(id));

  std::vector<int32_t> out;
  const auto encode_plain = [&](std::string_view fragment) {
    if (fragment.empty()) return;
    const auto ids = tok.encode(fragment);
    out.insert(out.end(), ids.begin(), ids.end());
  };
  size_t fragment_start = 0;  // start of the plain text not yet encoded
  size_t i = 0;
  while (i < text.size()) {
    int32_t best = -1;  // the longest special piece starting at i
    size_t best_len = 0;
    for (int32_t id : specials) {
      const std::string& p = v.pieces[static_cast<size_t>(id)];
      if (p.size() > best_len && text.compare(i, p.size(), p) == 0) {
        best = id;
        best_len = p.size();
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    encode_plain(text.substr(fragment_start, i - fragment_start));
    out.push_back(best);
    i += best_len;
    fragment_start = i;
  }
  encode_plain(text.substr(fragment_start));
  return out;
}

}  // namespace lmforge
