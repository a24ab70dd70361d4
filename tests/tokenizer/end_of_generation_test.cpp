// Vocab::eog_ids: eos, GGUF's eot/eom ids and the control tokens llama.cpp knows by their
// text end a generation; a normal piece with such a text does not.
#include <gtest/gtest.h>

#include "tokenizer/vocab.h"

namespace lmforge {
namespace {

TEST(EndOfGeneration, EosExtraIdsAndKnownControlTexts) {
  Vocab v;
  v.pieces = {"<unk>", "<s>", "</s>", "<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "hello", "<|custom|>"};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl, TokenType::kControl,
             TokenType::kControl, TokenType::kNormal,  TokenType::kNormal,  TokenType::kControl};
  v.scores.assign(v.pieces.size(), 0.0f);
  v.eos_id = 2;
  v.eog_ids = end_of_generation_ids(v, {7, -1});
  // <|im_end|> is a normal piece here: text, not an end.
  EXPECT_EQ(v.eog_ids, (std::vector<int32_t>{2, 3, 4, 7}));
  EXPECT_TRUE(v.is_end_of_generation(4));
  EXPECT_FALSE(v.is_end_of_generation(5));
  EXPECT_FALSE(v.is_end_of_generation(-1));
  // A vocabulary built without eog_ids still ends on eos.
  Vocab bare;
  bare.eos_id = 2;
  EXPECT_TRUE(bare.is_end_of_generation(2));
  EXPECT_FALSE(bare.is_end_of_generation(3));
  EXPECT_TRUE(is_end_of_generation_text("<|eot_id|>"));
  EXPECT_FALSE(is_end_of_generation_text("</s>"));
}

}  // namespace
}  // namespace lmforge
