// Q6_K against super-blocks worked out by hand from ggml's quantize_row_q6_K_ref: inputs whose
// every group is {c, 0} valued, so make_qx_quants' search finds no strictly better scale than
// its first (all candidates fit exactly) and every float step below is exact.
#include <gtest/gtest.h>

#include <vector>

#include "quant/k_quants.h"

namespace lmforge {
namespace {

std::vector<uint8_t> q6_k(const std::vector<float>& x) {
  std::vector<uint8_t> q(x.size() / kQK_K * kQ6_KBlockBytes);
  quantize_row_q6_k(x.data(), q.data(), x.size());
  return q;
}

// Expected block: ql (128 B), qh (64 B), the 16 int8 scales, f16 d.
std::vector<uint8_t> block(uint8_t ql, const std::vector<uint8_t>& qh_pattern, const std::vector<int8_t>& scales,
                           uint16_t d) {
  std::vector<uint8_t> b(128, ql);
  for (size_t i = 0; i < 64; ++i) b.push_back(qh_pattern[i % qh_pattern.size()]);
  for (int8_t s : scales) b.push_back(static_cast<uint8_t>(s));
  b.push_back(static_cast<uint8_t>(d));
  b.push_back(static_cast<uint8_t>(d >> 8));
  return b;
}

TEST(Q6_K, ConstantOnesHaveTheHandComputedBytes) {
  // Each group: max 1, iscale -32, all l = -32 (stored 0); scale = sumlx/suml2 = -1/32. The
  // search's other candidates give the same ratio (not strictly better). Super-block:
  // iscale = -128 / (-1/32) = 4096, d = 2^-12 (f16 0x0C00), every scale -128; requantized
  // l = nearest(1 / (2^-12 * -128)) = -32, stored 0.
  const std::vector<float> x(256, 1.0f);
  EXPECT_EQ(q6_k(x), block(0x00, {0x00}, std::vector<int8_t>(16, -128), 0x0C00));
  std::vector<float> y(256);
  dequantize_row_q6_k(q6_k(x).data(), y.data(), 256);
  EXPECT_EQ(y, x);
}

TEST(Q6_K, NegativeConstantFlipsTheSuperScale) {
  // max -2: iscale 16, l = -32, scale = 1/16; d = 1 / (-128 * 16) = -2^-11 (f16 0x9000).
  const std::vector<float> x(256, -2.0f);
  EXPECT_EQ(q6_k(x), block(0x00, {0x00}, std::vector<int8_t>(16, -128), 0x9000));
  std::vector<float> y(256);
  dequantize_row_q6_k(q6_k(x).data(), y.data(), 256);
  EXPECT_EQ(y, x);
}

TEST(Q6_K, AlternatingZerosSetTheHighBits) {
  // Even elements 1 (l = -32, stored 0), odd ones 0 (l = 0, stored 32 = 0b10'0000: low nibble
  // 0, high bits 2). The scale is -1/32 as for all ones. qh byte l holds the high bits of
  // elements l, l + 32, l + 64, l + 96, all of l's parity: 0 for even l, 0b10101010 for odd.
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 2 == 0 ? 1.0f : 0.0f;
  EXPECT_EQ(q6_k(x), block(0x00, {0x00, 0xAA}, std::vector<int8_t>(16, -128), 0x0C00));
  std::vector<float> y(256);
  dequantize_row_q6_k(q6_k(x).data(), y.data(), 256);
  EXPECT_EQ(y, x);
}

TEST(Q6_K, ScalesFollowEachGroupsMagnitude) {
  // Group 15 is 2, the others 1: group scales -1/32 and -1/16; iscale = -128 / (-1/16) = 2048,
  // d = 2^-11 (0x1000); scales nearest(2048 * -1/32) = -64 and -128.
  std::vector<float> x(256, 1.0f);
  for (size_t i = 240; i < 256; ++i) x[i] = 2.0f;
  std::vector<int8_t> scales(16, -64);
  scales[15] = -128;
  EXPECT_EQ(q6_k(x), block(0x00, {0x00}, scales, 0x1000));
}

TEST(Q6_K, ZeroSuperBlockIsAllZeroBytes) {
  const std::vector<float> x(256, 0.0f);
  EXPECT_EQ(q6_k(x), std::vector<uint8_t>(kQ6_KBlockBytes, 0));
}

}  // namespace
}  // namespace lmforge
