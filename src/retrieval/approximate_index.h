// The approximate nearest-neighbour index over an index's vectors: an HNSW graph (hnswlib 0.6,
// Debian libhnswlib-dev, header-only) under inner product, which on L2-normalized vectors is the
// cosine similarity that exact search ranks by. f16 stores are widened to f32 for it (hnswlib
// keeps its own copy of every vector inside the graph). Distances go through the same
// similarity kernel as exact search (kernels/similarity.h, dispatched at run time to the
// machine's widest SIMD), so the scores of both searches agree to rounding.
//
// Only this file and its .cpp see hnswlib. The graph reaches disk through hnswlib's saveIndex
// and comes back without its loadIndex: that one copies the whole file through an ifstream,
// seeking once per element (which refills the stream's buffer every time: 2.9 s for a 168 MB
// graph of 100k vectors here), and trusts every size it reads. load() instead adopts the bytes
// of the memory-mapped file in place, after check_hnsw_payload (hnsw_layout.h) has accepted
// them: hnswlib's search reads its level-0 records and upper-level lists straight from the map.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "retrieval/hnsw_layout.h"
#include "retrieval/index_store.h"
#include "retrieval/vector_search_options.h"

namespace lmforge::retrieval {

class ApproximateIndex {
 public:
  ~ApproximateIndex();

  // Builds the graph of `ids.size()` rows of `dim` elements of `element_type` (kVectorElementF32
  // or kVectorElementF16, flat_vector_file.h), each labelled with its chunk id, inserting with
  // `threads` threads. `on_progress(rows inserted)` is called now and then from the calling
  // thread. Throws Error when hnswlib fails (memory).
  static std::unique_ptr<ApproximateIndex> build(const void* rows, uint32_t element_type, std::span<const int64_t> ids,
                                                 uint32_t dim, const HnswParameters& parameters, unsigned threads,
                                                 const std::function<void(uint64_t)>& on_progress);

  // The graph in hnswlib's own bytes (what write_payload hands out), used in place: `payload`
  // must stay mapped and unchanged while the index lives, which `keep_alive` (the mapping's
  // owner) ensures. nullptr when check_hnsw_payload does not accept the bytes for `shape`.
  static std::unique_ptr<ApproximateIndex> load(std::span<const uint8_t> payload, const HnswShape& shape,
                                                std::shared_ptr<const void> keep_alive);

  // Hands `sink` hnswlib's bytes for this graph (what load() takes back).
  void write_payload(const std::function<void(std::span<const uint8_t>)>& sink) const;

  const HnswShape& shape() const { return shape_; }

  // Up to k chunks by (approximate) inner product with `query` (normalized, dim floats),
  // highest first, ties by chunk id; `ef` (>= k) is the candidate list's length: larger finds
  // more of the true neighbours and costs more. One search at a time per object.
  std::vector<ScoredChunk> search(std::span<const float> query, size_t k, size_t ef) const;

 private:
  struct Graph;
  ApproximateIndex();
  HnswShape shape_;
  std::unique_ptr<Graph> graph_;
  mutable std::mutex search_mutex_;
};

}  // namespace lmforge::retrieval
