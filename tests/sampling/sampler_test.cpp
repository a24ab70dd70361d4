#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <map>
#include <random>

namespace lmforge {
namespace {

std::vector<TokenCandidate> from_probs(const std::vector<float>& p) {
  std::vector<TokenCandidate> c;
  for (size_t i = 0; i < p.size(); ++i) c.push_back({static_cast<int32_t>(i), std::log(p[i]), 0.0f});
  return c;
}

std::vector<int32_t> ids(const std::vector<TokenCandidate>& c) {
  std::vector<int32_t> r;
  for (const auto& t : c) r.push_back(t.id);
  return r;
}

TEST(Sampler, TopKKeepsTheKLargest) {
  auto c = from_probs({0.1f, 0.4f, 0.2f, 0.3f});
  Sampler::top_k(c, 2, 0);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  auto all = from_probs({0.5f, 0.5f});
  Sampler::top_k(all, 0, 0);  // <= 0: off
  EXPECT_EQ(all.size(), 2u);
}

TEST(Sampler, TopPStopsOnceTheMassIsReached) {
  auto c = from_probs({0.1f, 0.4f, 0.2f, 0.3f});
  Sampler::top_p(c, 0.7f, 0);  // 0.4 + 0.3 = 0.7 >= 0.7
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  auto d = from_probs({0.1f, 0.4f, 0.2f, 0.3f});
  Sampler::top_p(d, 0.71f, 0);
  EXPECT_EQ(ids(d), (std::vector<int32_t>{1, 3, 2}));
  auto e = from_probs({0.1f, 0.4f, 0.2f, 0.3f});
  Sampler::top_p(e, 0.1f, 3);  // min_keep wins
  EXPECT_EQ(e.size(), 3u);
}

TEST(Sampler, MinPIsRelativeToTheMostLikely) {
  auto c = from_probs({0.05f, 0.5f, 0.2f, 0.25f});
  Sampler::min_p(c, 0.45f, 0);  // threshold 0.225
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
}

TEST(Sampler, TypicalKeepsTokensNearTheEntropy) {
  // Entropy of {0.4, 0.3, 0.2, 0.1} is 1.280 nats; the surprises -ln p are 0.92, 1.20, 1.61,
  // 2.30, so the order by closeness is 0.3, 0.2, 0.4, 0.1, and mass 0.45 needs the first two:
  // typical sampling drops the single most likely token here.
  auto c = from_probs({0.4f, 0.3f, 0.2f, 0.1f});
  Sampler::typical(c, 0.45f, 0);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 2}));
  auto d = from_probs({0.7f, 0.1f, 0.1f, 0.1f});
  Sampler::typical(d, 1.0f, 0);  // off
  EXPECT_EQ(d.size(), 4u);
}

