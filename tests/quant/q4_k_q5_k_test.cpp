// Q4_K and Q5_K against super-blocks worked out by hand from ggml's quantize_row_q4_K_ref /
// quantize_row_q5_K_ref: constant groups, where make_qkx2_quants' first fit is exact (scale
// c / nmax, min 0) and every candidate of its search has all quants equal (determinant 0, so
// skipped), leaving only the 6-bit scale packing and the f16 super-scales to check.
#include <gtest/gtest.h>

#include <vector>

#include "quant/k_quants.h"

namespace lmforge {
namespace {

using QuantizeFn = void (*)(const float*, uint8_t*, size_t);

std::vector<uint8_t> quantize(QuantizeFn f, size_t block_bytes, const std::vector<float>& x) {
  std::vector<uint8_t> q(block_bytes);
  f(x.data(), q.data(), x.size());
  return q;
}

// d, dmin (little-endian f16), the 12 scale bytes, then `tail` (qh and/or qs).
std::vector<uint8_t> block(uint16_t d, uint16_t dmin, const std::vector<uint8_t>& scales,
                           const std::vector<uint8_t>& tail) {
  std::vector<uint8_t> b = {static_cast<uint8_t>(d), static_cast<uint8_t>(d >> 8),
                            static_cast<uint8_t>(dmin), static_cast<uint8_t>(dmin >> 8)};
  b.insert(b.end(), scales.begin(), scales.end());
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

// Every group scale 63 (0b11'1111), every min 0: bytes 0-3 hold scales 0-3 plus the high bits
// (0b11) of scales 4-7; bytes 4-7 mins 0-3 and mins 4-7's high bits (0); bytes 8-11 the low
// nibbles of scales 4-7 (15) and mins 4-7 (0).
const std::vector<uint8_t> kAllScales63 = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};

TEST(Q4_K, ConstantBlockHasTheHandComputedBytes) {
  // x = 15: min capped at 0, scale 15 / 15 = 1, all quants 15. d = f16(1 / 63) = 0x2410
  // (2^-6 * 1040/1024), dmin 0; scales nearest(63 * 1) = 63. Requantized against
  // 63 * d = 0.99975...: nearest(15.0037) = 15.
  const std::vector<float> x(256, 15.0f);
  EXPECT_EQ(quantize(quantize_row_q4_k, kQ4_KBlockBytes, x),
            block(0x2410, 0x0000, kAllScales63, std::vector<uint8_t>(128, 0xFF)));
  std::vector<float> y(256);
  dequantize_row_q4_k(quantize(quantize_row_q4_k, kQ4_KBlockBytes, x).data(), y.data(), 256);
  for (float v : y) EXPECT_EQ(v, 15.0f * 63.0f * (1040.0f / 1024.0f / 64.0f));
}

TEST(Q4_K, GroupScalesArePackedInSixBits) {
  // Group 7 is 30 (scale 2), the others 15 (scale 1): d = f16(2 / 63) = 0x2810, scales
  // nearest(31.5) = 32 (ties to even) for groups 0-6 and 63 for group 7. Packed: bytes 0-2 are
  // 32 | (32 >> 4) << 6 = 0xA0, byte 3 is 32 | 3 << 6 = 0xE0, bytes 8-10 the low nibble of 32
  // (0), byte 11 that of 63 (15). Requantized: 15 / (32 * d) = 14.77 and 30 / (63 * d) = 15.004,
  // both 15.
  std::vector<float> x(256, 15.0f);
  for (size_t i = 224; i < 256; ++i) x[i] = 30.0f;
  EXPECT_EQ(quantize(quantize_row_q4_k, kQ4_KBlockBytes, x),
            block(0x2810, 0x0000, {0xA0, 0xA0, 0xA0, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0x0F},
                  std::vector<uint8_t>(128, 0xFF)));
}

TEST(Q5_K, ConstantBlockHasTheHandComputedBytes) {
  // x = 31: scale 31 / 31 = 1, quants 31 (nibble 15 plus the fifth bit, every qh bit set);
  // d, dmin and the scales as for Q4_K's constant block.
  const std::vector<float> x(256, 31.0f);
  std::vector<uint8_t> tail(32, 0xFF);
  tail.resize(32 + 128, 0xFF);
  EXPECT_EQ(quantize(quantize_row_q5_k, kQ5_KBlockBytes, x), block(0x2410, 0x0000, kAllScales63, tail));
}

TEST(K4Scales, PackAndUnpackAreInverse) {
  const uint8_t scales[8] = {0, 1, 17, 63, 32, 5, 48, 63}, mins[8] = {63, 0, 2, 40, 16, 33, 1, 7};
  uint8_t packed[12] = {};
  put_scale_min_k4(scales, mins, packed);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, packed, &sc, &m);
    EXPECT_EQ(sc, scales[j]) << j;
    EXPECT_EQ(m, mins[j]) << j;
  }
}

}  // namespace
}  // namespace lmforge
