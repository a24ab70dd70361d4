// The importance-weighted quantizers (quant/weighted_quantize.h). Byte-identity with ggml is
// proved by oracle.imatrix against llama-quantize --imatrix; these tests pin what holds without
// llama.cpp: no weights means the reference path, every code decodes, and weighting the error
// by importance lowers the importance-weighted error compared with the reference quantizers.
#include "quant/weighted_quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/k_quants.h"
#include "quant/k_quants_common.h"
#include "quant/type_traits.h"

namespace lmforge {
namespace {

const DType kWeighted[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K,
                           DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<float> row_of(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = d(g) * (1.0f + 3.0f * static_cast<float>(g() % 8 == 0));  // some outliers
  return x;
}

// Importance that varies by four orders of magnitude across columns, as real activations do.
std::vector<float> importance_of(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<float> w(n);
  for (auto& v : w) v = std::pow(10.0f, static_cast<float>(g() % 4000) / 1000.0f - 2.0f);
  return w;
}

std::vector<uint8_t> encode(DType t, const std::vector<float>& x, const float* w) {
  std::vector<uint8_t> out(*dtype_nbytes(t, x.size()));
  encode_row_weighted(t, x.data(), out.data(), x.size(), w);
  return out;
}

double weighted_error(DType t, const std::vector<uint8_t>& q, const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<float> y(x.size());
  decode_row(t, q.data(), y.data(), x.size());
  double e = 0;
  for (size_t i = 0; i < x.size(); ++i) e += double{w[i]} * (double{y[i]} - x[i]) * (double{y[i]} - x[i]);
  return e;
}

TEST(WeightedQuantize, WithoutWeightsEveryTypeIsTheReferencePath) {
  const auto x = row_of(512, 1);
  for (DType t : kWeighted) {
    std::vector<uint8_t> ref(*dtype_nbytes(t, x.size()));
    encode_row(t, x.data(), ref.data(), x.size());
    EXPECT_EQ(encode(t, x, nullptr), ref) << dtype_name(t);
    EXPECT_TRUE(uses_importance_weights(t)) << dtype_name(t);
  }
  EXPECT_FALSE(uses_importance_weights(DType::Q8_0));
  EXPECT_FALSE(uses_importance_weights(DType::F16));
  // Types that ignore weights (as ggml's quantize_q8_0 does) give the same bytes with them.
  const auto w = importance_of(512, 2);
  std::vector<uint8_t> ref(*dtype_nbytes(DType::Q8_0, x.size()));
  encode_row(DType::Q8_0, x.data(), ref.data(), x.size());
  EXPECT_EQ(encode(DType::Q8_0, x, w.data()), ref);
}

TEST(WeightedQuantize, Q6KWithNullWeightsIsBitForBitTheReference) {
  const auto x = row_of(768, 3);
  std::vector<uint8_t> a(*dtype_nbytes(DType::Q6_K, x.size())), b(a.size());
  quantize_row_q6_k(x.data(), a.data(), x.size());
  quantize_row_q6_k_weighted(x.data(), b.data(), x.size(), nullptr);
  EXPECT_EQ(a, b);
}

TEST(WeightedQuantize, ImportanceLowersTheImportanceWeightedError) {
  for (DType t : kWeighted) {
    double weighted = 0, reference = 0;
    for (uint32_t r = 0; r < 24; ++r) {
      const auto x = row_of(512, 100 + r);
      const auto w = importance_of(512, 200 + r);
      weighted += weighted_error(t, encode(t, x, w.data()), x, w);
      reference += weighted_error(t, encode(t, x, nullptr), x, w);
    }
    EXPECT_LT(weighted, 0.95 * reference) << dtype_name(t) << ": " << weighted << " vs " << reference;
  }
}

TEST(WeightedQuantize, UniformImportanceStillDecodesCloseToTheInput) {
  for (DType t : kWeighted) {
    const auto x = row_of(256, 7);
    const std::vector<float> w(256, 1.0f);
    const auto q = encode(t, x, w.data());
    double err = 0, norm = 0;
    std::vector<float> y(x.size());
    decode_row(t, q.data(), y.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      err += (y[i] - x[i]) * (y[i] - x[i]);
      norm += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err / norm), 0.5) << dtype_name(t);  // even 2-bit keeps the shape
  }
}

TEST(WeightedQuantize, AllZeroRowsStayZero) {
  const std::vector<float> x(256, 0.0f), w(256, 1.0f);
  for (DType t : kWeighted) {
    std::vector<float> y(256, 1.0f);
    const auto q = encode(t, x, w.data());
    decode_row(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

TEST(MakeQpQuants, CodesStayInRangeAndFitTheValues) {
  const float x[8] = {0.5f, 1.0f, 0.0f, 2.5f, 1.75f, 0.25f, 3.0f, 2.0f};
  const float w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  uint8_t L[8];
  const float scale = make_qp_quants(8, 15, x, L, w);
  ASSERT_GT(scale, 0.0f);
  for (int i = 0; i < 8; ++i) {
    EXPECT_LE(L[i], 15);
    EXPECT_NEAR(scale * L[i], x[i], scale) << i;
  }
  const float zeros[8] = {};
  EXPECT_EQ(make_qp_quants(8, 15, zeros, L, w), 0.0f);
}

}  // namespace
}  // namespace lmforge
