// The Unicode facts the byte-level BPE tokenizers need: the character classes their
// pre-tokenizer regexes test (\p{L}, \p{N}, \p{P}, \s) and NFC (Qwen2's normalizer).
//
// Tables come from tools/gen_bpe_unicode_tables.py, generated at build time from
// /usr/bin/python3's unicodedata (like WordPiece's): no ICU. NFC reuses WordPiece's NFD and
// combining classes and composes with the generated primary-composite pairs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge::bpe_unicode {

enum class CharClass : uint8_t {
  kOther = 0,   // none of the below (symbols, marks, controls other than whitespace, unassigned)
  kLetter = 1,  // \p{L}
  kNumber = 2,  // \p{N}
  kSpace = 3,   // \s: the White_Space property
  kPunct = 4,   // \p{P}
};

CharClass char_class(char32_t cp);

// Text as the pre-tokenizer walks it: one code point per character and where each starts in
// the UTF-8 bytes (offsets has one more entry: the end). An ill-formed byte is one U+FFFD.
struct DecodedText {
  std::u32string cps;
  std::vector<CharClass> classes;
  std::vector<uint32_t> offsets;
};
void decode(std::string_view text, DecodedText& out);

// Canonical composition (NFC), as Python's unicodedata.normalize("NFC") and the tokenizers
// library compute it. Ill-formed bytes become U+FFFD first.
std::string nfc(std::string_view text);

}  // namespace lmforge::bpe_unicode
