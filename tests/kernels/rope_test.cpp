// RoPE: the reference against hand computation, and the table-driven fast form (rope_angles +
// rope_apply_f32, what the fast engine runs) against the reference; Llama 3's frequency
// factors and the NEOX mode of qwen2 files.
#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

TEST(RopeTest, ReferenceRotatesAdjacentPairs) {
  // head_dim 4: pair 0 turns by p, pair 1 by p * base^(-1/2); two heads turn alike.
  std::vector<float> x = {1, 2, 3, 4, 1, 2, 3, 4};
  const double pos = 3, factor = 2, base = 100;
  rope_norm_ref(x.data(), 2, 4, pos, static_cast<float>(base), static_cast<float>(factor));
  const double p = pos / factor, t0 = p, t1 = p / 10.0;
  const double want[4] = {1 * std::cos(t0) - 2 * std::sin(t0), 1 * std::sin(t0) + 2 * std::cos(t0),
                          3 * std::cos(t1) - 4 * std::sin(t1), 3 * std::sin(t1) + 4 * std::cos(t1)};
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(x[h * 4 + i], want[i], 1e-6) << h << " " << i;
}

TEST(RopeTest, ReferenceAtPositionZeroIsIdentity) {
  std::vector<float> x = {0.5f, -1.5f, 2.0f, 7.0f};
  rope_norm_ref(x.data(), 1, 4, 0, 10000.0f, 1.0f);
  EXPECT_EQ(x, (std::vector<float>{0.5f, -1.5f, 2.0f, 7.0f}));
}

// The fast form scales the position by 1/factor instead of dividing by it: bit-identical when
// 1/factor is exact (1, 2, 4), otherwise the angle may differ in its last bit, so cos and sin by
// one float rounding, so each output by about 2 roundings of |x0| + |x1|.
TEST(RopeTest, TableFormMatchesTheReference) {
  const size_t n_heads = 3;
  for (size_t head_dim : {4u, 64u, 128u}) {
    for (float base : {10000.0f, 500000.0f}) {
      for (float factor : {1.0f, 2.0f, 4.0f, 3.0f}) {
        for (double pos : {0.0, 1.0, 7.0, 1000.0, 100000.0}) {
          const auto x0 = test::random_floats(n_heads * head_dim, static_cast<uint32_t>(head_dim + pos));
          auto want = x0, got = x0;
          rope_norm_ref(want.data(), n_heads, head_dim, pos, base, factor);
          std::vector<float> cs(head_dim / 2), sn(head_dim / 2);
          rope_angles(pos, head_dim, base, factor, cs.data(), sn.data());
          rope_apply_f32(got.data(), n_heads, head_dim, cs.data(), sn.data());
          const bool exact = factor != 3.0f;
          for (size_t i = 0; i < got.size(); ++i) {
            const size_t pair = i & ~size_t{1};
            const double bound = 4 * 5.97e-8 * (std::fabs(x0[pair]) + std::fabs(x0[pair + 1]));
            if (exact) {
              ASSERT_EQ(got[i], want[i]) << head_dim << " " << base << " " << factor << " " << pos << " " << i;
            } else {
              ASSERT_NEAR(got[i], want[i], bound) << head_dim << " " << base << " " << factor << " " << pos << " " << i;
            }
          }
          if (pos > 0) {
            EXPECT_NE(got, x0);  // it did rotate
          }
        }
      }
    }
  }
}

// Llama 3 rope scaling: angle i divided by freq_factors[i], in both forms.
TEST(RopeTest, FrequencyFactorsDivideEachAngle) {
  const size_t head_dim = 8;
  const std::vector<float> factors = {1.0f, 1.5f, 4.0f, 8.0f};
  const auto x0 = test::random_floats(2 * head_dim, 7);
  auto got = x0, table = x0;
  rope_norm_ref(got.data(), 2, head_dim, 5.0, 10000.0f, 1.0f, factors.data());
  std::vector<float> cs(head_dim / 2), sn(head_dim / 2);
  rope_angles(5.0, head_dim, 10000.0f, 1.0f, cs.data(), sn.data(), factors.data());
  rope_apply_f32(table.data(), 2, head_dim, cs.data(), sn.data());
  for (size_t h = 0; h < 2; ++h)
    for (size_t i = 0; i < head_dim / 2; ++i) {
      const double theta = 5.0 * std::pow(10000.0, -2.0 * static_cast<double>(i) / head_dim) / factors[i];
      const float a = x0[h * head_dim + 2 * i], b = x0[h * head_dim + 2 * i + 1];
      EXPECT_NEAR(got[h * head_dim + 2 * i], a * std::cos(theta) - b * std::sin(theta), 1e-6);
      EXPECT_NEAR(got[h * head_dim + 2 * i + 1], a * std::sin(theta) + b * std::cos(theta), 1e-6);
    }
  EXPECT_EQ(table, got);
}

// NEOX mode rotates (x[i], x[i + half]): the same as NORM mode on the rows permuted into
// adjacent pairs (what the llama converter does), and its table form equals its reference.
TEST(RopeTest, NeoxIsNormOnPermutedRows) {
  const size_t n_heads = 2, head_dim = 16, half = head_dim / 2;
  const std::vector<float> factors = {1, 1, 1, 2, 3, 4, 8, 8};
  for (double pos : {0.0, 3.0, 250.0}) {
    const auto x0 = test::random_floats(n_heads * head_dim, static_cast<uint32_t>(pos) + 11);
    auto neox = x0;
    std::vector<float> paired(x0.size());
    for (size_t h = 0; h < n_heads; ++h)
      for (size_t i = 0; i < half; ++i) {
        paired[h * head_dim + 2 * i] = x0[h * head_dim + i];
        paired[h * head_dim + 2 * i + 1] = x0[h * head_dim + i + half];
      }
    rope_neox_ref(neox.data(), n_heads, head_dim, pos, 10000.0f, 1.0f, factors.data());
    rope_norm_ref(paired.data(), n_heads, head_dim, pos, 10000.0f, 1.0f, factors.data());
    for (size_t h = 0; h < n_heads; ++h)
      for (size_t i = 0; i < half; ++i) {
        EXPECT_EQ(neox[h * head_dim + i], paired[h * head_dim + 2 * i]);
        EXPECT_EQ(neox[h * head_dim + i + half], paired[h * head_dim + 2 * i + 1]);
      }
    auto table = x0;
    std::vector<float> cs(half), sn(half);
    rope_angles(pos, head_dim, 10000.0f, 1.0f, cs.data(), sn.data(), factors.data());
    rope_apply_neox_f32(table.data(), n_heads, head_dim, cs.data(), sn.data());
    EXPECT_EQ(table, neox);
  }
}

}  // namespace
}  // namespace lmforge
