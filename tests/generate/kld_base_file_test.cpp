// The KL-divergence base file (llama.cpp's `_logits_` layout): row encoding worked out by hand,
// a write/read round trip, and every header or row the reader must refuse.
#include "generate/kld_base_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

float row_float(const std::vector<uint16_t>& row, size_t word) {
  float f;
  std::memcpy(&f, &row[word], sizeof f);
  return f;
}

TEST(KldRow, EncodesLogitsAsLlamaCppDoes) {
  // logits 1, 2, 3: the range is 2 nats, so scale = 2/65535 and the middle logit sits at
  // 32767.5 codes, rounded to the even 32768; the minimum is code 0 (not above min_logit).
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  std::vector<uint16_t> row(kld_row_words(3));
  ASSERT_EQ(row.size(), 8u);  // 4 header words, 3 codes, 1 padding word
  encode_kld_row(logits, row);
  EXPECT_FLOAT_EQ(row_float(row, 0), 2.0f / 65535.0f);
  // min_log_prob = 1 - 3 - ln(1 + e^-1 + e^-2) = -2.40760596...
  EXPECT_NEAR(row_float(row, 2), -2.4076059644, 1e-6);
  EXPECT_EQ(row[4], 0);
  EXPECT_EQ(row[5], 32768);
  EXPECT_EQ(row[6], 65535);
  EXPECT_EQ(row[7], 0);
}

TEST(KldRow, KeepsOnlySixteenNatsBelowTheTop) {
  const std::vector<float> logits = {0.0f, -100.0f, -8.0f, -16.0f};
  std::vector<uint16_t> row(kld_row_words(4));
  ASSERT_EQ(row.size(), 8u);
  encode_kld_row(logits, row);
  EXPECT_FLOAT_EQ(row_float(row, 0), 16.0f / 65535.0f);
  EXPECT_EQ(row[4], 65535);
  EXPECT_EQ(row[5], 0);      // far below the range: clamped to its bottom
  EXPECT_EQ(row[6], 32768);  // 8 of 16 nats: 32767.5 -> even
  EXPECT_EQ(row[7], 0);      // exactly at the bottom
}

TEST(KldRow, EqualLogitsGiveScaleZero) {
  const std::vector<float> logits(5, 2.5f);
  std::vector<uint16_t> row(kld_row_words(5));
  encode_kld_row(logits, row);
  EXPECT_EQ(row_float(row, 0), 0.0f);
  EXPECT_NEAR(row_float(row, 2), -std::log(5.0), 1e-6);
  for (size_t i = 4; i < row.size(); ++i) EXPECT_EQ(row[i], 0);
}

class KldBaseFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge-kld-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file of 2 chunks of 8 tokens (3 scored rows each) over a vocabulary of 5.
  std::string write_valid(const std::string& name) {
    const std::string path = (dir_ / name).string();
    std::vector<int32_t> tokens(16);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i % 5);
    KldBaseWriter w(path, false, 8, 5, 2, tokens);
    for (int r = 0; r < 6; ++r) {
      std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
      logits[static_cast<size_t>(r % 5)] = 6.0f;
      w.add_row(logits);
    }
    w.commit();
    return path;
  }
  static std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  std::string write_bytes(const std::string& name, const std::vector<uint8_t>& b) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                                static_cast<std::streamsize>(b.size()));
    return path;
  }
  // The reader's refusal of `bytes`: its message and byte offset.
  std::pair<std::string, uint64_t> refusal(const std::vector<uint8_t>& bytes, uint32_t n_vocab = 5) {
    try {
      KldBaseFile::parse(bytes, "x.kld", n_vocab);
    } catch (const Error& e) {
      return {e.message(), e.offset().value_or(~0ull)};
    }
    ADD_FAILURE() << "accepted";
    return {};
  }
  fs::path dir_;
};

