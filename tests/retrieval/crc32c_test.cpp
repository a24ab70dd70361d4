// CRC-32C: the published check value, and the hardware path against its scalar twin on every
// length and alignment around the 8-byte steps, and continuation over split buffers.
#include "retrieval/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lmforge::retrieval {
namespace {

TEST(Crc32cTest, CheckValueOfTheCastagnoliPolynomial) {
  // RFC 3720 (iSCSI) B.4 and every CRC catalogue: CRC-32C("123456789") = 0xE3069283.
  const std::string nine = "123456789";
  EXPECT_EQ(crc32c(nine.data(), nine.size()), 0xE3069283u);
  EXPECT_EQ(crc32c_scalar(nine.data(), nine.size()), 0xE3069283u);
  // RFC 3720 B.4: 32 bytes of zeros, and of 0xFF.
  const std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, FastPathMatchesScalarTwinAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<uint8_t> bytes(300);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n = 0; offset + n <= bytes.size(); ++n) {
      ASSERT_EQ(crc32c(bytes.data() + offset, n), crc32c_scalar(bytes.data() + offset, n)) << offset << " " << n;
    }
  }
}

TEST(Crc32cTest, ContinuesOverSplitBuffers) {
  std::mt19937 rng(8);
  std::vector<uint8_t> bytes(1000);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  const uint32_t whole = crc32c(bytes.data(), bytes.size());
  for (size_t cut : {0, 1, 7, 8, 333, 999, 1000}) {
    EXPECT_EQ(crc32c(bytes.data() + cut, bytes.size() - cut, crc32c(bytes.data(), cut)), whole) << cut;
    EXPECT_EQ(crc32c_scalar(bytes.data() + cut, bytes.size() - cut, crc32c_scalar(bytes.data(), cut)), whole) << cut;
  }
}

}  // namespace
}  // namespace lmforge::retrieval
