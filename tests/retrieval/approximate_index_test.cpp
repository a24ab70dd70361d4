// The approximate index: recall@10 against exact search, the file written and read back, and a
// file never trusted: stale stamps, truncation at many lengths, every header byte and sampled
// payload bytes flipped, foreign bytes, and graphs whose checksum is right but whose structure
// would send hnswlib out of bounds (hnsw_layout.h) all give "no index" (the store then
// rebuilds), never a crash.
#include "retrieval/approximate_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "core/half.h"
#include "kernels/similarity.h"
#include "retrieval/crc32c.h"
#include "retrieval/hnsw_file.h"
#include "retrieval/hnsw_layout.h"
#include "retrieval_test_util.h"

namespace lmforge::retrieval {
namespace {

using test::read_bytes;
using test::TempDir;

constexpr uint32_t kDim = 48;

// Points around 40 centres (a clustered set, as embeddings are), normalized; ids 1000 + 3i.
struct Vectors {
  std::vector<float> rows;
  std::vector<int64_t> ids;
  std::vector<float> queries;
};

void normalize(float* v) {
  float s = 0;
  for (uint32_t i = 0; i < kDim; ++i) s += v[i] * v[i];
  for (uint32_t i = 0; i < kDim; ++i) v[i] /= std::sqrt(s);
}

Vectors make_vectors(size_t n, size_t n_queries) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> centres(40 * kDim);
  for (float& c : centres) c = nd(rng);
  Vectors v;
  auto draw = [&](std::vector<float>& out) {
    const size_t c = rng() % 40;
    const size_t at = out.size();
    for (uint32_t i = 0; i < kDim; ++i) out.push_back(centres[c * kDim + i] + 0.8f * nd(rng));
    normalize(out.data() + at);
  };
  for (size_t i = 0; i < n; ++i) {
    draw(v.rows);
    v.ids.push_back(1000 + 3 * static_cast<int64_t>(i));
  }
  for (size_t i = 0; i < n_queries; ++i) draw(v.queries);
  return v;
}

std::vector<int64_t> exact_top(const Vectors& v, const float* query, size_t k) {
  std::vector<float> scores(v.ids.size());
  dot_rows_f32(v.rows.data(), v.ids.size(), kDim, query, scores.data());
  std::vector<size_t> order(v.ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<int64_t> out;
  for (size_t i = 0; i < k; ++i) out.push_back(v.ids[order[i]]);
  return out;
}

double recall_at_10(const ApproximateIndex& index, const Vectors& v) {
  size_t found = 0, total = 0;
  for (size_t q = 0; q * kDim < v.queries.size(); ++q) {
    const float* query = v.queries.data() + q * kDim;
    const auto truth = exact_top(v, query, 10);
    const auto hits = index.search({query, kDim}, 10, hnsw_ef_search(10));
    EXPECT_EQ(hits.size(), 10u);
    for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score) << "highest first";
    for (const auto& h : hits) found += std::count(truth.begin(), truth.end(), h.chunk_id);
    total += 10;
  }
  return static_cast<double>(found) / static_cast<double>(total);
}

HnswStamp stamp_for(const Vectors& v, uint32_t element_type = kVectorElementF32) {
  return {{"0123456789abcdef0123456789abcdef", 7, kDim, element_type}, v.ids.size(), HnswParameters{}};
}

class ApproximateIndexTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    vectors_ = new Vectors(make_vectors(3000, 100));
    index_ = ApproximateIndex::build(vectors_->rows.data(), kVectorElementF32, vectors_->ids, kDim, HnswParameters{}, 2,
                                     nullptr)
                 .release();
  }
  static void TearDownTestSuite() {
    delete index_;
    delete vectors_;
  }
  static Vectors* vectors_;
  static ApproximateIndex* index_;
};
Vectors* ApproximateIndexTest::vectors_ = nullptr;
ApproximateIndex* ApproximateIndexTest::index_ = nullptr;

