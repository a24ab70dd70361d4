#include "train/token_windows.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "core/error.h"
#include "train/training_data.h"

namespace lmforge {
namespace {

std::vector<int32_t> iota_tokens(size_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(TokenWindows, CountsWholeWindowsAndDropsThePartialTail) {
  // 11 tokens, ctx 4: windows [0..4], [4..8]; tokens 9, 10 would need a third window up to 12.
  const TokenWindows w(iota_tokens(11), 4, "t");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(std::vector<int32_t>(w.window(0).begin(), w.window(0).end()), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::vector<int32_t>(w.window(1).begin(), w.window(1).end()), (std::vector<int32_t>{4, 5, 6, 7, 8}));
  EXPECT_EQ(TokenWindows(iota_tokens(13), 4, "t").size(), 3u);  // exactly three windows: 0..12
  EXPECT_EQ(TokenWindows(iota_tokens(12), 4, "t").size(), 2u);  // one short of the third
  EXPECT_EQ(TokenWindows(iota_tokens(5), 4, "t").size(), 1u);
  EXPECT_THROW(w.window(2), Error);
}

TEST(TokenWindows, RefusesTooFewTokensAndZeroContext) {
  try {
    TokenWindows(iota_tokens(4), 4, "data.txt");
    FAIL() << "4 tokens filled a window of 5";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "data.txt");
    EXPECT_NE(e.message().find("do not fill one training window"), std::string::npos) << e.message();
  }
  EXPECT_THROW(TokenWindows(iota_tokens(100), 0, "data.txt"), Error);
  EXPECT_THROW(TokenWindows({}, 1, "data.txt"), Error);
}

class TrainingDataFile : public ::testing::Test {
 protected:
  void write(const std::string& bytes) {
    std::ofstream(path_, std::ios::binary) << bytes;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_ = ::testing::TempDir() + "lmforge-training-data-" + std::to_string(::getpid()) + ".txt";
};

// One token per byte: enough to see what the loader does around the tokenizer.
std::vector<int32_t> bytes_as_tokens(std::string_view text) { return std::vector<int32_t>(text.begin(), text.end()); }

TEST_F(TrainingDataFile, HashesTheBytesPutsBosFirstAndCutsWindows) {
  write("abc");
  const TrainingData d = load_training_data(path_, 2, 1, bytes_as_tokens);
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_EQ(d.windows.n_tokens(), 4u);
  EXPECT_EQ(d.windows.size(), 1u);
  EXPECT_EQ(d.windows.window(0)[0], 1);
  EXPECT_EQ(d.windows.window(0)[1], 'a');
  EXPECT_EQ(load_training_data(path_, 2, -1, bytes_as_tokens).windows.n_tokens(), 3u);  // no BOS
}

TEST_F(TrainingDataFile, RefusesEmptyShortAndNonTextData) {
  write("");
  try {
    load_training_data(path_, 2, 1, bytes_as_tokens);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path_);
    EXPECT_NE(e.message().find("empty"), std::string::npos) << e.message();
  }
  write("abc");
  EXPECT_THROW(load_training_data(path_, 4, 1, bytes_as_tokens), Error);  // 4 tokens, window of 5
  write("ab\xff");
  EXPECT_THROW(load_training_data(path_, 1, 1, bytes_as_tokens), Error);
  EXPECT_THROW(load_training_data(path_ + ".missing", 1, 1, bytes_as_tokens), Error);
}

}  // namespace
}  // namespace lmforge
