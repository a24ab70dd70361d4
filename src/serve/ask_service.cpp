#include "serve/ask_service.h"

#include "core/error.h"
#include "serve/api_error.h"

namespace lmforge::serve {

AskService::AskService(std::unique_ptr<retrieval::IndexStore> store, std::string db_path,
                       std::unique_ptr<retrieval::Embedder> embedder, retrieval::SearchMode default_mode)
    : store_(std::move(store)), db_path_(std::move(db_path)), embedder_(std::move(embedder)), default_mode_(default_mode) {}

std::vector<retrieval::RetrievedChunk> AskService::retrieve(const std::string& question, const std::optional<std::string>& mode,
                                                            size_t k) {
  retrieval::SearchMode m = default_mode_;
  if (mode) m = *mode == "bm25" ? retrieval::SearchMode::kBm25 : *mode == "vector" ? retrieval::SearchMode::kVector : retrieval::SearchMode::kHybrid;
  if (m != retrieval::SearchMode::kBm25 && !embedder_)
    throw_bad_request("The index has no vectors: only mode \"bm25\" can search it", "mode");
  std::lock_guard lock(mu_);
  try {
    return retrieval::retrieve(*store_, db_path_, embedder_.get(), question, m, k);
  } catch (const Error& e) {
    throw_bad_request("The index cannot answer this search: " + e.message(), "mode");
  }
}

}  // namespace lmforge::serve
