#include "retrieval/vector_search_options.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace lmforge::retrieval {

VectorSearchOptions vector_search_options_from_environment() {
  VectorSearchOptions options;
  const char* value = std::getenv(kApproximateMinChunksVariable);
  if (value != nullptr && *value != '\0') {
    const std::string_view text(value);
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) {
      throw UsageError(std::string(kApproximateMinChunksVariable) + " must be a number of chunks, not '" +
                       std::string(text) + "'");
    }
    options.approximate_min_chunks = n;
  }
  return options;
}

size_t hnsw_ef_search(size_t k) {
  // A candidate list of 64 already finds >= 0.95 of the true top 10 on the measured sets, and the
  // search costs about linearly in ef: max(64, 4k) keeps recall for the fusion's 50-deep lists.
  return std::max<size_t>(64, 4 * k);
}

}  // namespace lmforge::retrieval
