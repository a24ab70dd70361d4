// The SQLite store: settings round trip, documents replaced and removed whole, BM25 on hostile
// questions, exact vector search against a brute-force ranking, and refusal of databases that
// are not ours or are corrupt, with their bytes left as they were.
#include "retrieval/sqlite_index_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/half.h"
#include "retrieval/text_splitter.h"
#include "retrieval_test_util.h"

namespace lmforge::retrieval {
namespace {

using test::read_bytes;
using test::TempDir;

IndexSettings bm25_settings() { return {{100, 10}, std::nullopt}; }

IndexSettings vector_settings(uint32_t dim) {
  return {{100, 10}, EmbedderFingerprint{"fake", "abc", "mean", dim, "fake-spec"}};
}

std::vector<TextChunk> chunks_of(const std::string& text) { return split_text(text, {40, 0}, "t"); }

TEST(IndexStoreTest, NewIndexHasNoSettingsUntilReset) {
  TempDir dir;
  const std::string db = dir.file("i.db");
  {
    auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
    EXPECT_FALSE(store->settings());
    store->reset(vector_settings(3));
  }
  auto store = open_sqlite_index(db, IndexOpenMode::kRead);
  const auto s = store->settings();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->splitter.chunk_size, 100u);
  EXPECT_EQ(s->splitter.chunk_overlap, 10u);
  ASSERT_TRUE(s->embedder);
  EXPECT_TRUE(s->embedder->same_model(vector_settings(3).embedder.value()));
  EXPECT_EQ(s->embedder->spec, "fake-spec");
}

TEST(IndexStoreTest, PutReplacesAndRemoveDropsWholeDocuments) {
  TempDir dir;
  auto store = open_sqlite_index(dir.file("i.db"), IndexOpenMode::kUpdate);
  store->reset(bm25_settings());
  const auto a = chunks_of("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi");
  store->put_document({"a.txt", "h1", 10, a.size(), false}, a, {});
  store->put_document({"b.txt", "h2", 10, 1, false}, chunks_of("unique zebra words"), {});
  EXPECT_EQ(store->chunk_count(), a.size() + 1);
  EXPECT_EQ(store->search_bm25("lambda", 10).size(), 1u);
  store->put_document({"a.txt", "h3", 10, 1, false}, chunks_of("replaced text"), {});
  EXPECT_EQ(store->chunk_count(), 2u);
  EXPECT_TRUE(store->search_bm25("lambda", 10).empty()) << "the old chunks' FTS entries must go too";
  EXPECT_EQ(store->search_bm25("replaced", 10).size(), 1u);
  store->remove_document("a.txt");
  EXPECT_EQ(store->chunk_count(), 1u);
  EXPECT_TRUE(store->search_bm25("replaced", 10).empty());
  const auto docs = store->documents();
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].path, "b.txt");
  EXPECT_EQ(docs[0].sha256, "h2");
}

TEST(IndexStoreTest, AnyQuestionIsAValidBm25Query) {
  TempDir dir;
  auto store = open_sqlite_index(dir.file("i.db"), IndexOpenMode::kUpdate);
  store->reset(bm25_settings());
  store->put_document({"q.txt", "h", 1, 1, false}, chunks_of("He said \"NEAR\" and OR AND NOT"), {});
  for (const std::string& q : std::vector<std::string>{"", "   ", "\"", "\"\"\"", "'", "a\"b", "NEAR(", "NEAR(a b, 3)", "text:said", "*", "said*", "^said",
        "(", ")", "AND", "OR NOT", "-said", "+said", "{a b}", "said:", "\\", "💥", std::string("nul\0byte", 8),
        "—", "a OR", "\"said", "said\""}) {
    EXPECT_NO_THROW(store->search_bm25(q, 5)) << q;
  }
  EXPECT_EQ(store->search_bm25("\"NEAR\"", 5).size(), 1u);
  EXPECT_EQ(store->search_bm25("said:", 5).size(), 1u);
  EXPECT_EQ(store->search_bm25("NOT", 5).size(), 1u) << "operators are words";
}

