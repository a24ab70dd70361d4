// SHA-256 against the FIPS 180-4 example digests, streaming in pieces of every size against
// the one-shot digest, and the SHA-NI compression against its portable twin.
#include "core/sha256.h"

#include "core/sha256_blocks.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lmforge {
namespace {

TEST(Sha256Test, FipsExamples) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>(i * 37 + 11));
  for (size_t len : {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300}) {
    const std::string s = text.substr(0, len);
    for (size_t piece : {1, 3, 63, 64, 100}) {
      Sha256 h;
      for (size_t at = 0; at < s.size(); at += piece) h.update(s.substr(at, piece));
      EXPECT_EQ(to_hex(h.finish()), sha256_hex(s)) << len << " " << piece;
    }
  }
}

// Same state after 0..40 blocks of pseudo-random bytes from several starting states. Skipped
// (with the reason) on a CPU without the SHA extensions, where only the portable form runs.
TEST(Sha256Test, ShaniBlocksMatchPortableTwin) {
  if (!sha256_has_shani()) GTEST_SKIP() << "this CPU has no SHA extensions";
  std::vector<uint8_t> data(64 * 40);
  uint32_t x = 12345;
  for (auto& b : data) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  for (size_t n = 0; n <= 40; n += (n < 4 ? 1 : 9)) {
    for (uint32_t seed : {0u, 7u, 0xdeadbeefu}) {
      uint32_t a[8], b[8];
      for (int i = 0; i < 8; ++i) a[i] = b[i] = seed * 2654435761u + static_cast<uint32_t>(i) * 40503u;
      sha256_blocks_portable(a, data.data(), n);
      sha256_blocks_shani(b, data.data(), n);
      for (int i = 0; i < 8; ++i) EXPECT_EQ(a[i], b[i]) << n << " blocks, word " << i;
    }
  }
}

}  // namespace
}  // namespace lmforge
