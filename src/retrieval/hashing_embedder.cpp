#include "retrieval/hashing_embedder.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace lmforge::retrieval {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

}  // namespace

std::string EmbedderFingerprint::describe() const {
  std::string s = architecture + " " + pooling + " " + std::to_string(dim) + "-d";
  if (!file_sha256.empty()) s += ", file sha256 " + file_sha256.substr(0, 16) + "...";
  if (!spec.empty()) s += " (" + spec + ")";
  return s;
}

HashingEmbedder::HashingEmbedder(uint32_t dim) : dim_(dim) {
  if (dim == 0) throw UsageError("hashing embedder: the dimension must be at least 1");
}

EmbedderFingerprint HashingEmbedder::fingerprint() const {
  return {"hashing", "", "sum", dim_, "hash:" + std::to_string(dim_)};
}

std::vector<std::vector<float>> HashingEmbedder::embed(std::span<const std::string> texts) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    std::vector<double> sums(dim_, 0.0);
    size_t i = 0;
    while (i < text.size()) {
      if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
      for (; i < text.size() && is_word_byte(static_cast<unsigned char>(text[i])); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
        h = (h ^ c) * 0x100000001b3ULL;
      }
      sums[h % dim_] += (h >> 63) ? -1.0 : 1.0;
    }
    double norm = 0;
    for (double v : sums) norm += v * v;
    norm = std::sqrt(norm);
    std::vector<float> v(dim_, 0.0f);
    if (norm > 0) {
      for (uint32_t k = 0; k < dim_; ++k) v[k] = static_cast<float>(sums[k] / norm);
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<uint32_t> parse_hashing_spec(std::string_view spec) {
  constexpr std::string_view kPrefix = "hash:";
  if (spec.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view digits = spec.substr(kPrefix.size());
  uint64_t dim = 0;
  if (digits.empty() || digits.size() > 6) {
    throw UsageError("bad embedder '" + std::string(spec) + "': expected hash:DIM with 1 <= DIM <= 65536");
  }
  for (char c : digits) {
    if (c < '0' || c > '9') {
      throw UsageError("bad embedder '" + std::string(spec) + "': expected hash:DIM with 1 <= DIM <= 65536");
    }
    dim = dim * 10 + static_cast<uint64_t>(c - '0');
  }
  if (dim < 1 || dim > 65536) {
    throw UsageError("bad embedder '" + std::string(spec) + "': expected hash:DIM with 1 <= DIM <= 65536");
  }
  return static_cast<uint32_t>(dim);
}

}  // namespace lmforge::retrieval
