// UTF-8 decoding with libsentencepiece's strictness, used where its exact treatment of bad
// bytes decides the output: the normalizer (ill-formed input) and the decoder (byte pieces).
//
// A sequence is well formed when its lead byte announces its length, every continuation byte
// is 10xxxxxx, the code point is not overlong, not a surrogate and not above U+10FFFF.
// Anything else consumes exactly one byte and stands for U+FFFD; this is finer than the
// "maximal subpart" practice, so E6 97 41 becomes two replacement characters and an 'A'.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lmforge::spm_utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed character at the start of `s` (s not empty), or 0 when ill-formed.
inline size_t char_length(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto trail = [&](size_t i) { return (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    if (s.size() < 2 || !trail(1)) return 0;
    const char32_t cp = ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    return cp >= 0x80 ? 2 : 0;
  }
  if ((c & 0xF0) == 0xE0) {
    if (s.size() < 3 || !trail(1) || !trail(2)) return 0;
    const char32_t cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    return (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) ? 3 : 0;
  }
  if ((c & 0xF8) == 0xF0) {
    if (s.size() < 4 || !trail(1) || !trail(2) || !trail(3)) return 0;
    const char32_t cp = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    return (cp >= 0x10000 && cp <= 0x10FFFF) ? 4 : 0;
  }
  return 0;
}

// `bytes` with every ill-formed byte replaced by U+FFFD.
inline std::string repair(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    const size_t n = char_length(bytes);
    if (n == 0) {
      out += kReplacement;
      bytes.remove_prefix(1);
    } else {
      out.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
    }
  }
  return out;
}

}  // namespace lmforge::spm_utf8