TEST_F(ApproximateIndexTest, RecallAt10AgainstExactSearch) {
  const double recall = recall_at_10(*index_, *vectors_);
  EXPECT_GE(recall, 0.95);
  // Scores are the cosine, as exact search's: the best hit of a stored vector is itself.
  const auto self = index_->search({vectors_->rows.data() + 5 * kDim, kDim}, 1, 64);
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self[0].chunk_id, vectors_->ids[5]);
  EXPECT_NEAR(self[0].score, 1.0, 1e-5);
}

TEST_F(ApproximateIndexTest, F16VectorsAreWidened) {
  std::vector<uint16_t> halves;
  for (float x : vectors_->rows) halves.push_back(fp32_to_fp16(x));
  const auto index = ApproximateIndex::build(halves.data(), kVectorElementF16, vectors_->ids, kDim, HnswParameters{}, 1,
                                             nullptr);
  EXPECT_GE(recall_at_10(*index, *vectors_), 0.95);
}

TEST_F(ApproximateIndexTest, FileRoundTripSearchesTheSame) {
  TempDir dir;
  const std::string path = dir.file("i.db.hnsw");
  const HnswStamp stamp = stamp_for(*vectors_);
  write_hnsw_file(path, stamp, *index_);
  const auto loaded = open_hnsw_file_if_current(path, stamp);
  ASSERT_TRUE(loaded);
  for (size_t q = 0; q < 20; ++q) {
    const std::span<const float> query(vectors_->queries.data() + q * kDim, kDim);
    const auto a = index_->search(query, 10, 64), b = loaded->search(query, 10, 64);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].chunk_id, b[i].chunk_id);
  }
  // A graph opened in place writes back the same bytes (its upper levels included).
  write_hnsw_file(dir.file("again.hnsw"), stamp, *loaded);
  EXPECT_TRUE(read_bytes(dir.file("again.hnsw")) == read_bytes(path));
}

TEST_F(ApproximateIndexTest, StaleStampsAreNotUsed) {
  TempDir dir;
  const std::string path = dir.file("i.db.hnsw");
  const HnswStamp stamp = stamp_for(*vectors_);
  write_hnsw_file(path, stamp, *index_);
  ASSERT_TRUE(open_hnsw_file_if_current(path, stamp));
  std::vector<HnswStamp> others(7, stamp);
  others[0].vectors.index_id[0] = 'f';  // another index
  others[1].vectors.generation += 1;    // the index changed since
  others[2].count += 1;
  others[3].vectors.dim += 1;
  others[4].vectors.element_type = kVectorElementF16;
  others[5].parameters.m = 12;
  others[6].parameters.ef_construction = 100;
  for (const auto& other : others) EXPECT_FALSE(open_hnsw_file_if_current(path, other));
  EXPECT_FALSE(open_hnsw_file_if_current(dir.file("missing.hnsw"), stamp));
}

TEST_F(ApproximateIndexTest, DamagedOrForeignFilesAreNeverTrusted) {
  TempDir dir;
  const std::string path = dir.file("i.db.hnsw");
  const HnswStamp stamp = stamp_for(*vectors_);
  write_hnsw_file(path, stamp, *index_);
  const std::string good = read_bytes(path);
  auto opens = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return open_hnsw_file_if_current(path, stamp) != nullptr;
  };
  ASSERT_TRUE(opens(good));
  // Truncated anywhere: in the header, hnswlib's header, the level-0 records, the upper levels.
  for (size_t len : {size_t{0}, size_t{1}, size_t{64}, size_t{127}, size_t{128}, size_t{129}, size_t{200},
                     good.size() / 3, good.size() / 2, good.size() - 4, good.size() - 1}) {
    EXPECT_FALSE(opens(good.substr(0, len))) << "truncated to " << len;
  }
  EXPECT_FALSE(opens(good + std::string(1, '\0'))) << "a trailing byte";
  // Every header byte, and payload bytes spread over the whole file, flipped one at a time.
  for (size_t at = 0; at < kHnswFileHeaderBytes; ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    EXPECT_FALSE(opens(bad)) << "header byte " << at;
  }
  for (size_t at = kHnswFileHeaderBytes; at < good.size(); at += good.size() / 97 + 1) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    EXPECT_FALSE(opens(bad)) << "payload byte " << at;
  }
  // Foreign: zeros, text, and the flat vector file's magic.
  EXPECT_FALSE(opens(std::string(good.size(), '\0')));
  EXPECT_FALSE(opens(std::string(4096, 'z')));
  EXPECT_FALSE(opens(std::string("LMFVECS") + std::string(500, '\0')));
  EXPECT_TRUE(opens(good)) << "and the good file still opens";
}

