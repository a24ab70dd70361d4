// code_histogram() against the type table's decoders: blocks with random code bytes and a
// header that makes decoding the identity (d = 1, minimum 0, K-quant sub-scales 1) decode to
// their codes (shifted for the zero-offset types), so counting decoded values gives the expected
// histogram without restating the byte layouts here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/code_histogram.h"
#include "quant/type_traits.h"

namespace lmforge {
namespace {

struct Case {
  DType type;
  size_t block_elems, block_bytes;
  std::vector<uint8_t> header;  // the bytes before the random part, making decode ~ the code
  float offset;                 // decoded value + offset = code
  int shift;                    // bucket = code >> shift
};

std::vector<uint8_t> random_blocks(const Case& c, size_t blocks, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(blocks * c.block_bytes);
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t* blk = data.data() + b * c.block_bytes;
    for (size_t i = 0; i < c.block_bytes; ++i) blk[i] = static_cast<uint8_t>(rng());
    for (size_t i = 0; i < c.header.size(); ++i) blk[i] = c.header[i];
  }
  return data;
}

TEST(CodeHistogram, MatchesDecodedCodes) {
  const std::vector<Case> cases = {
      {DType::Q4_0, 32, 18, {0x00, 0x3C}, 8, 0},
      {DType::Q4_1, 32, 20, {0x00, 0x3C, 0x00, 0x00}, 0, 0},
      {DType::Q5_0, 32, 22, {0x00, 0x3C}, 16, 1},  // qh stays random: the fifth bits count too
      {DType::Q5_1, 32, 24, {0x00, 0x3C, 0x00, 0x00}, 0, 1},
      // d = 1, dmin = 0, every 6-bit sub-block scale 1 and min 0
      {DType::Q4_K, 256, 144, {0x00, 0x3C, 0x00, 0x00, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}, 0, 0},
  };
  for (const auto& c : cases) {
    const size_t blocks = 7;
    const auto data = random_blocks(c, blocks, 42);
    std::vector<float> decoded(blocks * c.block_elems);
    decode_row(c.type, data.data(), decoded.data(), decoded.size());
    CodeHistogram expected{};
    for (float v : decoded) {
      const int code = static_cast<int>(std::lround(v + c.offset));
      ASSERT_GE(code, 0);
      ASSERT_LT(code >> c.shift, 16);
      ++expected[code >> c.shift];
    }
    const auto got = code_histogram(c.type, data.data(), decoded.size());
    ASSERT_TRUE(got.has_value()) << dtype_name(c.type);
    EXPECT_EQ(*got, expected) << dtype_name(c.type);
    EXPECT_TRUE(has_code_histogram(c.type));
  }
}

TEST(CodeHistogram, OtherTypesHaveNone) {
  const std::vector<uint8_t> bytes(256);
  for (DType t : {DType::F16, DType::Q8_0, DType::Q6_K, DType::Q2_K}) {
    EXPECT_FALSE(has_code_histogram(t));
    EXPECT_FALSE(code_histogram(t, bytes.data(), 0).has_value());
  }
}

}  // namespace
}  // namespace lmforge
