#include "retrieval/search.h"

#include <algorithm>

#include "core/error.h"
#include "retrieval/rank_fusion.h"

namespace lmforge::retrieval {

std::string_view search_mode_name(SearchMode mode) {
  switch (mode) {
    case SearchMode::kHybrid: return "hybrid";
    case SearchMode::kVector: return "vector";
    case SearchMode::kBm25: return "bm25";
  }
  return "?";
}

std::vector<RetrievedChunk> retrieve(IndexStore& store, const std::string& index_name,
                                     Embedder* embedder, std::string_view question, SearchMode mode,
                                     size_t k, const VectorSearchOptions& vector_options,
                                     VectorSearchKind* vector_search) {
  const auto settings = store.settings();
  if (!settings) fail(index_name, "the index is empty (no lmforge index was made here yet)");
  std::vector<ScoredChunk> hits;
  if (mode == SearchMode::kBm25) {
    hits = store.search_bm25(question, k);
  } else {
    if (!settings->embedder) {
      fail(index_name, "this is a BM25-only index (made without -m): --mode " +
                           std::string(search_mode_name(mode)) +
                           " needs vectors; use --mode bm25, or add an embedding model with "
                           "`lmforge index --db FILE -m MODEL PATH...`");
    }
    if (!embedder) fail(index_name, "internal: no embedder for --mode " + std::string(search_mode_name(mode)));
    if (!embedder->fingerprint().same_model(*settings->embedder)) {
      fail(index_name, "the index was embedded with " + settings->embedder->describe() +
                           ", not with " + embedder->fingerprint().describe());
    }
    const std::vector<std::string> texts{std::string(question)};
    const auto query = embedder->embed(texts).at(0);
    const size_t depth = mode == SearchMode::kHybrid ? std::max(k, kFusionDepth) : k;
    auto nearest = store.search_nearest(query, depth, vector_options);
    if (vector_search) *vector_search = nearest.kind;
    auto by_vector = std::move(nearest.hits);
    if (mode == SearchMode::kVector) {
      hits = std::move(by_vector);
    } else {
      hits = reciprocal_rank_fusion({store.search_bm25(question, depth), std::move(by_vector)}, k);
    }
  }
  std::vector<int64_t> ids;
  for (const auto& h : hits) ids.push_back(h.chunk_id);
  const auto records = store.fetch_chunks(ids);
  std::vector<RetrievedChunk> out;
  for (size_t i = 0; i < records.size(); ++i) {
    out.push_back({i + 1, records[i].source, records[i].line_first, records[i].line_last, hits[i].score,
                   records[i].text});
  }
  return out;
}

}  // namespace lmforge::retrieval
