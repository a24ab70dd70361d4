// Q5_0 and Q5_1 against blocks worked out by hand from ggml's reference quantizers
// (quantize_row_q5_0_ref / quantize_row_q5_1_ref): inputs are chosen so that every step of the
// algorithm is exact, so the expected bytes follow from the format description alone.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "quant/q5.h"

namespace lmforge {
namespace {

// A block's expected bytes: the f16 fields, the little-endian qh word, then the 16 qs bytes.
std::vector<uint8_t> block(std::vector<uint8_t> head, uint32_t qh, const std::vector<uint8_t>& qs) {
  for (int i = 0; i < 4; ++i) head.push_back(static_cast<uint8_t>(qh >> (8 * i)));
  head.insert(head.end(), qs.begin(), qs.end());
  return head;
}

// qs of a block whose quants are q[j] = j: byte j holds j low and (j + 16) & 15 = j high.
std::vector<uint8_t> ramp_qs() {
  std::vector<uint8_t> qs(16);
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(j * 0x11);
  return qs;
}

std::vector<uint8_t> q5_0(const std::vector<float>& x) {
  std::vector<uint8_t> q(kQ5_0BlockBytes);
  quantize_row_q5_0(x.data(), q.data(), x.size());
  return q;
}
std::vector<uint8_t> q5_1(const std::vector<float>& x) {
  std::vector<uint8_t> q(kQ5_1BlockBytes);
  quantize_row_q5_1(x.data(), q.data(), x.size());
  return q;
}

TEST(Q5_0, RampBlockHasTheHandComputedBytes) {
  // x = j - 16: amax 16 at j = 0 with max = -16, so d = -16 / -16 = 1 and q = trunc(x + 16.5) = j;
  // quants 16..31 carry the fifth bit: qh = 0xFFFF0000.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  EXPECT_EQ(q5_0(x), block({0x00, 0x3C}, 0xFFFF0000u, ramp_qs()));
  std::vector<float> y(32);
  dequantize_row_q5_0(q5_0(x).data(), y.data(), 32);
  EXPECT_EQ(y, x);
}

TEST(Q5_0, OutlierSetsTheSignOfTheScale) {
  // One positive outlier 8: d = 8 / -16 = -0.5 (f16 0xB800), id = -2. The outlier maps to
  // trunc(-16 + 16.5) = 0, every zero to 16 (nibble 0, fifth bit set): qh has all bits but bit 5.
  std::vector<float> x(32, 0.0f);
  x[5] = 8.0f;
  EXPECT_EQ(q5_0(x), block({0x00, 0xB8}, 0xFFFFFFDFu, std::vector<uint8_t>(16, 0)));
  std::vector<float> y(32);
  dequantize_row_q5_0(q5_0(x).data(), y.data(), 32);
  EXPECT_EQ(y, x);
}

TEST(Q5_0, OppositeExtremeIsClampedTo31) {
  // -1 comes first among the two of magnitude 1: d = 1/16 (f16 0x2C00), id = 16. -1 maps to 0,
  // +1 to trunc(32.5) = 32, clamped to 31 (nibble 15, fifth bit), zeros to 16.
  std::vector<float> x(32, 0.0f);
  x[0] = -1.0f;
  x[1] = 1.0f;
  std::vector<uint8_t> qs(16, 0);
  qs[1] = 0x0F;
  EXPECT_EQ(q5_0(x), block({0x00, 0x2C}, 0xFFFFFFFEu, qs));
  std::vector<float> y(32);
  dequantize_row_q5_0(q5_0(x).data(), y.data(), 32);
  EXPECT_EQ(y[1], 15.0f / 16.0f);
}

TEST(Q5_1, RampBlockHasTheHandComputedBytes) {
  // x = j / 2: min 0, d = 15.5 / 31 = 0.5 (f16 0x3800), m = 0, q = trunc(j + 0.5) = j.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j) * 0.5f;
  EXPECT_EQ(q5_1(x), block({0x00, 0x38, 0x00, 0x00}, 0xFFFF0000u, ramp_qs()));
  std::vector<float> y(32);
  dequantize_row_q5_1(q5_1(x).data(), y.data(), 32);
  EXPECT_EQ(y, x);
}

TEST(Q5_1, NegativeMinimumIsTheOffset) {
  // x = j - 20: min -20 (f16 0xCD00), d = 31 / 31 = 1 (0x3C00), q = j.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 20);
  EXPECT_EQ(q5_1(x), block({0x00, 0x3C, 0x00, 0xCD}, 0xFFFF0000u, ramp_qs()));
}

TEST(Q5_1, ConstantBlockIsAllOffset) {
  // min = max = 3: d = 0, so every q is trunc(0.5) = 0 and m = 3 (f16 0x4200) holds the value.
  const std::vector<float> x(32, 3.0f);
  EXPECT_EQ(q5_1(x), block({0x00, 0x00, 0x00, 0x42}, 0u, std::vector<uint8_t>(16, 0)));
  std::vector<float> y(32);
  dequantize_row_q5_1(q5_1(x).data(), y.data(), 32);
  EXPECT_EQ(y, x);
}

}  // namespace
}  // namespace lmforge