TEST(IndexStoreTest, VectorSearchIsExactCosineRanking) {
  TempDir dir;
  auto store = open_sqlite_index(dir.file("i.db"), IndexOpenMode::kUpdate);
  constexpr uint32_t kDim = 19;
  store->reset(vector_settings(kDim));
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<std::pair<std::string, std::vector<float>>> all;  // chunk text -> vector
  for (int d = 0; d < 7; ++d) {
    std::string text;
    for (int w = 0; w < 600; ++w) text += "w" + std::to_string(d) + "x" + std::to_string(w) + " ";
    const auto chunks = chunks_of(text);
    std::vector<float> vectors;
    for (const auto& c : chunks) {
      std::vector<float> v(kDim);
      float norm = 0;
      for (auto& x : v) {
        x = normal(rng);
        norm += x * x;
      }
      for (auto& x : v) x /= std::sqrt(norm);
      vectors.insert(vectors.end(), v.begin(), v.end());
      all.push_back({c.text, v});
    }
    store->put_document({"d" + std::to_string(d), "h", 1, chunks.size(), true}, chunks, vectors);
  }
  std::vector<float> q(kDim);
  float norm = 0;
  for (auto& x : q) {
    x = normal(rng);
    norm += x * x;
  }
  for (auto& x : q) x /= std::sqrt(norm);
  std::vector<std::pair<double, std::string>> expected;
  for (const auto& [text, v] : all) {
    double dot = 0;
    for (uint32_t i = 0; i < kDim; ++i) dot += static_cast<double>(v[i]) * q[i];
    expected.push_back({dot, text});
  }
  std::sort(expected.rbegin(), expected.rend());
  const auto hits = store->search_vectors(q, 5);
  ASSERT_EQ(hits.size(), 5u);
  std::vector<int64_t> ids;
  for (const auto& h : hits) ids.push_back(h.chunk_id);
  const auto records = store->fetch_chunks(ids);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(records[i].text, expected[i].second) << i;
    EXPECT_NEAR(hits[i].score, expected[i].first, 1e-5) << i;
  }
  ASSERT_GT(all.size(), 600u) << "more rows than one scoring block (256), with a partial last block";
  const auto every = store->search_vectors(q, 100000);
  ASSERT_EQ(every.size(), all.size());
  for (size_t i = 0; i < every.size(); ++i) EXPECT_NEAR(every[i].score, expected[i].first, 1e-5) << i;
}

// One document whose single chunk's vector is the unit vector along `axis` (of 4).
void put_axis_document(IndexStore& store, const std::string& path, int axis) {
  const auto chunks = chunks_of(path + " text");
  std::vector<float> v(4, 0.0f);
  v[static_cast<size_t>(axis)] = 1.0f;
  store.put_document({path, "h", 1, chunks.size(), true}, chunks, v);
}

std::string best_source(IndexStore& store, int axis) {
  std::vector<float> q(4, 0.0f);
  q[static_cast<size_t>(axis)] = 1.0f;
  const auto hits = store.search_vectors(q, 1);
  if (hits.empty()) return "(none)";
  const std::vector<int64_t> ids{hits[0].chunk_id};
  return store.fetch_chunks(ids).at(0).source;
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

TEST(IndexStoreTest, FlatVectorFileIsRebuiltWhenStaleForeignOrDamaged) {
  TempDir dir;
  const std::string db = dir.file("i.db"), flat = db + ".vectors";
  auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
  store->reset(vector_settings(4));
  put_axis_document(*store, "a", 0);
  EXPECT_EQ(best_source(*store, 0), "a");
  ASSERT_TRUE(std::filesystem::exists(flat)) << "exact search writes the flat file beside the database";
  copy_file(flat, dir.file("old.vectors"));

  // Stale: a change after the file was made (in this process, and on disk for another one).
  put_axis_document(*store, "b", 1);
  EXPECT_EQ(best_source(*store, 1), "b");
  copy_file(dir.file("old.vectors"), flat);
  auto reader = open_sqlite_index(db, IndexOpenMode::kRead);
  EXPECT_EQ(best_source(*reader, 1), "b") << "a flat file older than the database was trusted";

  // Foreign: the flat file of another index with the same dimension and generation.
  {
    auto other = open_sqlite_index(dir.file("other.db"), IndexOpenMode::kUpdate);
    other->reset(vector_settings(4));
    // Same chunk ids as ours, vectors swapped: trusting it would find "a" for axis 1.
    put_axis_document(*other, "x", 1);
    put_axis_document(*other, "y", 0);
    EXPECT_EQ(best_source(*other, 1), "x");
  }
  copy_file(dir.file("other.db.vectors"), flat);
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), 1), "b") << "another index's file was trusted";

  // Damaged: truncated, or not a flat file at all.
  const std::string good = read_bytes(flat);
  std::filesystem::resize_file(flat, good.size() - 1);
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), 1), "b");
  EXPECT_EQ(read_bytes(flat), good) << "rebuilt from the database, byte for byte";
  dir.write("i.db.vectors", std::string(4096, 'z'));
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), 0), "a");
  EXPECT_EQ(read_bytes(flat), good);

  store->remove_document("b");
  EXPECT_EQ(best_source(*store, 1), "a") << "a removed document's vector was still searched";
}

