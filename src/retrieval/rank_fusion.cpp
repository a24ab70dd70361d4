#include "retrieval/rank_fusion.h"

#include <algorithm>
#include <map>

namespace lmforge::retrieval {

std::vector<ScoredChunk> reciprocal_rank_fusion(const std::vector<std::vector<ScoredChunk>>& lists,
                                                size_t limit, double k) {
  std::map<int64_t, double> fused;
  for (const auto& list : lists) {
    for (size_t i = 0; i < list.size(); ++i) fused[list[i].chunk_id] += 1.0 / (k + static_cast<double>(i + 1));
  }
  std::vector<ScoredChunk> out;
  out.reserve(fused.size());
  for (const auto& [id, score] : fused) out.push_back({id, score});
  std::stable_sort(out.begin(), out.end(), [](const ScoredChunk& a, const ScoredChunk& b) {
    return a.score != b.score ? a.score > b.score : a.chunk_id < b.chunk_id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace lmforge::retrieval
