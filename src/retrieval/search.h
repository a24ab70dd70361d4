// `ask`'s retrieval: the k chunks of an index that best answer a question, by BM25, by exact
// cosine similarity of embeddings, or by both fused with reciprocal rank fusion (hybrid). Each
// list that goes into the fusion is max(k, kFusionDepth) long, so that a chunk ranked just
// below k by one method can still rise on the other's vote.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "retrieval/embedder.h"
#include "retrieval/index_store.h"

namespace lmforge::retrieval {

enum class SearchMode { kHybrid, kVector, kBm25 };

inline constexpr size_t kFusionDepth = 50;

std::string_view search_mode_name(SearchMode mode);

struct RetrievedChunk {
  size_t rank = 0;  // 1-based
  std::string source;
  uint32_t start_line = 0;
  uint32_t end_line = 0;
  double score = 0;  // BM25 (positive, higher is better), cosine, or fused RRF score
  std::string text;
};

// `embedder` may be null for kBm25. Vector and hybrid modes need an index with vectors and an
// embedder with the index's fingerprint; otherwise an Error names the index and says why. The
// vector search is exact or approximate as `vector_options` say; `vector_search`, when given,
// receives which one ran (left alone in kBm25 mode).
std::vector<RetrievedChunk> retrieve(IndexStore& store, const std::string& index_name,
                                     Embedder* embedder, std::string_view question, SearchMode mode,
                                     size_t k, const VectorSearchOptions& vector_options = {},
                                     VectorSearchKind* vector_search = nullptr);

}  // namespace lmforge::retrieval
