// Template markers become their token ids; the text between them is encoded fragment by
// fragment (each with the dummy prefix, as llama.cpp's SentencePiece path does).
#include "generate/special_tokens.h"
#include "tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace lmforge {
namespace {

struct Fixture {
  Vocab v;
  int32_t add(const std::string& p, TokenType t = TokenType::kNormal) {
    v.pieces.push_back(p);
    v.scores.push_back(-static_cast<float>(v.pieces.size()));
    v.types.push_back(t);
    return static_cast<int32_t>(v.pieces.size() - 1);
  }
};

TEST(SpecialTokens, MarkersBecomeIdsAndFragmentsAreEncodedAlone) {
  Fixture f;
  f.add("<unk>", TokenType::kUnknown);
  f.add("<s>", TokenType::kControl);
  const int32_t eos = f.add("</s>", TokenType::kControl);
  const int32_t im_end = f.add("<|im_end|>", TokenType::kUserDefined);
  const int32_t im_end_long = f.add("<|im_end|>x", TokenType::kControl);
  const int32_t space_a = f.add("\xE2\x96\x81" "a");
  const int32_t a = f.add("a");
  const int32_t space = f.add("\xE2\x96\x81");
  f.v.eos_id = eos;
  const SpmTokenizer tok(f.v);

  // "a</s>a": each fragment gets the dummy prefix.
  EXPECT_EQ(tokenize_with_specials(tok, "a</s>a"), (std::vector<int32_t>{space_a, eos, space_a}));
  EXPECT_EQ(tokenize_with_specials(tok, "</s></s>"), (std::vector<int32_t>{eos, eos}));
  // The longest marker wins.
  EXPECT_EQ(tokenize_with_specials(tok, "<|im_end|>xa"), (std::vector<int32_t>{im_end_long, space_a}));
  EXPECT_EQ(tokenize_with_specials(tok, "<|im_end|>a"), (std::vector<int32_t>{im_end, space_a}));
  EXPECT_TRUE(tokenize_with_specials(tok, "").empty());
  // Plain encode keeps "</s>" as text (here: unknown runs); only template text parses markers.
  const auto plain = tok.encode("</s>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eos), 0);
  EXPECT_EQ(special_token_id(tok, "</s>"), eos);
  EXPECT_EQ(special_token_id(tok, "<|im_end|>"), im_end);
  EXPECT_EQ(special_token_id(tok, "a"), -1);  // a normal piece is not a marker
  (void)a;
  (void)space;
}

}  // namespace
}  // namespace lmforge
