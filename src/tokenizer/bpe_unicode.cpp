#include "tokenizer/bpe_unicode.h"

#include <algorithm>
#include <array>
#include <span>

#include "tokenizer/spm_utf8.h"
#include "tokenizer/wordpiece_unicode.h"

namespace lmforge::bpe_unicode {

namespace {

struct ClassRange {
  char32_t first;
  char32_t last;
  uint8_t cls;
};
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

#include "bpe_unicode_tables.inc"

// ASCII is most text: its classes come from a 128-entry table built once from the ranges.
const std::array<CharClass, 128>& ascii_classes() {
  static const std::array<CharClass, 128> table = [] {
    std::array<CharClass, 128> t{};
    for (const ClassRange& r : kClassRanges)
      for (char32_t c = r.first; c <= r.last && c < 128; ++c) t[c] = static_cast<CharClass>(r.cls);
    return t;
  }();
  return table;
}

constexpr char32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161, kHangulT = 0x11A7;
constexpr char32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28, kHangulSCount = 11172;

// The primary composite of (a, b), or 0 when the pair does not compose.
char32_t compose(char32_t a, char32_t b) {
  if (a >= kHangulL && a < kHangulL + kHangulLCount && b >= kHangulV && b < kHangulV + kHangulVCount)
    return kHangulS + ((a - kHangulL) * kHangulVCount + (b - kHangulV)) * kHangulTCount;
  if (a >= kHangulS && a < kHangulS + kHangulSCount && (a - kHangulS) % kHangulTCount == 0 && b > kHangulT &&
      b < kHangulT + kHangulTCount)
    return a + (b - kHangulT);
  const std::span<const Composition> table(kCompositions);
  auto it = std::lower_bound(table.begin(), table.end(), std::pair{a, b}, [](const Composition& c, const std::pair<char32_t, char32_t>& k) {
    return c.first < k.first || (c.first == k.first && c.second < k.second);
  });
  return (it != table.end() && it->first == a && it->second == b) ? it->composite : 0;
}

}  // namespace

CharClass char_class(char32_t cp) {
  if (cp < 128) return ascii_classes()[cp];
  const std::span<const ClassRange> ranges(kClassRanges);
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp, [](char32_t c, const ClassRange& r) { return c < r.first; });
  if (it == ranges.begin()) return CharClass::kOther;
  --it;
  return cp <= it->last ? static_cast<CharClass>(it->cls) : CharClass::kOther;
}

void decode(std::string_view text, DecodedText& out) {
  out.cps.clear();
  out.classes.clear();
  out.offsets.clear();
  const auto& ascii = ascii_classes();
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    out.offsets.push_back(static_cast<uint32_t>(i));
    if (c < 0x80) {
      out.cps.push_back(c);
      out.classes.push_back(ascii[c]);
      ++i;
      continue;
    }
    const size_t len = spm_utf8::char_length(text.substr(i));
    char32_t cp = 0xFFFD;
    if (len == 0) {
      i += 1;
    } else {
      cp = c & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      i += len;
    }
    out.cps.push_back(cp);
    out.classes.push_back(char_class(cp));
  }
  out.offsets.push_back(static_cast<uint32_t>(text.size()));
}

std::string nfc(std::string_view text) {
  // Below U+0300 nothing decomposes into something else or composes with what precedes it.
  bool simple = true;
  for (char ch : text)
    if (static_cast<unsigned char>(ch) >= 0xCC) {
      simple = false;
      break;
    }
  if (simple && spm_utf8::repair(text).size() == text.size()) return std::string(text);

  const std::u32string decomposed = wordpiece_unicode::nfd(wordpiece_unicode::decode_utf8(text));
  std::u32string out;
  out.reserve(decomposed.size());
  size_t starter = std::u32string::npos;  // index in `out` of the last starter
  unsigned last_ccc = 0;                  // combining class of the last character kept after it
  for (char32_t c : decomposed) {
    const unsigned ccc = wordpiece_unicode::canonical_combining_class(c);
    if (starter != std::u32string::npos) {
      const bool adjacent = out.size() == starter + 1;
      // Not blocked: nothing between the starter and c, or everything between has a lower
      // non-zero class.
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        if (const char32_t composite = compose(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) starter = out.size();
    last_ccc = ccc;
    out.push_back(c);
  }
  return wordpiece_unicode::encode_utf8(out);
}

}  // namespace lmforge::bpe_unicode