TEST(Sampler, PenaltiesFollowLlamaCppFormula) {
  SamplingParams p;
  p.repeat_penalty = 2.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  Sampler s(p);
  s.accept(0);
  s.accept(0);
  s.accept(1);
  std::vector<TokenCandidate> c = {{0, 4.0f, 0}, {1, -1.0f, 0}, {2, 3.0f, 0}};
  s.apply_penalties(c);
  EXPECT_FLOAT_EQ(c[0].logit, 4.0f / 2 - 2 * 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(c[1].logit, -1.0f * 2 - 1 * 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(c[2].logit, 3.0f);  // not in the window
}

TEST(Sampler, PenaltyWindowForgetsOldTokens) {
  SamplingParams p;
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 2;
  Sampler s(p);
  s.accept(5);
  s.accept(1);
  s.accept(2);  // 5 falls out of the window
  std::vector<TokenCandidate> c = {{5, 4.0f, 0}, {1, 4.0f, 0}};
  s.apply_penalties(c);
  EXPECT_FLOAT_EQ(c[0].logit, 4.0f);
  EXPECT_FLOAT_EQ(c[1].logit, 2.0f);
}

TEST(Sampler, GreedyAtZeroTemperatureAndSeededDrawsRepeat) {
  std::vector<float> logits = {0.1f, 2.0f, 1.9f, -3.0f};
  SamplingParams g;
  g.temperature = 0.0f;
  EXPECT_EQ(Sampler(g).sample(logits), 1);

  SamplingParams p;
  p.seed = 42;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.temperature = 1.0f;
  Sampler a(p), b(p);
  std::vector<int32_t> ra, rb;
  for (int i = 0; i < 50; ++i) {
    ra.push_back(a.sample(logits));
    rb.push_back(b.sample(logits));
  }
  EXPECT_EQ(ra, rb);
}

// Greedy takes the argmax in one pass (no sort): the same token a full sort by logit puts
// first, the lowest id among equal logits, NaN never chosen, with and without penalties.
TEST(Sampler, GreedyIsTheFirstOfTheSortedLogits) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(0, 9);  // few distinct values: many ties
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> logits(1 + trial % 50);
    for (float& l : logits) l = static_cast<float>(level(rng)) * 0.5f - 2.0f;
    if (trial % 7 == 0) logits[static_cast<size_t>(trial) % logits.size()] = std::nanf("");
    size_t expect = logits.size();
    std::vector<size_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const bool na = std::isnan(logits[a]), nb = std::isnan(logits[b]);
      if (na != nb) return nb;  // NaN last
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    expect = std::isnan(logits[order[0]]) ? 0 : order[0];
    SamplingParams g;
    g.temperature = 0.0f;
    EXPECT_EQ(Sampler(g).sample(logits), static_cast<int32_t>(expect)) << "trial " << trial;
    // Through the candidate list: a presence penalty on a token that is not there changes nothing.
    g.presence_penalty = 1.0f;
    Sampler with_penalty(g);
    with_penalty.accept(static_cast<int32_t>(logits.size()) + 5);
    EXPECT_EQ(with_penalty.sample(logits), static_cast<int32_t>(expect)) << "trial " << trial;
  }
  std::vector<TokenCandidate> shuffled = {{5, 1.0f, 0}, {2, 3.0f, 0}, {9, 3.0f, 0}, {1, 3.0f, 0}, {0, -1.0f, 0}};
  Sampler::temperature(shuffled, 0.0f);
  ASSERT_EQ(shuffled.size(), 1u);
  EXPECT_EQ(shuffled[0].id, 1);  // the lowest id of the three equal logits, not the earliest
}

TEST(Sampler, DrawFrequenciesFollowTheDistribution) {
  std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  SamplingParams p;
  p.seed = 7;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.temperature = 1.0f;
  Sampler s(p);
  std::map<int32_t, int> n;
  const int trials = 20000;
  for (int i = 0; i < trials; ++i) ++n[s.sample(logits)];
  EXPECT_NEAR(n[0] / double(trials), 0.6, 0.02);
  EXPECT_NEAR(n[1] / double(trials), 0.3, 0.02);
  EXPECT_NEAR(n[2] / double(trials), 0.1, 0.02);
}

TEST(Sampler, MirostatHoldsSurpriseNearTau) {
  // Zipf-like logits over 1000 tokens. Plain sampling has an expected surprise (entropy) well
  // above tau; mirostat must pull the average surprise of what it picks down towards tau.
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = -1.1f * std::log(static_cast<float>(i + 1));
  double norm = 0;
  for (float l : logits) norm += std::exp(static_cast<double>(l));
  double entropy_bits = 0;
  for (float l : logits) {
    const double q = std::exp(static_cast<double>(l)) / norm;
    entropy_bits -= q * std::log2(q);
  }
  const float tau = 3.0f;
  ASSERT_GT(entropy_bits, tau + 2.0);
  for (int version : {1, 2}) {
    SamplingParams p;
    p.mirostat = version;
    p.mirostat_tau = tau;
    p.seed = 3;
    p.temperature = 1.0f;
    Sampler s(p);
    double total = 0;
    int counted = 0;
    for (int i = 0; i < 4000; ++i) {
      const int32_t t = s.sample(logits);
      if (i >= 500) {  // after the warm-up of mu
        total += -std::log2(std::exp(static_cast<double>(logits[static_cast<size_t>(t)])) / norm);
        ++counted;
      }
    }
    const double mean = total / counted;
    EXPECT_LT(mean, tau + 1.0) << "version " << version;
    EXPECT_GT(mean, tau - 1.5) << "version " << version;
  }
}

}  // namespace
}  // namespace lmforge
