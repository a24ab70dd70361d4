// The index's storage, behind one interface: documents (path, content hash, size), their chunks
// (text, byte and line ranges), a BM25 full-text index over the chunks, one normalized vector
// per chunk when the index has an embedding model, and the settings the index was made with.
// SQLite is the one backend today (sqlite_index_store.h); a server-side store (pgvector,
// Qdrant) would implement the same calls, keeping its own BM25 and vector search.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "retrieval/embedder.h"
#include "retrieval/text_splitter.h"
#include "retrieval/vector_search_options.h"

namespace lmforge::retrieval {

// How the vectors are stored: f32, or IEEE f16 (half the bytes to keep and to read per search;
// a normalized embedding keeps about three decimal digits per coordinate).
enum class VectorType { kF32, kF16 };

inline std::string_view vector_type_name(VectorType t) { return t == VectorType::kF16 ? "f16" : "f32"; }
inline size_t vector_element_bytes(VectorType t) { return t == VectorType::kF16 ? 2 : 4; }

struct IndexSettings {
  SplitterOptions splitter;
  std::optional<EmbedderFingerprint> embedder;  // none: a BM25-only index
  VectorType vector_type = VectorType::kF32;
};

struct StoredDocument {
  std::string path;  // as indexed (the folder walk's relative path, or as given)
  std::string sha256;
  uint64_t size = 0;
  uint64_t chunks = 0;
  bool has_vectors = false;  // embedded with the index's model
};

struct ScoredChunk {
  int64_t chunk_id = 0;
  double score = 0;  // higher is better; BM25 (as a positive number) or cosine
};

struct VectorSearchResult {
  std::vector<ScoredChunk> hits;
  VectorSearchKind kind = VectorSearchKind::kExact;  // which search produced them
};

struct ChunkRecord {
  int64_t chunk_id = 0;
  std::string source;  // the document's path
  uint32_t line_first = 0;
  uint32_t line_last = 0;
  std::string text;
};

class IndexStore {
 public:
  virtual ~IndexStore() = default;

  // The settings stored with the index; nullopt for a store that holds no index yet.
  virtual std::optional<IndexSettings> settings() = 0;
  // Drops every document and starts over with `settings`, in one transaction.
  virtual void reset(const IndexSettings& settings) = 0;
  // Gives a BM25-only index its embedding model; documents keep has_vectors == false until
  // they are put again with vectors.
  virtual void set_embedder(const EmbedderFingerprint& embedder) = 0;

  virtual std::vector<StoredDocument> documents() = 0;
  // Adds the document or replaces the one with the same path, with its chunks and, when
  // `vectors` is not empty, one vector per chunk (chunks.size() x dim floats, normalized): all
  // or nothing, in one transaction. The store keeps them in its settings' vector type.
  virtual void put_document(const StoredDocument& document, std::span<const TextChunk> chunks,
                            std::span<const float> vectors) = 0;
  virtual void remove_document(const std::string& path) = 0;  // one transaction

  virtual uint64_t chunk_count() = 0;
  // Up to k chunks by BM25 for any user text (escaped here: never a query syntax error).
  virtual std::vector<ScoredChunk> search_bm25(std::string_view question, size_t k) = 0;
  // Up to k chunks by exact cosine similarity with `query` (normalized, the index's dim).
  virtual std::vector<ScoredChunk> search_vectors(std::span<const float> query, size_t k) = 0;
  // Up to k chunks by cosine similarity, exactly or through an approximate index as `options`
  // say (vector_search_options.h). A backend without an approximate index searches exactly.
  virtual VectorSearchResult search_nearest(std::span<const float> query, size_t k,
                                            const VectorSearchOptions& options) {
    (void)options;
    return {search_vectors(query, k), VectorSearchKind::kExact};
  }
  // Makes whatever search_nearest would otherwise build at its first call (caches beside the
  // database, an approximate index) now: `index` calls it at the end of a run.
  virtual void prepare_vector_search(const VectorSearchOptions& options) { (void)options; }
  virtual std::vector<ChunkRecord> fetch_chunks(std::span<const int64_t> chunk_ids) = 0;
};

}  // namespace lmforge::retrieval
