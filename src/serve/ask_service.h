// The retrieval side of POST /v1/ask: an index made by `lmforge index` (--db) searched the way
// `lmforge ask` searches it (BM25, vectors or both fused). SQLite handles and model embedders
// serve one call at a time, so searches take turns through a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "retrieval/embedder.h"
#include "retrieval/index_store.h"
#include "retrieval/search.h"

namespace lmforge::serve {

class AskService {
 public:
  // `embedder` may be null for a BM25-only index; `default_mode` is what `ask` would choose.
  AskService(std::unique_ptr<retrieval::IndexStore> store, std::string db_path, std::unique_ptr<retrieval::Embedder> embedder,
             retrieval::SearchMode default_mode);

  // Throws ApiException 400 for a mode the index cannot serve.
  std::vector<retrieval::RetrievedChunk> retrieve(const std::string& question, const std::optional<std::string>& mode, size_t k);

 private:
  std::unique_ptr<retrieval::IndexStore> store_;
  std::string db_path_;
  std::unique_ptr<retrieval::Embedder> embedder_;
  retrieval::SearchMode default_mode_;
  std::mutex mu_;
};

}  // namespace lmforge::serve
