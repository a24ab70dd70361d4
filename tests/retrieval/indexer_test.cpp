// The indexer: a first run adds, a second skips unchanged files, replaces changed ones and drops
// removed ones (only under the paths it was given); bad files refuse the run before the index
// is touched; other chunkings and other models are refused unless rebuilding; a BM25-only
// index can be given a model.
#include "retrieval/indexer.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "core/sha256.h"
#include "retrieval/hashing_embedder.h"
#include "retrieval/sqlite_index_store.h"
#include "retrieval_test_util.h"

namespace lmforge::retrieval {
namespace {

using test::read_bytes;
using test::TempDir;
using test::TopicEmbedder;

std::map<std::string, std::string> statuses(const IndexRunReport& r) {
  std::map<std::string, std::string> out;
  for (const auto& f : r.files) out[f.path] = f.status;
  return out;
}

class IndexerTest : public ::testing::Test {
 protected:
  IndexRunReport run(Embedder* embedder, std::vector<std::string> paths, IndexOptions options = {}) {
    options.paths = std::move(paths);
    auto store = open_sqlite_index(db(), IndexOpenMode::kUpdate);
    return update_index(*store, db(), embedder, options, [](const IndexProgress&) {});
  }
  std::string db() const { return dir.file("index.db"); }
  std::string docs(const std::string& name = "") const { return dir.file("docs") + (name.empty() ? "" : "/" + name); }
  TempDir dir;
};

TEST_F(IndexerTest, IncrementalRunsAddChangeSkipAndRemove) {
  dir.write("docs/a.txt", "The cat sat on the mat.\n");
  dir.write("docs/sub/b.md", "# Cars\n\nA truck is a vehicle.\n");
  dir.write("docs/empty.txt", "");
  dir.write("docs/image.png", "\x89PNG");
  dir.write("docs/.hidden/secret.txt", "not indexed");
  dir.write("other/keep.txt", "outside the docs folder");
  HashingEmbedder embedder(32);

  auto r1 = run(&embedder, {docs(), dir.file("other/keep.txt")});
  EXPECT_EQ(statuses(r1), (std::map<std::string, std::string>{{docs("a.txt"), "added"},
                                                              {docs("empty.txt"), "added"},
                                                              {docs("sub/b.md"), "added"},
                                                              {dir.file("other/keep.txt"), "added"}}));
  ASSERT_EQ(r1.notes.size(), 1u);
  EXPECT_NE(r1.notes[0].find("image.png"), std::string::npos);
  EXPECT_EQ(r1.chunks_total, 3u);
  for (const auto& f : r1.files) {
    if (f.path == docs("a.txt")) {
      EXPECT_EQ(f.sha256, sha256_hex("The cat sat on the mat.\n"));
    }
    if (f.path == docs("empty.txt")) {
      EXPECT_EQ(f.chunks, 0u);
    }
  }

  auto r2 = run(&embedder, {docs()});
  for (const auto& [path, status] : statuses(r2)) EXPECT_EQ(status, "unchanged") << path;

  dir.write("docs/a.txt", "The dog sat on the mat.\n");
  std::filesystem::remove(docs("sub/b.md"));
  dir.write("docs/c.txt", "Fresh bread and cheese.\n");
  auto r3 = run(&embedder, {docs()});
  EXPECT_EQ(statuses(r3), (std::map<std::string, std::string>{{docs("a.txt"), "changed"},
                                                              {docs("c.txt"), "added"},
                                                              {docs("empty.txt"), "unchanged"},
                                                              {docs("sub/b.md"), "removed"}}));
  auto store = open_sqlite_index(db(), IndexOpenMode::kRead);
  EXPECT_EQ(store->chunk_count(), 3u) << "a, c and other/keep.txt, which lies outside the run's paths";
  EXPECT_TRUE(store->search_bm25("truck", 5).empty());
  EXPECT_EQ(store->search_bm25("dog", 5).size(), 1u);
  EXPECT_TRUE(store->search_bm25("cat", 5).empty());
  EXPECT_EQ(store->search_bm25("outside", 5).size(), 1u);
}

TEST_F(IndexerTest, BadFilesRefuseTheRunBeforeAnythingIsWritten) {
  dir.write("docs/good.txt", "good text\n");
  HashingEmbedder embedder(8);
  run(&embedder, {docs()});
  const std::string before = read_bytes(db());
  dir.write("docs/new.txt", "new text that must not be indexed either\n");
  dir.write("docs/zz-bad.txt", "valid start \xC3\x28 invalid");
  try {
    run(&embedder, {docs()});
    FAIL() << "indexed ill-formed UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), docs("zz-bad.txt"));
    EXPECT_EQ(e.offset(), 12u);
  }
  std::filesystem::remove(docs("zz-bad.txt"));
  dir.write("docs/zz-binary.txt", std::string("PK\3\4\0\0binary", 12));
  try {
    run(&embedder, {docs()});
    FAIL() << "indexed a binary file";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), docs("zz-binary.txt"));
    EXPECT_EQ(e.offset(), 4u);
  }
  EXPECT_EQ(read_bytes(db()), before);
  EXPECT_THROW(run(&embedder, {dir.file("missing")}), Error);
  EXPECT_EQ(read_bytes(db()), before);
}

