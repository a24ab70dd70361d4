#include "cli/embedder_open.h"

#include "core/error.h"
#include "retrieval/hashing_embedder.h"

namespace lmforge::cli {

std::unique_ptr<retrieval::Embedder> open_embedder(const std::string& spec) {
  if (auto dim = retrieval::parse_hashing_spec(spec)) return std::make_unique<retrieval::HashingEmbedder>(*dim);
  throw UsageError("embedding model '" + spec +
                   "': this build embeds only with hash:DIM (the model-free hashing embedder); "
                   "neural embedding models are not wired to `index`/`ask` yet");
}

}  // namespace lmforge::cli