TEST(IndexStoreTest, SchemaOneIndexIsSearchedInSqliteAndStampedByItsFirstChange) {
  TempDir dir;
  const std::string db = dir.file("i.db");
  {
    auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
    store->reset(vector_settings(4));
    put_axis_document(*store, "a", 0);
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DELETE FROM meta WHERE key IN ('index_id', 'vectors_generation'); PRAGMA user_version = 1",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_EQ(best_source(*open_sqlite_index(db, IndexOpenMode::kRead), 0), "a");
  EXPECT_FALSE(std::filesystem::exists(db + ".vectors")) << "schema 1 has no stamp to tie a flat file to";
  {
    auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
    put_axis_document(*store, "b", 1);
    EXPECT_EQ(best_source(*store, 1), "b");
    EXPECT_TRUE(std::filesystem::exists(db + ".vectors"));
  }
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kIndexSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

TEST(IndexStoreTest, F16VectorsAreStoredInTwoBytesAndSearchedExactly) {
  TempDir dir;
  const std::string db = dir.file("i.db");
  constexpr uint32_t kDim = 37;
  IndexSettings settings = vector_settings(kDim);
  settings.vector_type = VectorType::kF16;
  auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
  store->reset(settings);
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  std::vector<std::pair<std::string, std::vector<float>>> all;  // chunk text -> f16 value of its vector
  for (int d = 0; d < 5; ++d) {
    std::string text;
    for (int w = 0; w < 300; ++w) text += "h" + std::to_string(d) + "y" + std::to_string(w) + " ";
    const auto chunks = chunks_of(text);
    std::vector<float> vectors;
    for (const auto& c : chunks) {
      std::vector<float> v(kDim), rounded(kDim);
      float norm = 0;
      for (auto& x : v) {
        x = normal(rng);
        norm += x * x;
      }
      for (uint32_t i = 0; i < kDim; ++i) rounded[i] = fp16_to_fp32(fp32_to_fp16(v[i] /= std::sqrt(norm)));
      vectors.insert(vectors.end(), v.begin(), v.end());
      all.push_back({c.text, rounded});
    }
    store->put_document({"d" + std::to_string(d), "h", 1, chunks.size(), true}, chunks, vectors);
  }
  EXPECT_EQ(open_sqlite_index(db, IndexOpenMode::kRead)->settings()->vector_type, VectorType::kF16);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "SELECT min(length(embedding)), max(length(embedding)) FROM vectors", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 2 * int{kDim});
  EXPECT_EQ(sqlite3_column_int(st, 1), 2 * int{kDim});
  sqlite3_finalize(st);
  sqlite3_close(raw);

  std::vector<float> q(kDim);
  for (auto& x : q) x = normal(rng);
  std::vector<std::pair<double, std::string>> expected;
  for (const auto& [text, v] : all) {
    double dot = 0;
    for (uint32_t i = 0; i < kDim; ++i) dot += static_cast<double>(v[i]) * q[i];
    expected.push_back({dot, text});
  }
  std::sort(expected.rbegin(), expected.rend());
  const auto reader = open_sqlite_index(db, IndexOpenMode::kRead);
  for (IndexStore* s : {store.get(), reader.get()}) {
    const auto hits = s->search_vectors(q, all.size());
    ASSERT_EQ(hits.size(), all.size());
    std::vector<int64_t> ids{hits[0].chunk_id, hits[1].chunk_id};
    const auto records = s->fetch_chunks(ids);
    EXPECT_EQ(records[0].text, expected[0].second);
    EXPECT_EQ(records[1].text, expected[1].second);
    for (size_t i = 0; i < hits.size(); ++i) EXPECT_NEAR(hits[i].score, expected[i].first, 1e-5) << i;
  }
  EXPECT_GT(std::filesystem::file_size(db + ".vectors"), 2u * kDim * all.size());
  EXPECT_LT(std::filesystem::file_size(db + ".vectors"), 2u * kDim * all.size() + 10u * all.size() + 256);
}

TEST(IndexStoreTest, RefusesADatabaseThatIsNotOursAndLeavesItAlone) {
  TempDir dir;
  const std::string db = dir.file("theirs.db");
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    sqlite3_exec(h, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance REAL); INSERT INTO accounts VALUES (1, 5.0);",
                 nullptr, nullptr, nullptr);
    sqlite3_close(h);
  }
  const std::string before = read_bytes(db);
  for (auto mode : {IndexOpenMode::kUpdate, IndexOpenMode::kRead}) {
    try {
      open_sqlite_index(db, mode);
      FAIL() << "opened someone else's database";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not an lmforge index"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_bytes(db), before);
  EXPECT_FALSE(std::filesystem::exists(db + "-journal"));

  // Another application's id, even with no tables.
  const std::string other = dir.file("other.db");
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(other.c_str(), &h), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA application_id = 1234", nullptr, nullptr, nullptr);
    sqlite3_close(h);
  }
  EXPECT_THROW(open_sqlite_index(other, IndexOpenMode::kUpdate), Error);

  // A database in WAL mode: refused before SQLite opens it, so no -wal/-shm appear beside it.
  const std::string wal = dir.file("wal.db");
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(wal.c_str(), &h), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);", nullptr, nullptr, nullptr);
    sqlite3_close(h);
  }
  const std::string wal_before = read_bytes(wal);
  EXPECT_THROW(open_sqlite_index(wal, IndexOpenMode::kUpdate), Error);
  EXPECT_THROW(open_sqlite_index(wal, IndexOpenMode::kRead), Error);
  EXPECT_EQ(read_bytes(wal), wal_before);
  EXPECT_FALSE(std::filesystem::exists(wal + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(wal + "-shm"));
}

