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
  // Measured (docs/benchmarks.md, "Approximate search"): on clustered 384-d vectors ef 64 finds
  // all of the true top 10 at 100k but 0.91 at 1M (graph built with ef_construction 100), ef 128
  // 0.95; a search at 128 still costs about half a millisecond, nothing beside opening the
  // file, so recall wins. 4k keeps the fusion's 50-deep lists as well served.
  return std::max<size_t>(128, 4 * k);
}

}  // namespace lmforge::retrieval
