// A deterministic embedder without a model: each lower-cased word (a run of ASCII letters and
// digits, or of non-ASCII bytes) is hashed (FNV-1a, 64 bits) to one of `dim` coordinates with a
// sign taken from the hash ("feature hashing"), and the sum is L2-normalized. Its cosine is a
// bag-of-words overlap, so it finds texts that share words with the question, and nothing
// semantic. It exists for the tests (vector and hybrid search, fingerprints, crash safety
// with vectors) and for trying the commands before a neural model is at hand: `-m hash:DIM`.
#pragma once

#include <optional>
#include <string_view>

#include "retrieval/embedder.h"

namespace lmforge::retrieval {

class HashingEmbedder : public Embedder {
 public:
  explicit HashingEmbedder(uint32_t dim);
  uint32_t dim() const override { return dim_; }
  EmbedderFingerprint fingerprint() const override;
  std::vector<std::vector<float>> embed(std::span<const std::string> texts) override;

 private:
  uint32_t dim_;
};

// The dimension of a "hash:DIM" spec (1 <= DIM <= 65536), nullopt when `spec` is not one;
// UsageError for a malformed one.
std::optional<uint32_t> parse_hashing_spec(std::string_view spec);

}  // namespace lmforge::retrieval