// Rewrites the payload at `at` and fixes both checksums, as someone crafting a file would.
std::string with_payload_u32(std::string file, size_t at, uint32_t value) {
  std::memcpy(file.data() + kHnswFileHeaderBytes + at, &value, 4);
  const uint32_t payload_crc = crc32c(file.data() + kHnswFileHeaderBytes, file.size() - kHnswFileHeaderBytes);
  std::memcpy(file.data() + 88, &payload_crc, 4);
  const uint32_t header_crc = crc32c(file.data(), 92);
  std::memcpy(file.data() + 92, &header_crc, 4);
  return file;
}

TEST_F(ApproximateIndexTest, ChecksummedButMalformedGraphsAreRefusedBeforeHnswlibSeesThem) {
  TempDir dir;
  const std::string path = dir.file("i.db.hnsw");
  const HnswStamp stamp = stamp_for(*vectors_);
  write_hnsw_file(path, stamp, *index_);
  const std::string good = read_bytes(path);
  const std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(good.data()) + kHnswFileHeaderBytes,
                                         good.size() - kHnswFileHeaderBytes);
  const HnswShape shape{vectors_->ids.size(), kDim, 16, 200};
  ASSERT_EQ(check_hnsw_payload(payload, shape), "");
  auto opens = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return open_hnsw_file_if_current(path, stamp) != nullptr;
  };
  ASSERT_TRUE(opens(with_payload_u32(good, 88, 200))) << "ef_construction rewritten to its own value: still good";
  const size_t record = 2 * 16 * 4 + 4 + kDim * 4 + 8;
  const uint32_t n = static_cast<uint32_t>(vectors_->ids.size());
  uint32_t first_links;
  std::memcpy(&first_links, payload.data() + kHnswPayloadHeaderBytes, 4);
  ASSERT_GT(first_links, 0u);
  // A level-0 link past the last element (hnswlib would read past its arrays).
  EXPECT_FALSE(opens(with_payload_u32(good, kHnswPayloadHeaderBytes + 4, n)));
  EXPECT_FALSE(opens(with_payload_u32(good, kHnswPayloadHeaderBytes + record * 17 + 4, 0xFFFFFFFFu)));
  // A link count above the list's capacity, and a "deleted" mark.
  EXPECT_FALSE(opens(with_payload_u32(good, kHnswPayloadHeaderBytes, 33)));
  EXPECT_FALSE(opens(with_payload_u32(good, kHnswPayloadHeaderBytes, first_links | 0x10000u)));
  // hnswlib's header: sizes it would allocate with, the entry point, the top level.
  EXPECT_FALSE(opens(with_payload_u32(good, 8, 0xFFFFFFFFu)));   // max_elements
  EXPECT_FALSE(opens(with_payload_u32(good, 24, 1u << 30)));     // size_data_per_element
  EXPECT_FALSE(opens(with_payload_u32(good, 52, n)));            // entry point
  EXPECT_FALSE(opens(with_payload_u32(good, 48, 63)));           // top level above every element
  // An upper-level block size that is not whole lists.
  const size_t upper = kHnswPayloadHeaderBytes + record * n;
  EXPECT_FALSE(opens(with_payload_u32(good, upper, 3)));
  EXPECT_TRUE(opens(good));
}

TEST(HnswLayoutTest, EmptyAndTinyPayloads) {
  const HnswShape shape{10, 4, 16, 200};
  EXPECT_NE(check_hnsw_payload({}, shape), "");
  std::vector<uint8_t> zeros(4096, 0);
  EXPECT_NE(check_hnsw_payload(zeros, shape), "");
  EXPECT_NE(check_hnsw_payload(zeros, HnswShape{10, 0, 16, 200}), "") << "dim 0";
  EXPECT_NE(check_hnsw_payload(zeros, HnswShape{10, 4, 1, 200}), "") << "M 1";
}

}  // namespace
}  // namespace lmforge::retrieval
