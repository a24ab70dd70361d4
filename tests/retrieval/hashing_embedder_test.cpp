// The model-free hashing embedder: deterministic, normalized, case-blind, sensitive to words
// (not to punctuation or spacing), and its "hash:DIM" spec parsed strictly.
#include "retrieval/hashing_embedder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace lmforge::retrieval {
namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(HashingEmbedderTest, NormalizedDeterministicAndWordBased) {
  HashingEmbedder e(64);
  const std::vector<std::string> texts = {"The cat sat.", "the CAT   sat", "a dog ran", "", "!!! ..."};
  const auto v = e.embed(texts);
  ASSERT_EQ(v.size(), texts.size());
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(v[i].size(), 64u);
    EXPECT_NEAR(dot(v[i], v[i]), 1.0, 1e-6) << i;
  }
  EXPECT_EQ(v[0], v[1]) << "case and punctuation do not matter";
  EXPECT_LT(dot(v[0], v[2]), 0.9);
  EXPECT_EQ(dot(v[3], v[3]), 0.0) << "nothing to embed: all zeros";
  EXPECT_EQ(dot(v[4], v[4]), 0.0);
  EXPECT_EQ(e.embed(texts), v);
  const auto fp = e.fingerprint();
  EXPECT_EQ(fp.architecture, "hashing");
  EXPECT_EQ(fp.dim, 64u);
  EXPECT_EQ(fp.spec, "hash:64");
  EXPECT_FALSE(fp.same_model(HashingEmbedder(32).fingerprint()));
}

TEST(HashingEmbedderTest, SpecsAreParsedStrictly) {
  EXPECT_EQ(parse_hashing_spec("hash:384"), 384u);
  EXPECT_EQ(parse_hashing_spec("hash:1"), 1u);
  EXPECT_EQ(parse_hashing_spec("hash:65536"), 65536u);
  EXPECT_FALSE(parse_hashing_spec("models/bge-small"));
  EXPECT_FALSE(parse_hashing_spec("hash"));
  for (const char* bad : {"hash:", "hash:0", "hash:65537", "hash:-3", "hash:12a", "hash:9999999"}) {
    EXPECT_THROW(parse_hashing_spec(bad), UsageError) << bad;
  }
}

}  // namespace
}  // namespace lmforge::retrieval
