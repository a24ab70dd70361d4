// The approximate index on disk: `DB.hnsw` beside the database, like DB.vectors a cache that any
// process may rebuild from the database and that is used only while its stamp is the
// database's. It holds hnswlib's graph (which keeps its own f32 copy of every vector), behind
// our header:
//
//   0   "LMFHNSW\0"           magic
//   8   u32 format version (1)
//   12  u32 dim
//   16  u32 element type of the store's vectors (0 = f32, 1 = f16; the graph holds f32)
//   20  u32 M
//   24  u32 ef_construction
//   28  u32 reserved (0)
//   32  u64 count              vectors in the graph (= the flat file's count)
//   40  u64 generation         the database's vectors_generation when the graph was built
//   48  char[32] index id      the database's index_id (hex)
//   80  u64 payload bytes      = file size - 128
//   88  u32 CRC-32C of the payload
//   92  u32 CRC-32C of bytes 0..92
//   96  zeros up to 128
//   128 the payload: hnswlib's saveIndex bytes (hnsw_layout.h)
//
// Opening never trusts the file: the size, magic, version, header checksum, stamp (index id,
// generation, count, dim, element type, M, ef_construction) and payload checksum must all
// match, and then the payload's whole structure is checked (hnsw_layout.h) before hnswlib's
// loader sees a byte of it. Any mismatch means "stale": the caller rebuilds; nothing throws.
// Written whole through AtomicOutputFile with an fsync before it is linked into place.
#pragma once

#include <memory>
#include <string>

#include "retrieval/approximate_index.h"
#include "retrieval/flat_vector_file.h"

namespace lmforge::retrieval {

struct HnswStamp {
  VectorStamp vectors;  // index id, generation, dim, element type: the flat file's stamp
  uint64_t count = 0;
  HnswParameters parameters;
  bool operator==(const HnswStamp&) const = default;
};

inline constexpr size_t kHnswFileHeaderBytes = 128;

// The graph in the file at `path` when everything checks out for `expected`; nullptr otherwise.
std::unique_ptr<ApproximateIndex> open_hnsw_file_if_current(const std::string& path, const HnswStamp& expected);

// Writes the graph with its stamp and links it into place over any old file (fsync first).
// Throws Error when the file cannot be written.
void write_hnsw_file(const std::string& path, const HnswStamp& stamp, const ApproximateIndex& index);

}  // namespace lmforge::retrieval
