// GPTQ bit packing against the checkpoint layout as the format notes spell it out word by word
// (/work/shared/reference/gptq.md section 2.2, from AutoGPTQ's QuantLinear.pack): for 2/4/8 bits
// the smallest k in the least significant bits, for 3 bits the three-word pattern with codes 10
// and 21 straddling words. The expected words are built here from those rules, independently of
// the stream formulation the packer uses.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "quant/gptq_packing.h"

namespace lmforge {
namespace {

// One column of 32 codes packed the way the 3-bit checkpoints do it, rule by rule.
std::vector<uint32_t> three_bit_words_by_rule(const std::vector<uint8_t>& c) {
  std::vector<uint32_t> w(3, 0);
  for (int j = 0; j < 10; ++j) w[0] |= uint32_t{c[j]} << (3 * j);
  w[0] |= (uint32_t{c[10]} & 3u) << 30;
  w[1] |= (uint32_t{c[10]} >> 2) & 1u;
  for (int j = 0; j < 10; ++j) w[1] |= uint32_t{c[11 + j]} << (3 * j + 1);
  w[1] |= (uint32_t{c[21]} & 1u) << 31;
  w[2] |= (uint32_t{c[21]} >> 1) & 3u;
  for (int j = 0; j < 10; ++j) w[2] |= uint32_t{c[22 + j]} << (3 * j + 2);
  return w;
}

std::vector<uint8_t> random_codes(size_t n, int bits, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> c(n);
  for (auto& v : c) v = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
  return c;
}

TEST(GptqPacking, FourBitsSmallestKInLowestNibble) {
  std::vector<uint8_t> codes(8);  // one column, k = 0..7
  for (int k = 0; k < 8; ++k) codes[k] = static_cast<uint8_t>(k + 1);
  uint32_t word = 0;
  gptq_pack_columns(codes.data(), 8, 1, 4, &word);
  EXPECT_EQ(word, 0x87654321u);
}

TEST(GptqPacking, TwoAndEightBitsByRule) {
  for (int bits : {2, 8}) {
    const int per = 32 / bits;
    const auto codes = random_codes(per, bits, 7 + bits);
    uint32_t expected = 0;
    for (int j = 0; j < per; ++j) expected |= uint32_t{codes[j]} << (bits * j);
    uint32_t word = 0;
    gptq_pack_columns(codes.data(), per, 1, bits, &word);
    EXPECT_EQ(word, expected) << bits << " bits";
  }
}

TEST(GptqPacking, ThreeBitsStraddleWordsAsCheckpointsDo) {
  const uint64_t n_cols = 3;
  const auto codes = random_codes(32 * n_cols, 3, 11);  // [32][3]
  std::vector<uint32_t> packed(3 * n_cols);
  gptq_pack_columns(codes.data(), 32, n_cols, 3, packed.data());
  for (uint64_t n = 0; n < n_cols; ++n) {
    std::vector<uint8_t> column(32);
    for (int k = 0; k < 32; ++k) column[k] = codes[k * n_cols + n];
    const auto expected = three_bit_words_by_rule(column);
    for (int w = 0; w < 3; ++w) EXPECT_EQ(packed[w * n_cols + n], expected[w]) << "column " << n << " word " << w;
  }
  // qzeros use the same stream along a row.
  std::vector<uint8_t> row(32);
  for (int k = 0; k < 32; ++k) row[k] = codes[k * n_cols];
  std::vector<uint32_t> zeros(3);
  gptq_pack_rows(row.data(), 1, 32, 3, zeros.data());
  EXPECT_EQ(zeros, three_bit_words_by_rule(row));
}

TEST(GptqPacking, RoundTripsEveryWidth) {
  for (int bits : {2, 3, 4, 8}) {
    const uint64_t k_rows = 64, n_cols = 96;  // both multiples of 32: every width packs evenly
    ASSERT_TRUE(gptq_packs_evenly(k_rows, bits));
    const auto codes = random_codes(k_rows * n_cols, bits, 100 + bits);
    std::vector<uint32_t> qweight(gptq_packed_words(k_rows, bits) * n_cols);
    gptq_pack_columns(codes.data(), k_rows, n_cols, bits, qweight.data());
    std::vector<uint8_t> back(codes.size());
    gptq_unpack_columns(qweight.data(), k_rows, n_cols, bits, back.data());
    EXPECT_EQ(back, codes) << bits << " bits, columns";

    std::vector<uint32_t> qzeros(k_rows * gptq_packed_words(n_cols, bits));
    gptq_pack_rows(codes.data(), k_rows, n_cols, bits, qzeros.data());
    gptq_unpack_rows(qzeros.data(), k_rows, n_cols, bits, back.data());
    EXPECT_EQ(back, codes) << bits << " bits, rows";
  }
}

TEST(GptqPacking, EvenPackingAndWidths) {
  EXPECT_TRUE(gptq_packs_evenly(8, 4));
  EXPECT_FALSE(gptq_packs_evenly(12, 4));
  EXPECT_TRUE(gptq_packs_evenly(32, 3));
  EXPECT_FALSE(gptq_packs_evenly(16, 3));
  EXPECT_FALSE(gptq_packs_evenly(32, 5));
  EXPECT_FALSE(gptq_bits_supported(6));
}

TEST(GptqPacking, V1ZeroPointsAreStoredMinusOne) {
  EXPECT_EQ(gptq_v1_stored_zero(8, 4), 7);  // symmetric 4-bit: every nibble 7
  EXPECT_EQ(gptq_v1_stored_zero(0, 4), 15);  // a zero of 0 wraps...
  EXPECT_EQ(gptq_v1_zero_from_field(15), 16);  // ...and is read back as 16, as v1 kernels do
  EXPECT_EQ(gptq_v1_zero_from_field(gptq_v1_stored_zero(3, 2)), 3);
}

}  // namespace
}  // namespace lmforge
