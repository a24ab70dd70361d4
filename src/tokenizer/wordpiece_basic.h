// BERT's basic tokenizer on a stretch of text that holds no added token: the normalization
// (Hugging Face's BertNormalizer) and the split into words (BertPreTokenizer).
//
// Normalization, in order: clean_text drops U+0000, U+FFFD and every C* character except
// \t \n \r, and turns whitespace into ' '; tokenize_chinese_chars puts spaces around CJK
// ideographs; lowercase applies Python's str.lower(), after which accents are stripped (NFD,
// then every Mn dropped) unless strip_accents is false; without lowercase, accents are
// stripped only when strip_accents is true. Words are then the runs between whitespace, with
// every punctuation character a word of its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

std::u32string bert_normalize(std::u32string_view text, const WordPieceSettings& settings);

// Calls `word` for each word of normalized text, in order.
template <typename F>
void for_each_bert_word(std::u32string_view normalized, F&& word);

// Implementation detail of for_each_bert_word.
bool bert_splits_at(char32_t cp, bool& isolate);

template <typename F>
void for_each_bert_word(std::u32string_view text, F&& word) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    bool isolate = false;
    if (!bert_splits_at(text[i], isolate)) continue;
    if (i > start) word(text.substr(start, i - start));
    if (isolate) word(text.substr(i, 1));
    start = i + 1;
  }
  if (text.size() > start) word(text.substr(start));
}

}  // namespace lmforge
