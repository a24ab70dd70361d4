// Perplexity arithmetic (token NLL, running mean, llama.cpp's error estimate, chunk plan)
// against values worked out by hand.
#include "generate/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/vocab.h"

namespace lmforge {
namespace {

TEST(TokenNll, IsLogSumExpMinusTargetLogit) {
  // Two equal logits: p = 1/2 each, NLL = ln 2.
  const std::vector<float> flat = {0.0f, 0.0f};
  EXPECT_NEAR(token_nll(flat, 0), std::log(2.0), 1e-12);
  // logits 1, 2, 3: NLL(2) = ln(e^1 + e^2 + e^3) - 3 = ln(1 + e^-1 + e^-2) = 0.4076059644...
  const std::vector<float> l = {1.0f, 2.0f, 3.0f};
  EXPECT_NEAR(token_nll(l, 2), 0.40760596444438, 1e-12);
  EXPECT_NEAR(token_nll(l, 0), 2.40760596444438, 1e-12);
}

TEST(TokenNll, DoesNotOverflowOnLargeLogits) {
  const std::vector<float> big = {1000.0f, 1000.0f, -1000.0f};
  EXPECT_NEAR(token_nll(big, 1), std::log(2.0), 1e-12);
  EXPECT_TRUE(std::isfinite(token_nll(big, 2)));
  EXPECT_NEAR(token_nll(big, 2), 2000.0 + std::log(2.0), 1e-9);
}

TEST(TokenNll, RefusesTargetOutsideVocabulary) {
  const std::vector<float> l = {1.0f, 2.0f};
  EXPECT_THROW(token_nll(l, 2), Error);
  EXPECT_THROW(token_nll(l, -1), Error);
}

TEST(NllAccumulator, PplAndErrorByHand) {
  // NLLs 1, 2, 3: mean 2, ppl e^2; population variance (1+4+9)/3 - 4 = 2/3;
  // standard error sqrt((2/3) / (3 - 1)) = sqrt(1/3); ppl_error = e^2 * sqrt(1/3) = 4.2660...
  NllAccumulator acc;
  for (double v : {1.0, 2.0, 3.0}) acc.add(v);
  EXPECT_EQ(acc.count(), 3u);
  EXPECT_NEAR(acc.mean(), 2.0, 1e-15);
  EXPECT_NEAR(acc.ppl(), std::exp(2.0), 1e-12);
  EXPECT_NEAR(acc.ppl_error(), std::exp(2.0) * std::sqrt(1.0 / 3.0), 1e-12);
  EXPECT_NEAR(acc.ppl_error(), 4.26607, 1e-5);
}

TEST(NllAccumulator, NoErrorWithoutSpread) {
  NllAccumulator one;
  one.add(0.7);
  EXPECT_NEAR(one.ppl(), std::exp(0.7), 1e-12);
  EXPECT_EQ(one.ppl_error(), 0.0);
  NllAccumulator same;
  for (int i = 0; i < 4; ++i) same.add(std::log(5.0));
  EXPECT_NEAR(same.ppl(), 5.0, 1e-12);
  EXPECT_EQ(same.ppl_error(), 0.0);
  EXPECT_EQ(NllAccumulator().ppl(), 1.0);
}

TEST(PerplexityPlan, ChunksAndScoredRange) {
  // 1000 tokens, n_ctx 256: 3 whole chunks (232 left over), scoring logits 128..254 of each,
  // i.e. the 127 tokens at positions 129..255.
  const PerplexityPlan p = plan_perplexity(1000, 256);
  EXPECT_EQ(p.n_chunks, 3u);
  EXPECT_EQ(p.first, 128u);
  EXPECT_EQ(p.scored_per_chunk(), 127u);
  // Odd context: first = 4, logits 4..7 score tokens 5..8.
  const PerplexityPlan q = plan_perplexity(18, 9);
  EXPECT_EQ(q.n_chunks, 2u);
  EXPECT_EQ(q.first, 4u);
  EXPECT_EQ(q.scored_per_chunk(), 4u);
}

TEST(PerplexityPlan, RefusesShortTextAndTinyContext) {
  EXPECT_NO_THROW(plan_perplexity(512, 256));
  EXPECT_THROW(plan_perplexity(511, 256), UsageError);
  EXPECT_THROW(plan_perplexity(0, 8), UsageError);
  EXPECT_THROW(plan_perplexity(1000, 7), UsageError);
}

TEST(PerplexityInput, TokenizesOnceWithBosWhenTheVocabularyAddsOne) {
  SpmTokenizer tok(load_vocab(std::string(LMFORGE_SOURCE_DIR) + "/models/demo/tokenizer.model"));
  ASSERT_TRUE(tok.add_bos());
  const PerplexityInput in = perplexity_input(tok, "One day a cat sat.");
  EXPECT_EQ(in.bos_id, tok.bos_id());
  EXPECT_EQ(in.tokens, tok.encode("One day a cat sat.", true, false));
  Vocab no_bos = tok.vocab();
  no_bos.add_bos = false;
  const PerplexityInput plain = perplexity_input(SpmTokenizer(no_bos), "One day a cat sat.");
  EXPECT_EQ(plain.bos_id, -1);
  EXPECT_EQ(plain.tokens, tok.encode("One day a cat sat.", false, false));
}

}  // namespace
}  // namespace lmforge
