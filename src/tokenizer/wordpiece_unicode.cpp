#include "tokenizer/wordpiece_unicode.h"

#include <algorithm>
#include <cstdint>
#include <span>

#include "tokenizer/spm_utf8.h"

namespace lmforge::wordpiece_unicode {

namespace {

struct PropertyRange {
  char32_t first;
  char32_t last;
  uint8_t flags;
};
struct CombiningRange {
  char32_t first;
  char32_t last;
  uint8_t ccc;
};
struct CodePointMapping {
  char32_t cp;
  uint32_t offset;  // into the pool
  uint8_t length;
};

// The generator's flag bits.
constexpr uint8_t kOther = 1, kPunctuation = 2, kMarkNonspacing = 4, kCasedStop = 8, kCaseIgnorable = 16;

#include "wordpiece_unicode_tables.inc"

template <typename Range>
const Range* find_range(std::span<const Range> ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const Range& r) { return c < r.first; });
  if (it == ranges.begin()) return nullptr;
  --it;
  return cp <= it->last ? &*it : nullptr;
}

uint8_t flags(char32_t cp) {
  const auto* r = find_range(std::span<const PropertyRange>(kPropertyRanges), cp);
  return r ? r->flags : 0;
}

uint8_t combining_class(char32_t cp) {
  const auto* r = find_range(std::span<const CombiningRange>(kCombiningRanges), cp);
  return r ? r->ccc : 0;
}

std::u32string_view mapping(std::span<const CodePointMapping> table, const char32_t* pool, char32_t cp) {
  auto it = std::lower_bound(table.begin(), table.end(), cp,
                             [](const CodePointMapping& m, char32_t c) { return m.cp < c; });
  if (it == table.end() || it->cp != cp) return {};
  return {pool + it->offset, it->length};
}

constexpr char32_t kCapitalSigma = 0x3A3, kSmallSigma = 0x3C3, kFinalSigma = 0x3C2;

// CPython's rule: the sigma follows a cased letter (case-ignorable characters between) and is
// not followed by one (case-ignorable characters between).
bool is_final_sigma(std::u32string_view text, size_t i) {
  size_t j = i;
  bool cased_before = false;
  while (j > 0) {
    const uint8_t f = flags(text[--j]);
    if (f & kCaseIgnorable) continue;
    cased_before = (f & kCasedStop) != 0;
    break;
  }
  if (!cased_before) return false;
  for (j = i + 1; j < text.size(); ++j) {
    const uint8_t f = flags(text[j]);
    if (f & kCaseIgnorable) continue;
    return (f & kCasedStop) == 0;
  }
  return true;
}

constexpr char32_t kHangulFirst = 0xAC00, kHangulCount = 11172;
constexpr char32_t kLeadFirst = 0x1100, kVowelFirst = 0x1161, kTrailFirst = 0x11A7;
constexpr char32_t kVowelCount = 21, kTrailCount = 28;

}  // namespace

std::string_view unicode_version() { return kUnicodeVersion; }

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t n = spm_utf8::char_length(text);
    if (n == 0) {
      out.push_back(0xFFFD);
      text.remove_prefix(1);
      continue;
    }
    const auto b = [&](size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(text[i])); };
    char32_t cp = 0;
    if (n == 1) cp = b(0);
    else if (n == 2) cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    else if (n == 3) cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    else cp = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    out.push_back(cp);
    text.remove_prefix(n);
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

bool is_other(char32_t cp) { return (flags(cp) & kOther) != 0; }

bool is_white_space(char32_t cp) {
  // PropList.txt's White_Space, unchanged since Unicode 6.
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool is_bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return (flags(cp) & kPunctuation) != 0;
}

bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

unsigned canonical_combining_class(char32_t cp) { return combining_class(cp); }

bool is_mark_nonspacing(char32_t cp) { return (flags(cp) & kMarkNonspacing) != 0; }

std::u32string lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text[i];
    if (cp == kCapitalSigma) {
      out.push_back(is_final_sigma(text, i) ? kFinalSigma : kSmallSigma);
      continue;
    }
    const auto m = mapping(kLowercases, kLowercasePool, cp);
    if (m.empty()) out.push_back(cp);
    else out.append(m);
  }
  return out;
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    if (cp >= kHangulFirst && cp < kHangulFirst + kHangulCount) {
      const char32_t s = cp - kHangulFirst;
      out.push_back(kLeadFirst + s / (kVowelCount * kTrailCount));
      out.push_back(kVowelFirst + (s % (kVowelCount * kTrailCount)) / kTrailCount);
      if (s % kTrailCount != 0) out.push_back(kTrailFirst + s % kTrailCount);
      continue;
    }
    const auto m = mapping(kDecompositions, kDecompositionPool, cp);
    if (m.empty()) out.push_back(cp);
    else out.append(m);
  }
  // Canonical ordering: within each run of non-starters, a stable sort by combining class.
  for (size_t i = 0; i < out.size();) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  return out;
}

}  // namespace lmforge::wordpiece_unicode
