// The byte-level BPE pre-tokenizers' word splits on hand-picked text, one regex rule per case.
// The agreement with llama.cpp and tokenizers.js on whole corpora is oracle.bpe_tokenizer's.
#include "tokenizer/bpe_pretokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/bpe_unicode.h"

namespace lmforge {
namespace {

std::vector<std::string> words(BpePreTokenizer kind, std::string_view text) {
  BpeWordSplitter s(kind);
  std::vector<std::string_view> w;
  s.split(text, w);
  return {w.begin(), w.end()};
}

using V = std::vector<std::string>;

TEST(BpePreTokenizer, Llama3ContractionsAreCaseInsensitive) {
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "I'VE it's we'Re"), (V{"I", "'VE", " it", "'s", " we", "'Re"}));
  EXPECT_EQ(words(BpePreTokenizer::kGpt2, "I'VE it's"), (V{"I", "'", "VE", " it", "'s"}));
}

TEST(BpePreTokenizer, DigitGrouping) {
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "1234567 x"), (V{"123", "456", "7", " x"}));
  EXPECT_EQ(words(BpePreTokenizer::kQwen2, "123"), (V{"1", "2", "3"}));
  EXPECT_EQ(words(BpePreTokenizer::kGpt2, "a 1234"), (V{"a", " 1234"}));
  EXPECT_EQ(words(BpePreTokenizer::kSmollm, "a 123"), (V{"a", " ", "1", "2", "3"}));
  EXPECT_EQ(words(BpePreTokenizer::kDefault, "12345"), (V{"123", "45"}));
}

TEST(BpePreTokenizer, WhitespaceRunsLeaveTheirLastSpaceToTheNextWord) {
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "a  "), (V{"a", "  "}));  // at the end (?!\S) holds
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "a \n\n b"), (V{"a", " \n\n", " b"}));
  EXPECT_EQ(words(BpePreTokenizer::kGpt2, "a \n\n b"), (V{"a", " \n\n", " b"}));
  EXPECT_EQ(words(BpePreTokenizer::kGpt2, "a\t\tb"), (V{"a", "\t", "\t", "b"}));  // only a space joins the word after it
}

TEST(BpePreTokenizer, PunctuationTakesOneSpaceAndTrailingNewlines) {
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "x !!\n\ny"), (V{"x", " !!\n\n", "y"}));
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "\tword"), (V{"\tword"}));  // [^\r\n\p{L}\p{N}]?\p{L}+
  EXPECT_EQ(words(BpePreTokenizer::kGpt2, "\tword"), (V{"\t", "word"}));
}

TEST(BpePreTokenizer, UnicodeClasses) {
  // Letters of any script, numbers beyond ASCII (Arabic-Indic, superscript two), emoji as symbols.
  EXPECT_EQ(words(BpePreTokenizer::kLlama3, "\xD0\xBD\xD0\xB0 \xD9\xA1\xD9\xA2\xC2\xB2 \xF0\x9F\xA6\x99!"),
            (V{"\xD0\xBD\xD0\xB0", " ", "\xD9\xA1\xD9\xA2\xC2\xB2", " \xF0\x9F\xA6\x99!"}));
  EXPECT_EQ(bpe_unicode::char_class(0x3000), bpe_unicode::CharClass::kSpace);
  EXPECT_EQ(bpe_unicode::char_class(0xFEFF), bpe_unicode::CharClass::kOther);  // not White_Space
  EXPECT_EQ(bpe_unicode::char_class(0x65E5), bpe_unicode::CharClass::kLetter);
  EXPECT_EQ(bpe_unicode::char_class(0x2167), bpe_unicode::CharClass::kNumber);  // Roman numeral eight, Nl
}

TEST(BpePreTokenizer, IllFormedBytesStayInTheirWords) {
  const std::string text = "ab\xFF\xFE cd";
  const auto w = words(BpePreTokenizer::kLlama3, text);
  std::string joined;
  for (const auto& s : w) joined += s;
  EXPECT_EQ(joined, text);
}

TEST(BpePreTokenizer, NamesAndRegexes) {
  EXPECT_EQ(bpe_pre_tokenizer_from_name("llama3"), BpePreTokenizer::kLlama3);
  EXPECT_EQ(bpe_pre_tokenizer_from_name("starcoder"), std::nullopt);
  for (auto k : {BpePreTokenizer::kLlama3, BpePreTokenizer::kQwen2})
    EXPECT_EQ(bpe_pre_tokenizer_from_regex(bpe_pre_tokenizer_regex(k)), k);
  EXPECT_EQ(bpe_pre_tokenizer_from_regex("\\p{L}+"), std::nullopt);
}

TEST(BpeUnicode, Nfc) {
  EXPECT_EQ(bpe_unicode::nfc("e\xCC\x81"), "\xC3\xA9");                       // e + acute
  EXPECT_EQ(bpe_unicode::nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // conjoining jamo -> one syllable
  EXPECT_EQ(bpe_unicode::nfc("\xE2\x84\xAB"), "\xC3\x85");                    // Angstrom sign -> A with ring
  EXPECT_EQ(bpe_unicode::nfc("plain ascii"), "plain ascii");
  // Dot below (ccc 220) sorts before dot above (230): s + dot above + dot below -> U+1E69.
  EXPECT_EQ(bpe_unicode::nfc("s\xCC\x87\xCC\xA3"), "\xE1\xB9\xA9");
}

}  // namespace
}  // namespace lmforge
