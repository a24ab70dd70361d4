// How `ask` searches vectors: exactly (every vector scored, flat_vector_file.h) or through the
// approximate HNSW index (approximate_index.h, hnsw_file.h), and the knobs of the latter.
//
// The approximate index is used when the index holds at least `approximate_min_chunks` vectors:
// LMFORGE_ANN_MIN_CHUNKS in the environment, default 100000 (docs/benchmarks.md, "Approximate
// search", for why); `ask --exact` forces the exact scan. The graph's parameters and the
// search's candidate list (ef_search) were chosen from the recall and latency measured there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace lmforge::retrieval {

inline constexpr uint64_t kDefaultApproximateMinChunks = 100000;
inline constexpr const char* kApproximateMinChunksVariable = "LMFORGE_ANN_MIN_CHUNKS";

struct HnswParameters {
  uint32_t m = 16;                 // links per element (2M on the bottom level)
  uint32_t ef_construction = 200;  // candidate list while inserting
  bool operator==(const HnswParameters&) const = default;
};

enum class VectorSearchKind { kExact, kApproximate };

inline std::string_view vector_search_kind_name(VectorSearchKind kind) {
  return kind == VectorSearchKind::kApproximate ? "approximate" : "exact";
}

struct VectorSearchOptions {
  bool exact_only = false;  // `ask --exact`
  uint64_t approximate_min_chunks = kDefaultApproximateMinChunks;
  HnswParameters hnsw;
  unsigned threads = 1;  // for building the graph
  // Called now and then while a graph is built: (vectors inserted, vectors in all).
  std::function<void(uint64_t, uint64_t)> on_build_progress;
};

// The options with approximate_min_chunks from LMFORGE_ANN_MIN_CHUNKS when it is set (a
// decimal count; anything else is a UsageError naming the variable).
VectorSearchOptions vector_search_options_from_environment();

// The candidate list (hnswlib's ef) for k results: max(128, 4k), never below k.
size_t hnsw_ef_search(size_t k);

}  // namespace lmforge::retrieval
