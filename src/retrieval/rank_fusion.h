// Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): a chunk's fused score is
// the sum over the ranked lists it appears in of 1 / (k + rank), rank 1-based, with k = 60 as
// in the paper and in most hybrid-search systems. It needs no calibration between BM25's and
// cosine's scales, which are not comparable, and rewards chunks both lists rank high.
#pragma once

#include <vector>

#include "retrieval/index_store.h"

namespace lmforge::retrieval {

inline constexpr double kRrfK = 60.0;

// The fused list, best first (ties: smaller chunk id first), at most `limit` long.
std::vector<ScoredChunk> reciprocal_rank_fusion(const std::vector<std::vector<ScoredChunk>>& lists,
                                                size_t limit, double k = kRrfK);

}  // namespace lmforge::retrieval