TEST(IndexStoreTest, RefusesFilesThatAreNotSqliteOrAreCorrupt) {
  TempDir dir;
  dir.write("text.db", "this is a text file, not a database\n");
  const std::string text_before = read_bytes(dir.file("text.db"));
  EXPECT_THROW(open_sqlite_index(dir.file("text.db"), IndexOpenMode::kUpdate), Error);
  EXPECT_THROW(open_sqlite_index(dir.file("text.db"), IndexOpenMode::kRead), Error);
  EXPECT_EQ(read_bytes(dir.file("text.db")), text_before);

  const std::string db = dir.file("corrupt.db");
  {
    auto store = open_sqlite_index(db, IndexOpenMode::kUpdate);
    store->reset(bm25_settings());
    for (int i = 0; i < 40; ++i) {
      const auto c = chunks_of("document number " + std::to_string(i) + " with some words in it to fill pages");
      store->put_document({"f" + std::to_string(i), "h", 1, c.size(), false}, c, {});
    }
  }
  std::string bytes = read_bytes(db);
  ASSERT_GT(bytes.size(), 8192u);
  for (size_t i = 4096 + 100; i < bytes.size(); i += 97) bytes[i] = static_cast<char>(0xA5);  // pages after the first
  { std::ofstream(db, std::ios::binary) << bytes; }
  try {
    open_sqlite_index(db, IndexOpenMode::kUpdate);
    FAIL() << "opened a corrupt index for writing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(db), bytes);
}

TEST(IndexStoreTest, ReadingAMissingIndexCreatesNothing) {
  TempDir dir;
  EXPECT_THROW(open_sqlite_index(dir.file("none.db"), IndexOpenMode::kRead), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("none.db")));
}

}  // namespace
}  // namespace lmforge::retrieval
