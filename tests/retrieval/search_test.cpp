// Retrieval: the FTS5 query escaping, reciprocal rank fusion by hand, and the three modes over
// a small corpus with a fake embedder whose vectors are known: BM25 finds words, vectors find
// topics (synonyms BM25 cannot see), hybrid is the RRF of the two lists the store returns.
#include "retrieval/search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "retrieval/fts_query.h"
#include "retrieval/hashing_embedder.h"
#include "retrieval/indexer.h"
#include "retrieval/rank_fusion.h"
#include "retrieval/sqlite_index_store.h"
#include "retrieval/stuff_prompt.h"
#include "retrieval_test_util.h"

namespace lmforge::retrieval {
namespace {

using test::TempDir;
using test::TopicEmbedder;

TEST(FtsQueryTest, QuotesEveryWordAndJoinsWithOr) {
  EXPECT_EQ(fts5_query_for(""), "");
  EXPECT_EQ(fts5_query_for("  \t\n"), "");
  EXPECT_EQ(fts5_query_for("hello"), "\"hello\"");
  EXPECT_EQ(fts5_query_for(" a  b "), "\"a\" OR \"b\"");
  EXPECT_EQ(fts5_query_for("say \"hi\""), "\"say\" OR \"\"\"hi\"\"\"");
  EXPECT_EQ(fts5_query_for("NEAR(x"), "\"NEAR(x\"");
  EXPECT_EQ(fts5_query_for("Word word WORD other"), "\"Word\" OR \"other\"");
  std::string many;
  for (int i = 0; i < 500; ++i) many += "w" + std::to_string(i) + " ";
  const std::string q = fts5_query_for(many);
  EXPECT_EQ(std::count(q.begin(), q.end(), '"'), static_cast<std::ptrdiff_t>(2 * kMaxQueryWords));
}

TEST(RankFusionTest, SumsReciprocalRanksWithK60) {
  const std::vector<ScoredChunk> bm25 = {{10, 9.0}, {20, 5.0}, {30, 1.0}};
  const std::vector<ScoredChunk> vec = {{30, 0.9}, {40, 0.8}, {10, 0.1}};
  const auto fused = reciprocal_rank_fusion({bm25, vec}, 10);
  // 10: 1/61 + 1/63; 30: 1/63 + 1/61 (equal: smaller id first); 20: 1/62; 40: 1/62.
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].chunk_id, 10);
  EXPECT_EQ(fused[1].chunk_id, 30);
  EXPECT_EQ(fused[2].chunk_id, 20);
  EXPECT_EQ(fused[3].chunk_id, 40);
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61 + 1.0 / 63);
  EXPECT_DOUBLE_EQ(fused[2].score, 1.0 / 62);
  EXPECT_EQ(reciprocal_rank_fusion({bm25, vec}, 2).size(), 2u);
  EXPECT_TRUE(reciprocal_rank_fusion({{}, {}}, 4).empty());
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir.write("docs/pets.txt", "My kitten chases the puppy around the garden.\n");
    dir.write("docs/road.txt", "The automobile needs a new engine before the trip.\n");
    dir.write("docs/lunch.txt", "Soup with bread and cheese makes a good meal.\n");
    dir.write("docs/sky.txt", "A storm brings rain, then snow; tomorrow is sunny.\n");
    dir.write("docs/words.txt", "The word car appears here, about nothing in particular.\n");
    IndexOptions options;
    options.paths = {dir.file("docs")};
    auto store = open_sqlite_index(db(), IndexOpenMode::kUpdate);
    update_index(*store, db(), &topics, options, [](const IndexProgress&) {});
  }
  std::string db() const { return dir.file("i.db"); }
  std::vector<RetrievedChunk> ask(const std::string& q, SearchMode mode, size_t k = 5, Embedder* e = nullptr) {
    auto store = open_sqlite_index(db(), IndexOpenMode::kRead);
    return retrieve(*store, db(), e ? e : &topics, q, mode, k);
  }
  TempDir dir;
  TopicEmbedder topics;
};

