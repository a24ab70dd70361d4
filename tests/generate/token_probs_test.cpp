// top_probabilities: the softmax of raw logits, most likely first, ties by lower id.
#include "generate/token_probs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace lmforge {
namespace {

TEST(TopProbabilities, SoftmaxOrderAndTies) {
  // logits 1, 1, 0: p = e / (2e + 1) for the two tied ones (lower id first), 1 / (2e + 1) else.
  const std::vector<float> logits = {1.0f, 0.0f, 1.0f};
  const double z = 2 * std::exp(1.0) + 1;
  const auto top = top_probabilities(logits, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].id, 0);
  EXPECT_EQ(top[1].id, 2);
  EXPECT_NEAR(top[0].p, std::exp(1.0) / z, 1e-12);
  EXPECT_NEAR(top[1].p, std::exp(1.0) / z, 1e-12);
  const auto all = top_probabilities(logits, 10);  // more than the vocabulary: all of it
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].id, 1);
  EXPECT_NEAR(all[2].p, 1.0 / z, 1e-12);
  EXPECT_TRUE(top_probabilities({}, 3).empty());
}

TEST(TopProbabilities, LargeLogitsDoNotOverflow) {
  const std::vector<float> logits = {1000.0f, 999.0f};
  const auto top = top_probabilities(logits, 2);
  EXPECT_NEAR(top[0].p, 1.0 / (1.0 + std::exp(-1.0)), 1e-12);
  EXPECT_NEAR(top[0].p + top[1].p, 1.0, 1e-12);
}

}  // namespace
}  // namespace lmforge
