// GPT-2's byte-level alphabet: every byte as one printable Unicode character, so that a
// vocabulary of strings covers all byte sequences. Bytes that are printable Latin-1 ('!'..'~',
// '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 become U+0100, U+0101, ... in byte
// order (space is U+0120 'Ġ', newline U+010A 'Ċ').
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lmforge::bpe_byte_level {

struct Alphabet {
  std::array<char32_t, 256> char_of_byte{};
  std::array<std::string, 256> utf8_of_byte;  // char_of_byte as UTF-8 (1 or 2 bytes)
  std::array<int16_t, 512> byte_of_char{};    // -1 for characters outside the alphabet
};

inline const Alphabet& alphabet() {
  static const Alphabet a = [] {
    Alphabet t;
    t.byte_of_char.fill(-1);
    const auto printable = [](unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const char32_t c = printable(b) ? b : next++;
      t.char_of_byte[b] = c;
      t.byte_of_char[c] = static_cast<int16_t>(b);
      std::string& u = t.utf8_of_byte[b];
      if (c < 0x80) {
        u.push_back(static_cast<char>(c));
      } else {
        u.push_back(static_cast<char>(0xC0 | (c >> 6)));
        u.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      }
    }
    return t;
  }();
  return a;
}

// Raw bytes to their byte-level string.
inline std::string encode(std::string_view bytes) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += a.utf8_of_byte[b];
  return out;
}

// A byte-level string back to raw bytes. Characters outside the alphabet are kept as their
// UTF-8 (what llama.cpp and the tokenizers library do with such vocabulary entries).
inline std::string decode(std::string_view s) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      const int16_t b = a.byte_of_char[c];
      if (b >= 0) out.push_back(static_cast<char>(b));
      else out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      const char32_t cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      if (cp < 512 && a.byte_of_char[cp] >= 0) {
        out.push_back(static_cast<char>(a.byte_of_char[cp]));
        i += 2;
        continue;
      }
    }
    // Not an alphabet character: copy this UTF-8 sequence's bytes unchanged.
    size_t len = 1;
    while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace lmforge::bpe_byte_level
