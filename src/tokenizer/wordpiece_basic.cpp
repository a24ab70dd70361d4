#include "tokenizer/wordpiece_basic.h"

#include "tokenizer/wordpiece_unicode.h"

namespace lmforge {

namespace wu = wordpiece_unicode;

namespace {

bool is_tab_or_newline(char32_t cp) { return cp == '\t' || cp == '\n' || cp == '\r'; }

std::u32string strip_accents(std::u32string_view text) {
  std::u32string out;
  for (char32_t cp : wu::nfd(text))
    if (!wu::is_mark_nonspacing(cp)) out.push_back(cp);
  return out;
}

}  // namespace

std::u32string bert_normalize(std::u32string_view text, const WordPieceSettings& settings) {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (char32_t cp : text) {
    if (settings.clean_text) {
      if (cp == 0 || cp == 0xFFFD || (wu::is_other(cp) && !is_tab_or_newline(cp))) continue;
      if (wu::is_white_space(cp)) cp = ' ';
    }
    if (settings.tokenize_chinese_chars && wu::is_cjk_ideograph(cp)) {
      cleaned.push_back(' ');
      cleaned.push_back(cp);
      cleaned.push_back(' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  if (settings.lowercase) cleaned = wu::lower(cleaned);
  if (settings.strips_accents()) cleaned = strip_accents(cleaned);
  return cleaned;
}

bool bert_splits_at(char32_t cp, bool& isolate) {
  if (wu::is_white_space(cp)) {
    isolate = false;
    return true;
  }
  isolate = wu::is_bert_punctuation(cp);
  return isolate;
}

}  // namespace lmforge
