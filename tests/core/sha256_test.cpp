// SHA-256 against the FIPS 180-4 example digests, and streaming in pieces of every size against
// the one-shot digest.
#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace lmforge