TEST_F(SearchTest, Bm25FindsWordsVectorsFindTopics) {
  const auto bm25 = ask("car", SearchMode::kBm25);
  ASSERT_EQ(bm25.size(), 1u);
  EXPECT_EQ(bm25[0].source, dir.file("docs/words.txt"));
  const auto vec = ask("car", SearchMode::kVector, 1);
  ASSERT_EQ(vec.size(), 1u);
  EXPECT_EQ(vec[0].source, dir.file("docs/road.txt")) << "automobile/engine share the vehicle topic";
  EXPECT_NEAR(vec[0].score, 1.0, 1e-6);
  EXPECT_EQ(vec[0].start_line, 1u);
  EXPECT_EQ(vec[0].end_line, 1u);
  EXPECT_EQ(vec[0].rank, 1u);
}

TEST_F(SearchTest, HybridIsTheFusionOfBothLists) {
  const std::string q = "car weather";
  auto store = open_sqlite_index(db(), IndexOpenMode::kRead);
  const auto bm25 = store->search_bm25(q, kFusionDepth);
  const auto vec = store->search_vectors(topics.embed(std::vector<std::string>{q})[0], kFusionDepth);
  const auto expected = reciprocal_rank_fusion({bm25, vec}, 3);
  const auto hybrid = ask(q, SearchMode::kHybrid, 3);
  ASSERT_EQ(hybrid.size(), expected.size());
  const auto records = store->fetch_chunks(std::vector<int64_t>{expected[0].chunk_id, expected[1].chunk_id, expected[2].chunk_id});
  for (size_t i = 0; i < hybrid.size(); ++i) {
    EXPECT_EQ(hybrid[i].text, records[i].text) << i;
    EXPECT_DOUBLE_EQ(hybrid[i].score, expected[i].score) << i;
  }
  // words.txt (BM25's only hit for "car", and weather-free) and a vector hit both rank high.
  std::map<std::string, size_t> rank_of;
  for (const auto& c : hybrid) rank_of[c.source] = c.rank;
  EXPECT_TRUE(rank_of.count(dir.file("docs/words.txt")));
}

TEST_F(SearchTest, VectorModesNeedTheIndexModel) {
  HashingEmbedder other(4);
  EXPECT_THROW(ask("car", SearchMode::kVector, 3, &other), Error);
  TempDir bm25_only;
  bm25_only.write("a.txt", "car");
  auto store = open_sqlite_index(bm25_only.file("i.db"), IndexOpenMode::kUpdate);
  IndexOptions options;
  options.paths = {bm25_only.file("a.txt")};
  update_index(*store, "i.db", nullptr, options, [](const IndexProgress&) {});
  try {
    retrieve(*store, "i.db", &topics, "car", SearchMode::kHybrid, 3);
    FAIL() << "hybrid on a BM25-only index";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("BM25-only"), std::string::npos) << e.what();
  }
  EXPECT_EQ(retrieve(*store, "i.db", nullptr, "car", SearchMode::kBm25, 3).size(), 1u);
}

TEST(StuffPromptTest, LangChainRetrievalQaWording) {
  std::vector<RetrievedChunk> chunks = {{1, "a.txt", 1, 2, 0.5, "first"}, {2, "b.md", 7, 7, 0.4, "second"}};
  EXPECT_EQ(stuff_prompt("Why?", chunks),
            "Use the following pieces of context to answer the question at the end. If you don't know the "
            "answer, just say that you don't know, don't try to make up an answer.\n\nfirst\n\nsecond\n\n"
            "Question: Why?\nHelpful Answer:");
  EXPECT_EQ(source_label(chunks[0]), "a.txt:1-2");
  EXPECT_EQ(source_label(chunks[1]), "b.md:7");
}

}  // namespace
}  // namespace lmforge::retrieval