TEST_F(KldBaseFileTest, RoundTrip) {
  const std::string path = write_valid("base.kld");
  // 20 header bytes + 16 tokens * 4 + 6 rows * (2*3 + 4 words) * 2 bytes
  EXPECT_EQ(fs::file_size(path), 20u + 64u + 6u * 10u * 2u);
  const KldBaseFile f = KldBaseFile::open(path, 5);
  EXPECT_EQ(f.n_ctx(), 8u);
  EXPECT_EQ(f.n_vocab(), 5u);
  EXPECT_EQ(f.n_chunks(), 2u);
  EXPECT_EQ(f.rows_per_chunk(), 3u);
  ASSERT_EQ(f.tokens().size(), 16u);
  EXPECT_EQ(f.tokens()[7], 2);
  std::vector<float> lp;
  f.decode_row(4, lp);  // logits {0, 1, 2, 3, 6}
  ASSERT_EQ(lp.size(), 5u);
  const double norm = std::log(1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(6.0));
  const double want[5] = {0 - norm, 1 - norm, 2 - norm, 3 - norm, 6 - norm};
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(lp[i], want[i], 6.0 / 65535) << i;
  EXPECT_THROW(f.decode_row(6, lp), Error);
}

TEST_F(KldBaseFileTest, WriterRefusesWrongRowCountsAndExistingFiles) {
  const std::string path = write_valid("base.kld");
  const std::vector<int32_t> tokens(16, 0);
  EXPECT_THROW(KldBaseWriter(path, false, 8, 5, 2, tokens), Error);
  {
    KldBaseWriter w((dir_ / "short.kld").string(), false, 8, 5, 2, tokens);
    w.add_row(std::vector<float>(5, 0.0f));
    EXPECT_THROW(w.commit(), Error);
    EXPECT_THROW(w.add_row(std::vector<float>(4, 0.0f)), Error);
  }
  EXPECT_FALSE(fs::exists(dir_ / "short.kld"));  // never committed: nothing left behind
  EXPECT_THROW(KldBaseWriter((dir_ / "t.kld").string(), false, 8, 5, 2, std::vector<int32_t>(15, 0)), Error);
}

TEST_F(KldBaseFileTest, RefusesCorruptFiles) {
  const std::vector<uint8_t> good = read_bytes(write_valid("base.kld"));
  auto with = [&](size_t at, const void* v, size_t n) {
    std::vector<uint8_t> b = good;
    std::memcpy(b.data() + at, v, n);
    return b;
  };
  EXPECT_EQ(refusal(with(0, "_logitz_", 8)).second, 0u);
  EXPECT_EQ(refusal({good.begin(), good.begin() + 10}).first.find("truncated"), 0u);
  const uint32_t huge_ctx = 1u << 30, small_ctx = 4;
  EXPECT_EQ(refusal(with(8, &huge_ctx, 4)).second, 8u);
  EXPECT_EQ(refusal(with(8, &small_ctx, 4)).second, 8u);
  // A context the header allows but the file cannot hold: truncated at the end of the file.
  const uint32_t big_ctx = 1u << 20;
  EXPECT_EQ(refusal(with(8, &big_ctx, 4)).second, good.size());
  EXPECT_EQ(refusal(good, 6).second, 12u);  // the model's vocabulary is 6
  const int32_t neg = -1, zero = 0, big_chunks = 0x7fffffff;
  EXPECT_EQ(refusal(with(12, &neg, 4)).second, 12u);
  EXPECT_EQ(refusal(with(16, &zero, 4)).second, 16u);
  EXPECT_EQ(refusal(with(16, &big_chunks, 4)).second, good.size());
  const int32_t bad_token = 5;
  EXPECT_EQ(refusal(with(20 + 4 * 3, &bad_token, 4)).second, 32u);
  EXPECT_EQ(refusal({good.begin(), good.end() - 1}).second, good.size() - 1);
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(refusal(trailing).second, good.size());
  // Rows are checked as they are decoded: a NaN scale, a probability above 1.
  const uint64_t row1 = 20 + 64 + 20;
  const float nan = std::nanf(""), one = 1.0f;
  for (const auto& [what, bytes] : {std::pair{"nan", with(row1, &nan, 4)}, std::pair{"p>1", with(row1 + 4, &one, 4)}}) {
    const KldBaseFile f = KldBaseFile::parse(bytes, "x.kld", 5);
    std::vector<float> lp;
    f.decode_row(0, lp);
    try {
      f.decode_row(1, lp);
      ADD_FAILURE() << what << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.offset().value_or(0), row1) << what;
    }
  }
}

}  // namespace
}  // namespace lmforge
