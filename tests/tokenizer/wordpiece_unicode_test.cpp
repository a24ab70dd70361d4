// The WordPiece tokenizer's Unicode operations against values from the Unicode Standard
// (UnicodeData.txt, SpecialCasing.txt, the Hangul algorithm of chapter 3.12), and the two
// places where lmforge follows Hugging Face's Python/Rust tokenizers rather than
// tokenizers.js, which oracle.wordpiece cannot check.
#include "tokenizer/wordpiece_unicode.h"

#include <gtest/gtest.h>

#include "tokenizer/wordpiece_basic.h"

namespace lmforge {
namespace {

namespace wu = wordpiece_unicode;

TEST(WordPieceUnicode, TablesComeFromAKnownVersion) {
  EXPECT_FALSE(wu::unicode_version().empty());
  EXPECT_EQ(wu::unicode_version().substr(0, 3).find('.'), 2u);  // "14.0.0" or later
}

TEST(WordPieceUnicode, Categories) {
  EXPECT_TRUE(wu::is_other(0x00));     // Cc
  EXPECT_TRUE(wu::is_other(0x200B));   // ZERO WIDTH SPACE, Cf
  EXPECT_TRUE(wu::is_other(0xE000));   // private use, Co
  EXPECT_TRUE(wu::is_other(0x0378));   // unassigned, Cn
  EXPECT_FALSE(wu::is_other('a'));
  EXPECT_TRUE(wu::is_bert_punctuation('$'));    // ASCII symbol, punctuation for BERT
  EXPECT_TRUE(wu::is_bert_punctuation(0x3002)); // IDEOGRAPHIC FULL STOP, Po
  EXPECT_TRUE(wu::is_bert_punctuation(0x00BF)); // INVERTED QUESTION MARK, Po
  EXPECT_FALSE(wu::is_bert_punctuation(0x20AC));  // EURO SIGN, Sc
  EXPECT_FALSE(wu::is_bert_punctuation('a'));
  EXPECT_TRUE(wu::is_mark_nonspacing(0x0301));
  EXPECT_FALSE(wu::is_mark_nonspacing(0x0903));  // DEVANAGARI SIGN VISARGA, Mc
  EXPECT_TRUE(wu::is_white_space(0x3000));
  EXPECT_TRUE(wu::is_white_space(0x2028));
  EXPECT_FALSE(wu::is_white_space(0x200B));
  EXPECT_TRUE(wu::is_cjk_ideograph(0x4E2D));
  EXPECT_TRUE(wu::is_cjk_ideograph(0x20000));
  EXPECT_FALSE(wu::is_cjk_ideograph(0x3042));  // hiragana
  EXPECT_FALSE(wu::is_cjk_ideograph(0xD55C));  // Hangul
}

TEST(WordPieceUnicode, LowerFollowsPythonStrLower) {
  // Final sigma: after a cased letter and not before one (case-ignorable characters skipped).
  EXPECT_EQ(wu::lower(U"ΣΟΦΟΣ ΑΣ. Σ"), U"σοφος ας. σ");
  EXPECT_EQ(wu::lower(U"ΑΣ'Σ"), U"ασ'ς");
  EXPECT_EQ(wu::lower(U"\u0130"), U"i\u0307");  // SpecialCasing: one character becomes two
  EXPECT_EQ(wu::lower(U"\u01C5\u212A\u00C5A"), U"\u01C6k\u00E5a");
  EXPECT_EQ(wu::lower(U"\uFF21"), U"\uFF41");
}

TEST(WordPieceUnicode, CanonicalDecomposition) {
  EXPECT_EQ(wu::nfd(U"\u00E9"), U"e\u0301");
  EXPECT_EQ(wu::nfd(U"\u1E69"), U"s\u0323\u0307");            // recursive decomposition
  EXPECT_EQ(wu::nfd(U"a\u0301\u0323"), U"a\u0323\u0301");     // reordered: ccc 220 before 230
  EXPECT_EQ(wu::nfd(U"\uD55C"), U"\u1112\u1161\u11AB");       // Hangul LVT
  EXPECT_EQ(wu::nfd(U"\uAC00"), U"\u1100\u1161");             // Hangul LV
  EXPECT_EQ(wu::nfd(U"\u212B"), U"A\u030A");                  // ANGSTROM SIGN
}

TEST(WordPieceUnicode, Utf8) {
  EXPECT_EQ(wu::decode_utf8("a\xC3\xA9\xF0\x9F\x90\x8D"), U"a\u00E9\U0001F40D");
  EXPECT_EQ(wu::decode_utf8("\xE6\x97" "A\xC0\x80"), U"\uFFFD\uFFFDA\uFFFD\uFFFD");
  EXPECT_EQ(wu::encode_utf8(U"a\u00E9\U0001F40D"), "a\xC3\xA9\xF0\x9F\x90\x8D");
}

std::vector<std::u32string> words(std::u32string_view text, const WordPieceSettings& s) {
  std::vector<std::u32string> out;
  for_each_bert_word(bert_normalize(text, s), [&](std::u32string_view w) { out.emplace_back(w); });
  return out;
}

TEST(WordPieceBasic, CjkOutsideTheBmpIsSplitAsPythonAndRustDo) {
  // tokenizers.js tests UTF-16 code units and would keep these together.
  WordPieceSettings s;
  EXPECT_EQ(words(U"a\U00020000\U00020001b", s), (std::vector<std::u32string>{U"a", U"\U00020000", U"\U00020001", U"b"}));
}

TEST(WordPieceBasic, UnassignedCodePointsAreDroppedAsControl) {
  WordPieceSettings s;
  EXPECT_EQ(words(U"a\u0378b \U000E0080c", s), (std::vector<std::u32string>{U"ab", U"c"}));
}

TEST(WordPieceBasic, SettingsDecideCaseAndAccents) {
  WordPieceSettings s;
  EXPECT_EQ(words(U"Café, NAÏVE!", s), (std::vector<std::u32string>{U"cafe", U",", U"naive", U"!"}));
  s.strip_accents = false;
  EXPECT_EQ(words(U"Café", s), (std::vector<std::u32string>{U"café"}));
  s.lowercase = false;
  s.strip_accents.reset();  // follows lowercase: kept
  EXPECT_EQ(words(U"Café", s), (std::vector<std::u32string>{U"Café"}));
  s.strip_accents = true;
  EXPECT_EQ(words(U"Café", s), (std::vector<std::u32string>{U"Cafe"}));
  s.tokenize_chinese_chars = false;
  EXPECT_EQ(words(U"中文", s), (std::vector<std::u32string>{U"中文"}));
  s.clean_text = false;
  EXPECT_EQ(words(U"a\u200Bb", s), (std::vector<std::u32string>{U"a\u200Bb"}));
}

}  // namespace
}  // namespace lmforge
