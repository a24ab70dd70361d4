// The character classes and case/accent operations of BERT's basic tokenizer, with the exact
// definitions Hugging Face's BertTokenizer uses (Python's unicodedata and str.lower()).
//
// The data are compact tables that tools/gen_unicode_tables.py writes at build time from
// /usr/bin/python3's unicodedata (Debian 12: Unicode 14.0.0; kUnicodeVersion says which), so
// there is no library dependency; docs/architecture.md says why.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lmforge::wordpiece_unicode {

// The Unicode version the tables were generated from ("14.0.0").
std::string_view unicode_version();

// UTF-8 text as code points; each ill-formed byte becomes U+FFFD (as a Python str decoded
// with errors="replace" sees it, one replacement per byte).
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

// Any general category C* (Cc, Cf, Cs, Co and unassigned Cn), as BertTokenizer's _is_control
// tests it; the tokenizer exempts \t, \n and \r itself.
bool is_other(char32_t cp);
// The White_Space property (what Rust's char::is_whitespace and BertNormalizer split on; it
// includes \t \n \r and every Zs).
bool is_white_space(char32_t cp);
// BERT punctuation: the ASCII non-alphanumeric ranges (33-47, 58-64, 91-96, 123-126) and every
// Unicode P* category.
bool is_bert_punctuation(char32_t cp);
// BERT's "Chinese character" ranges: the CJK Unified Ideographs blocks and their extensions
// A-F and compatibility ideographs (not Hangul, kana or CJK punctuation).
bool is_cjk_ideograph(char32_t cp);
bool is_mark_nonspacing(char32_t cp);  // general category Mn
// Canonical_Combining_Class (0 for starters); NFC in bpe_unicode composes with it.
unsigned canonical_combining_class(char32_t cp);

// Python's str.lower() on the whole text: full lower-case mappings (U+0130 becomes two code
// points) and the final-sigma rule for U+03A3.
std::u32string lower(std::u32string_view text);
// Canonical decomposition (NFD): full decompositions, Hangul syllables split algorithmically,
// then runs of non-starters put in canonical order.
std::u32string nfd(std::u32string_view text);

}  // namespace lmforge::wordpiece_unicode
