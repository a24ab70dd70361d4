// formats/imatrix: both imatrix layouts written and read back, llama-quantize's derivation of
// column weights, and hostile files (every truncation of a .dat, bad values) refused with an
// Error, never a crash.
#include "formats/imatrix/imatrix_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"

namespace lmforge {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("imatrix_" + name)).string();
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void put_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

ImatrixData sample() {
  ImatrixData d;
  d.entries["blk.0.attn_q.weight"] = {{4.0f, 8.0f, 0.0f, 2.0f}, {4}};
  d.entries["blk.0.ffn_down.weight"] = {{1.0f, 3.0f, 5.0f, 7.0f, 9.0f, 11.0f}, {6}};
  d.entries["experts"] = {{2.0f, 2.0f, 3.0f, 3.0f}, {2, 0}};  // two matrices, one never used
  d.datasets = {"calibration.txt"};
  d.chunk_count = 3;
  d.chunk_size = 2;
  return d;
}

TEST(ImatrixFile, GgufRoundTripKeepsEverything) {
  const std::string p = temp_path("roundtrip.gguf");
  const ImatrixData d = sample();
  write_imatrix_gguf(d, p, true);
  const ImatrixData r = read_imatrix_file(p);
  EXPECT_FALSE(r.legacy);
  EXPECT_EQ(r.datasets, d.datasets);
  EXPECT_EQ(r.chunk_count, 3u);
  EXPECT_EQ(r.chunk_size, 2u);
  ASSERT_EQ(r.entries.size(), d.entries.size());
  for (const auto& [name, e] : d.entries) {
    EXPECT_EQ(r.entries.at(name).sums, e.sums) << name;
    EXPECT_EQ(r.entries.at(name).counts, e.counts) << name;
  }
  std::filesystem::remove(p);
}

TEST(ImatrixFile, DatStoresMeansTimesCallsAsLlamaImatrix) {
  const std::string p = temp_path("roundtrip.dat");
  write_imatrix_dat(sample(), p, true);
  const ImatrixData r = read_imatrix_file(p);
  EXPECT_TRUE(r.legacy);
  EXPECT_EQ(r.chunk_count, 3u);
  EXPECT_EQ(r.datasets, std::vector<std::string>{"calibration.txt"});
  // attn_q: count 4, chunk 2 -> ncall 2; values (sum / 4) * 2.
  EXPECT_EQ(r.entries.at("blk.0.attn_q.weight").counts, std::vector<int64_t>{2});
  EXPECT_EQ(r.entries.at("blk.0.attn_q.weight").sums, (std::vector<float>{2.0f, 4.0f, 0.0f, 1.0f}));
  // ffn_down: count 6 -> ncall 3. experts: the unused matrix stores 1 * ncall.
  EXPECT_EQ(r.entries.at("blk.0.ffn_down.weight").counts, std::vector<int64_t>{3});
  EXPECT_EQ(r.entries.at("experts").sums, (std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f}));
  // Both layouts give llama-quantize's weights: the mean squared activation.
  const ImatrixData g = sample();
  EXPECT_EQ(imatrix_column_weights(r.entries.at("blk.0.attn_q.weight"), true),
            imatrix_column_weights(g.entries.at("blk.0.attn_q.weight"), false));
  std::filesystem::remove(p);
}

TEST(ImatrixFile, ColumnWeightsFollowLlamaQuantize) {
  EXPECT_EQ(imatrix_column_weights({{4, 8}, {4}}, false), (std::vector<float>{1, 2}));
  EXPECT_EQ(imatrix_column_weights({{4, 8, 5, 5}, {4, 0}}, false), (std::vector<float>{1, 2, 1, 1}));  // unseen: 1
  EXPECT_EQ(imatrix_column_weights({{6, 3}, {3}}, true), (std::vector<float>{2, 1}));
  EXPECT_EQ(imatrix_column_weights({{6, 3}, {0}}, true), (std::vector<float>{6, 3}));  // ncall 0: as stored
}

TEST(ImatrixFile, EveryTruncationOfADatIsAnErrorOrAValidShorterFile) {
  const std::string p = temp_path("full.dat"), q = temp_path("cut.dat");
  write_imatrix_dat(sample(), p, true);
  const auto full = file_bytes(p);
  size_t accepted = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    put_bytes(q, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    try {
      const ImatrixData r = read_imatrix_file(q);
      ++accepted;  // only the optional tail may be missing
      EXPECT_EQ(r.entries.size(), 3u) << n;
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), q);
    }
  }
  EXPECT_EQ(accepted, 2u);  // without the whole tail, and with only the chunk count
  std::filesystem::remove(p);
  std::filesystem::remove(q);
}

TEST(ImatrixFile, BadDatValuesAreRefusedWithTheirOffset) {
  const std::string p = temp_path("bad.dat");
  write_imatrix_dat(sample(), p, true);
  auto b = file_bytes(p);
  // Entry 0 ("blk.0.attn_q.weight", 19 bytes): count 4, len 4, name 19, ncall 4, nval 4 -> value 0 at 35.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&b[35], &nan, 4);
  put_bytes(p, b);
  try {
    read_imatrix_file(p);
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.offset(), 35u);
  }
  const float negative = -1.0f;
  std::memcpy(&b[35], &negative, 4);
  put_bytes(p, b);
  EXPECT_THROW(read_imatrix_file(p), Error);
  std::filesystem::remove(p);
}

TEST(ImatrixFile, GgufWithoutMetadataOrWithNanIsRefused) {
  const std::string p = temp_path("bad.gguf");
  ImatrixData d = sample();
  d.entries["blk.0.attn_q.weight"].sums[1] = std::numeric_limits<float>::infinity();
  write_imatrix_gguf(d, p, true);
  EXPECT_THROW(read_imatrix_file(p), Error);
  // Truncated anywhere: an Error.
  write_imatrix_gguf(sample(), p, true);
  const auto full = file_bytes(p);
  for (size_t n : {size_t{0}, size_t{3}, size_t{10}, full.size() / 3, full.size() / 2, full.size() - 30}) {  // the last 24 bytes are padding
    put_bytes(p, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    EXPECT_THROW(read_imatrix_file(p), Error) << n;
  }
  std::filesystem::remove(p);
}

TEST(ImatrixFile, NothingIsWrittenForNoData) {
  const std::string p = temp_path("none.gguf");
  std::filesystem::remove(p);
  EXPECT_THROW(write_imatrix_gguf(ImatrixData{}, p, true), Error);
  EXPECT_FALSE(std::filesystem::exists(p));
}

}  // namespace
}  // namespace lmforge
