#include "serve/api_key.h"

#include <cctype>

namespace lmforge::serve {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of `a` is compared against b (cycled), and the length difference is folded into
  // the result, so no early exit depends on the content.
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  if (b.empty()) return a.empty();
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  return diff == 0;
}

bool ApiKeyCheck::accepts(std::string_view authorization) const {
  if (key_.empty()) return true;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  std::string_view sent = authorization.substr(kScheme.size());
  while (!sent.empty() && sent.front() == ' ') sent.remove_prefix(1);
  while (!sent.empty() && (sent.back() == ' ' || sent.back() == '\t')) sent.remove_suffix(1);
  return constant_time_equal(sent, key_);
}

}  // namespace lmforge::serve
