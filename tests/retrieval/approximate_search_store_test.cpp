// The SQLite store's approximate search (DB.hnsw): used from the threshold on and never below it
// or with exact_only, its hits overlapping exact search's, built ahead by prepare_vector_search,
// and rebuilt whenever the file on disk is stale (the index changed), another index's, or
// damaged, in this process and in the next.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "retrieval/sqlite_index_store.h"
#include "retrieval/text_splitter.h"
#include "retrieval_test_util.h"

namespace lmforge::retrieval {
namespace {

using test::read_bytes;
using test::TempDir;

constexpr uint32_t kDim = 16;

IndexSettings vector_settings() { return {{100, 10}, EmbedderFingerprint{"fake", "abc", "mean", kDim, "fake-spec"}}; }

std::vector<float> random_unit(std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  float norm = 0;
  for (auto& x : v) {
    x = nd(rng);
    norm += x * x;
  }
  for (auto& x : v) x /= std::sqrt(norm);
  return v;
}

// `docs` documents of about 30 chunks each, every chunk a random unit vector.
void fill(IndexStore& store, int docs, std::mt19937& rng) {
  for (int d = 0; d < docs; ++d) {
    std::string text;
    for (int w = 0; w < 300; ++w) text += "w" + std::to_string(w) + " ";
    const auto chunks = split_text(text, {40, 0}, "t");
    std::vector<float> vectors;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const auto v = random_unit(rng);
      vectors.insert(vectors.end(), v.begin(), v.end());
    }
    store.put_document({"d" + std::to_string(d), "h", 1, chunks.size(), true}, chunks, vectors);
  }
}

// One document whose one chunk lies on axis 0: the best hit of the query e0 by far.
void put_axis_document(IndexStore& store, const std::string& path) {
  const auto chunks = split_text(path + " text", {40, 0}, "t");
  std::vector<float> v(kDim, 0.0f);
  v[0] = 1.0f;
  store.put_document({path, "h", 1, chunks.size(), true}, chunks, v);
}

std::string best_source(IndexStore& store, const VectorSearchOptions& options, VectorSearchKind expected_kind) {
  std::vector<float> q(kDim, 0.0f);
  q[0] = 1.0f;
  const auto result = store.search_nearest(q, 1, options);
  EXPECT_EQ(result.kind, expected_kind);
  if (result.hits.empty()) return "(none)";
  const std::vector<int64_t> ids{result.hits[0].chunk_id};
  return store.fetch_chunks(ids).at(0).source;
}

VectorSearchOptions approximate_from(uint64_t min_chunks) {
  VectorSearchOptions o;
  o.approximate_min_chunks = min_chunks;
  o.threads = 1;  // one thread builds the same graph every time: rebuilt files compare byte for byte
  return o;
}

TEST(ApproximateSearchStoreTest, ThresholdChoosesTheSearchAndHitsOverlapExact) {
  TempDir dir;
  const std::string db = dir.file("i.db");
  auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
  store->reset(vector_settings());
  std::mt19937 rng(11);
  fill(*store, 30, rng);
  const uint64_t n = store->chunk_count();
  ASSERT_GT(n, 500u);

  const auto q = random_unit(rng);
  EXPECT_EQ(store->search_nearest(q, 10, approximate_from(n + 1)).kind, VectorSearchKind::kExact);
  EXPECT_FALSE(std::filesystem::exists(db + ".hnsw")) << "below the threshold no graph is built";
  auto exact_only = approximate_from(1);
  exact_only.exact_only = true;
  EXPECT_EQ(store->search_nearest(q, 10, exact_only).kind, VectorSearchKind::kExact);
  EXPECT_FALSE(std::filesystem::exists(db + ".hnsw"));

  size_t overlap = 0;
  for (int i = 0; i < 30; ++i) {
    const auto query = random_unit(rng);
    const auto approximate = store->search_nearest(query, 10, approximate_from(n));
    ASSERT_EQ(approximate.kind, VectorSearchKind::kApproximate);
    const auto exact = store->search_vectors(query, 10);
    ASSERT_EQ(approximate.hits.size(), 10u);
    for (const auto& h : approximate.hits) {
      const auto it = std::find_if(exact.begin(), exact.end(), [&](const ScoredChunk& e) { return e.chunk_id == h.chunk_id; });
      if (it == exact.end()) continue;
      ++overlap;
      EXPECT_NEAR(h.score, it->score, 1e-5) << "the same cosine as exact search";
    }
  }
  EXPECT_GE(overlap, 300u * 95 / 100) << "recall@10 against exact search";
  EXPECT_TRUE(std::filesystem::exists(db + ".hnsw"));
}

TEST(ApproximateSearchStoreTest, PrepareBuildsTheFilesAheadOfTheFirstSearch) {
  TempDir dir;
  const std::string db = dir.file("i.db");
  auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
  store->reset(vector_settings());
  std::mt19937 rng(12);
  fill(*store, 3, rng);
  store->prepare_vector_search(approximate_from(1000000));
  EXPECT_TRUE(std::filesystem::exists(db + ".vectors"));
  EXPECT_FALSE(std::filesystem::exists(db + ".hnsw"));
  uint64_t reported = 0;
  auto options = approximate_from(1);
  options.on_build_progress = [&](uint64_t done, uint64_t total) {
    EXPECT_LE(done, total);
    reported = done;
  };
  store->prepare_vector_search(options);
  EXPECT_TRUE(std::filesystem::exists(db + ".hnsw"));
  EXPECT_EQ(reported, store->chunk_count()) << "the last progress call reports every vector";
  // Another process finds it current: used as it is, not rebuilt.
  std::filesystem::rename(db + ".hnsw", dir.file("moved.hnsw"));
  std::filesystem::copy_file(dir.file("moved.hnsw"), db + ".hnsw");
  const auto before = std::filesystem::last_write_time(db + ".hnsw");
  auto reader = open_sqlite_index(db, IndexOpenMode::kRead);
  EXPECT_EQ(best_source(*reader, approximate_from(1), VectorSearchKind::kApproximate).substr(0, 1), "d");
  EXPECT_EQ(std::filesystem::last_write_time(db + ".hnsw"), before);
}

TEST(ApproximateSearchStoreTest, StaleForeignOrDamagedGraphsAreRebuilt) {
  TempDir dir;
  const std::string db = dir.file("i.db"), graph = db + ".hnsw";
  auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
  store->reset(vector_settings());
  std::mt19937 rng(13);
  fill(*store, 5, rng);
  const auto options = approximate_from(1);
  EXPECT_NE(best_source(*store, options, VectorSearchKind::kApproximate), "axis");
  std::filesystem::copy_file(graph, dir.file("old.hnsw"));

  // Stale: a document added after the graph was made, seen by this process and by the next.
  put_axis_document(*store, "axis");
  EXPECT_EQ(best_source(*store, options, VectorSearchKind::kApproximate), "axis") << "the graph was not rebuilt";
  const std::string good = read_bytes(graph);
  std::filesystem::copy_file(dir.file("old.hnsw"), graph, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), options, VectorSearchKind::kApproximate), "axis")
      << "a graph older than the database was trusted";
  EXPECT_TRUE(read_bytes(graph) == good) << "rebuilt on disk, byte for byte (one thread builds the same graph)";

  // Foreign: another index's graph of the same size and generation.
  {
    auto other = open_sqlite_index(dir.file("other.db"), IndexOpenMode::kUpdate);
    other->reset(vector_settings());
    std::mt19937 other_rng(14);
    fill(*other, 5, other_rng);
    put_axis_document(*other, "axis");
    EXPECT_EQ(best_source(*other, options, VectorSearchKind::kApproximate), "axis");
  }
  std::filesystem::copy_file(dir.file("other.db.hnsw"), graph, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), options, VectorSearchKind::kApproximate), "axis");
  EXPECT_TRUE(read_bytes(graph) == good) << "another index's graph was kept";

  // Damaged: a byte flipped in the header and in the payload, truncated, or garbage.
  for (size_t at : {size_t{20}, size_t{40}, good.size() / 2, good.size() - 3}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x04);
    std::ofstream(graph, std::ios::binary | std::ios::trunc) << bad;
    EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), options, VectorSearchKind::kApproximate), "axis");
    EXPECT_TRUE(read_bytes(graph) == good) << "byte " << at;
  }
  std::filesystem::resize_file(graph, good.size() / 2);
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), options, VectorSearchKind::kApproximate), "axis");
  EXPECT_TRUE(read_bytes(graph) == good);
  dir.write("i.db.hnsw", std::string(100000, 'z'));
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), options, VectorSearchKind::kApproximate), "axis");
  EXPECT_TRUE(read_bytes(graph) == good);
}

TEST(ApproximateSearchStoreTest, ThresholdFromTheEnvironment) {
  ::unsetenv(kApproximateMinChunksVariable);
  EXPECT_EQ(vector_search_options_from_environment().approximate_min_chunks, kDefaultApproximateMinChunks);
  ::setenv(kApproximateMinChunksVariable, "1234", 1);
  EXPECT_EQ(vector_search_options_from_environment().approximate_min_chunks, 1234u);
  for (const char* bad : {"12k", "-1", "x", " 5", "99999999999999999999999"}) {
    ::setenv(kApproximateMinChunksVariable, bad, 1);
    EXPECT_THROW(vector_search_options_from_environment(), UsageError) << bad;
  }
  ::unsetenv(kApproximateMinChunksVariable);
  EXPECT_EQ(hnsw_ef_search(1), 128u);
  EXPECT_EQ(hnsw_ef_search(50), 200u);
}

}  // namespace
}  // namespace lmforge::retrieval
