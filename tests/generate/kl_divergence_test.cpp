// KL-divergence statistics (llama-perplexity --kl-divergence's) against values computed here in
// double from the definitions, on base rows encoded as the base file stores them.
#include "generate/kl_divergence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "generate/kld_base_file.h"

namespace lmforge {
namespace {

// The base log-probabilities as a reader of the file sees them.
std::vector<float> stored_log_probs(const std::vector<float>& logits) {
  std::vector<uint16_t> row(kld_row_words(logits.size()));
  encode_kld_row(logits, row);
  float scale, offset;
  std::memcpy(&scale, &row[0], 4);
  std::memcpy(&offset, &row[2], 4);
  std::vector<float> lp(logits.size());
  for (size_t i = 0; i < lp.size(); ++i) lp[i] = scale * row[4 + i] + offset;
  return lp;
}

std::vector<double> log_softmax(const std::vector<float>& l) {
  double m = l[0];
  for (float v : l) m = std::max(m, static_cast<double>(v));
  double s = 0;
  for (float v : l) s += std::exp(v - m);
  std::vector<double> out;
  for (float v : l) out.push_back(v - m - std::log(s));
  return out;
}

TEST(KlDivergence, MatchesTheDefinition) {
  const std::vector<float> base = {2.0f, 0.5f, -1.0f, 1.0f, -3.0f};
  const std::vector<float> model = {1.5f, 1.0f, -0.5f, 1.2f, -2.0f};
  KldAccumulator acc;
  acc.add(model, stored_log_probs(base), 3);
  const auto p = log_softmax(base), q = log_softmax(model);
  double kld = 0;
  for (size_t i = 0; i < p.size(); ++i) kld += std::exp(p[i]) * (p[i] - q[i]);
  const KldSummary s = acc.summary();
  EXPECT_EQ(s.count, 1u);
  EXPECT_NEAR(s.kld.value, kld, 1e-4);
  EXPECT_NEAR(s.ppl.value, std::exp(-q[3]), 1e-6 * std::exp(-q[3]));
  EXPECT_NEAR(s.ppl_base.value, std::exp(-p[3]), 1e-3 * std::exp(-p[3]));
  EXPECT_NEAR(s.p_diff.value, std::exp(q[3]) - std::exp(p[3]), 1e-4);
  EXPECT_NEAR(s.ln_ppl_ratio.value, p[3] - q[3], 1e-3);
  EXPECT_EQ(s.same_top.value, 1.0);  // token 0 on both sides
  ASSERT_EQ(s.kld_percentiles.size(), kKldPercentileFractions.size());
  EXPECT_NEAR(s.kld_percentiles.front().value, kld, 1e-4);
}

TEST(KlDivergence, SameModelGivesZeroAndDifferentTopIsCounted) {
  KldAccumulator acc;
  const std::vector<float> a = {3.0f, 1.0f, 0.0f}, b = {1.0f, 3.0f, 0.0f};
  for (int i = 0; i < 30; ++i) acc.add(a, stored_log_probs(a), 1);
  acc.add(b, stored_log_probs(a), 1);  // the model's top is token 1, the base's token 0
  const KldSummary s = acc.summary();
  EXPECT_EQ(s.count, 31u);
  EXPECT_NEAR(s.same_top.value, 30.0 / 31.0, 1e-12);
  EXPECT_NEAR(s.same_top.error, std::sqrt((30.0 / 31.0) * (1.0 / 31.0) / 30.0), 1e-12);
  EXPECT_NEAR(s.kld_percentiles[5].value, 0.0, 1e-4);  // median: the identical rows
  EXPECT_GT(s.kld_percentiles.front().value, 0.5);     // max: the swapped row
}

TEST(KlDivergence, LeavesOutWhatTheFileDoesNotResolve) {
  // Token 1's base log-probability is about -20: below -16, its term is not summed (llama.cpp).
  const std::vector<float> base_lp = {-2.06e-9f, -20.0f};
  const std::vector<float> model = {0.0f, 0.0f};
  KldAccumulator acc;
  acc.add(model, base_lp, 0);
  EXPECT_NEAR(acc.summary().kld.value, std::log(2.0), 1e-6);
}

TEST(KlDivergence, RefusesMismatchedRows) {
  KldAccumulator acc;
  EXPECT_THROW(acc.add(std::vector<float>{1, 2}, std::vector<float>{-1, -1, -1}, 0), Error);
  EXPECT_THROW(acc.add(std::vector<float>{1, 2}, std::vector<float>{-1, -1}, 2), Error);
}

TEST(Percentiles, InterpolateAsLlamaCpp) {
  const std::vector<float> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile_of_sorted(v, 1.0), 4);
  EXPECT_DOUBLE_EQ(percentile_of_sorted(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(percentile_of_sorted(v, 0.5), 2.5);
  EXPECT_NEAR(percentile_of_sorted(v, 0.1), 1.3, 1e-12);
  EXPECT_NEAR(percentile_of_sorted(v, 0.9), 3.7, 1e-12);
  const std::vector<float> odd = {1, 5, 7};
  EXPECT_DOUBLE_EQ(percentile_of_sorted(odd, 0.5), 5);
}

}  // namespace
}  // namespace lmforge
