#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "quant/ggml_blocks.h"

namespace lmforge {
namespace {

uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

TEST(Q4_1, LayoutFollowsTheReference) {
  // 0, 1, ..., 31 scaled: min 0.0, max 31 * 0.25; d = (max - min) / 15.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j) * 0.25f;
  std::vector<uint8_t> q(kQ4_1BlockBytes);
  quantize_row_q4_1(x.data(), q.data(), 32);
  const float d = (31 * 0.25f) / 15.0f;
  EXPECT_EQ(u16_at(q.data()), fp32_to_fp16(d));
  EXPECT_EQ(u16_at(q.data() + 2), fp32_to_fp16(0.0f));
  for (int j = 0; j < 16; ++j) {
    // element j in the low nibble, element j + 16 in the high one; q = min(15, trunc(x/d + 0.5))
    const int lo = std::min(15, static_cast<int>(x[j] * (1.0f / d) + 0.5f));
    const int hi = std::min(15, static_cast<int>(x[j + 16] * (1.0f / d) + 0.5f));
    EXPECT_EQ(q[4 + j], lo | hi << 4) << j;
  }
}

TEST(Q4_1, RoundTripIsWithinHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.3f, 2.0f);
  std::vector<float> x(32 * 64), y(x.size());
  for (auto& v : x) v = nd(rng);
  std::vector<uint8_t> q(64 * kQ4_1BlockBytes);
  quantize_row_q4_1(x.data(), q.data(), x.size());
  dequantize_row_q4_1(q.data(), y.data(), x.size());
  for (size_t b = 0; b < 64; ++b) {
    const float d = fp16_to_fp32(u16_at(q.data() + b * kQ4_1BlockBytes));
    const float m = fp16_to_fp32(u16_at(q.data() + b * kQ4_1BlockBytes + 2));
    for (size_t j = 0; j < 32; ++j) {
      const size_t i = b * 32 + j;
      // f16 rounding of d and m adds a little to the half step
      EXPECT_LE(std::fabs(y[i] - x[i]), 0.5f * d + 16 * std::fabs(d) * 1e-3f + std::fabs(m) * 1e-3f + 1e-6f) << i;
    }
  }
}

TEST(Q4_1, ConstantBlockIsExact) {
  std::vector<float> x(32, -1.5f), y(32);
  std::vector<uint8_t> q(kQ4_1BlockBytes);
  quantize_row_q4_1(x.data(), q.data(), 32);
  dequantize_row_q4_1(q.data(), y.data(), 32);
  for (float v : y) EXPECT_EQ(v, -1.5f);
}

}  // namespace
}  // namespace lmforge
