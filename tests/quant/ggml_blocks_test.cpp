#include "quant/ggml_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"

namespace lmforge {
namespace {

uint16_t block_scale(const uint8_t* block) {
  uint16_t d;
  std::memcpy(&d, block, 2);
  return d;
}

TEST(Q8_0, LayoutAndRoundingFollowTheReference) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) * 0.5f;  // -8 .. 7.5
  std::vector<uint8_t> q(34);
  quantize_row_q8_0(x.data(), q.data(), 32);
  const float d = 8.0f / 127.0f;
  EXPECT_EQ(block_scale(q.data()), fp32_to_fp16(d));
  for (int j = 0; j < 32; ++j) {
    const int expect = static_cast<int>(std::roundf(x[j] * (1.0f / d)));
    EXPECT_EQ(static_cast<int8_t>(q[2 + j]), expect) << j;
  }
  EXPECT_EQ(static_cast<int8_t>(q[2]), -127);  // the extreme maps to +-127
}

TEST(Q4_0, NibbleOrderAndExtremeMapToReference) {
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f;  // largest magnitude, negative: d = -4 / -8 = 0.5, maps to nibble 0
  x[1] = 1.0f;   // 1 / 0.5 = 2 -> 10
  x[16] = 3.5f;  // 7 -> 15 (clamped from 15.5 -> 15)
  x[17] = -1.0f; // -2 -> 6
  std::vector<uint8_t> q(18);
  quantize_row_q4_0(x.data(), q.data(), 32);
  EXPECT_EQ(fp16_to_fp32(block_scale(q.data())), 0.5f);
  EXPECT_EQ(q[2] & 0x0F, 0);   // element 0: low nibble of byte 0
  EXPECT_EQ(q[2] >> 4, 15);    // element 16: high nibble of byte 0
  EXPECT_EQ(q[3] & 0x0F, 10);  // element 1
  EXPECT_EQ(q[3] >> 4, 6);     // element 17
  EXPECT_EQ(q[4] & 0x0F, 8);   // zero -> 8
  std::vector<float> y(32);
  dequantize_row_q4_0(q.data(), y.data(), 32);
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_EQ(y[16], 3.5f);
  EXPECT_EQ(y[17], -1.0f);
}

TEST(QuantBlocks, RoundTripErrorIsWithinHalfAStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(32 * 64);
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> q8(64 * 34), q4(64 * 18);
  std::vector<float> y8(x.size()), y4(x.size());
  quantize_row_q8_0(x.data(), q8.data(), x.size());
  quantize_row_q4_0(x.data(), q4.data(), x.size());
  dequantize_row_q8_0(q8.data(), y8.data(), x.size());
  dequantize_row_q4_0(q4.data(), y4.data(), x.size());
  for (size_t b = 0; b < 64; ++b) {
    const float d8 = fp16_to_fp32(block_scale(&q8[b * 34]));
    const float d4 = std::fabs(fp16_to_fp32(block_scale(&q4[b * 18])));
    for (size_t j = 0; j < 32; ++j) {
      const size_t i = b * 32 + j;
      // Half a step, plus the f16 rounding of the scale applied to the largest code.
      EXPECT_LE(std::fabs(x[i] - y8[i]), 0.5f * d8 + 127.0f * d8 * 1e-3f) << i;
      EXPECT_LE(std::fabs(x[i] - y4[i]), 1.0f * d4 + 8.0f * d4 * 1e-3f) << i;
    }
  }
}

TEST(QuantBlocks, AllZeroBlockHasZeroScale) {
  std::vector<float> x(32, 0.0f), y(32, 1.0f);
  std::vector<uint8_t> q(34);
  quantize_row_q8_0(x.data(), q.data(), 32);
  EXPECT_EQ(block_scale(q.data()), 0);
  dequantize_row_q8_0(q.data(), y.data(), 32);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace lmforge