TEST_F(IndexerTest, OtherModelsAndChunkingsAreRefusedUnlessRebuilding) {
  dir.write("docs/a.txt", "The cat sat on the mat. The dog did not.\n");
  HashingEmbedder h16(16), h32(32);
  run(&h16, {docs()});
  const std::string before = read_bytes(db());
  EXPECT_THROW(run(&h32, {docs()}), Error);
  EXPECT_THROW(run(nullptr, {docs()}), Error);
  IndexOptions other_chunks;
  other_chunks.splitter = SplitterOptions{500, 50};
  EXPECT_THROW(run(&h16, {docs()}, other_chunks), Error);
  IndexOptions halves;
  halves.vector_type = VectorType::kF16;
  EXPECT_THROW(run(&h16, {docs()}, halves), Error);
  EXPECT_EQ(read_bytes(db()), before);

  IndexOptions rebuild;
  rebuild.rebuild = true;
  rebuild.splitter = SplitterOptions{10, 2};
  rebuild.vector_type = VectorType::kF16;
  auto r = run(&h32, {docs()}, rebuild);
  EXPECT_EQ(statuses(r)[docs("a.txt")], "added");
  auto store = open_sqlite_index(db(), IndexOpenMode::kRead);
  const auto s = store->settings();
  EXPECT_EQ(s->splitter.chunk_size, 10u);
  EXPECT_EQ(s->embedder->dim, 32u);
  EXPECT_EQ(s->vector_type, VectorType::kF16);
  EXPECT_GT(store->chunk_count(), 3u);
}

TEST_F(IndexerTest, ABm25OnlyIndexCanBeGivenAModel) {
  dir.write("docs/a.txt", "Snow and rain all week.\n");
  run(nullptr, {docs()});
  {
    auto store = open_sqlite_index(db(), IndexOpenMode::kRead);
    EXPECT_FALSE(store->settings()->embedder);
  }
  TopicEmbedder topics;
  auto r = run(&topics, {docs()});
  EXPECT_EQ(statuses(r)[docs("a.txt")], "changed");
  EXPECT_EQ(topics.calls, 1);
  auto r2 = run(&topics, {docs()});
  EXPECT_EQ(statuses(r2)[docs("a.txt")], "unchanged");
  EXPECT_EQ(topics.calls, 1) << "unchanged files are not embedded again";
  auto store = open_sqlite_index(db(), IndexOpenMode::kRead);
  const float weather[4] = {0, 0, 0, 1};
  const auto hits = store->search_vectors(weather, 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NEAR(hits[0].score, 1.0, 1e-6);
}

TEST_F(IndexerTest, EmbeddingsAreBatched) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "cat number " + std::to_string(i) + "\n";
  dir.write("docs/many.txt", text);
  TopicEmbedder topics;
  IndexOptions options;
  options.splitter = SplitterOptions{20, 0};
  options.embed_batch = 16;
  auto r = run(&topics, {docs()}, options);
  EXPECT_EQ(r.files.at(0).chunks, 100u);
  EXPECT_EQ(topics.calls, 7);  // ceil(100 / 16)
}

}  // namespace
}  // namespace lmforge::retrieval
