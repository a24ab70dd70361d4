// What the index needs from an embedding model, and nothing more: a batch of texts in, one
// L2-normalized vector per text out, and a fingerprint that says which model made them. The
// index stores the fingerprint and refuses to mix vectors of two models; `ask` embeds the
// question with a model of the same fingerprint. The real models (LLaMA-family and BERT-family
// embedders) implement this from above; retrieval/ knows only the interface, so that the
// splitter, the store and the search stay free of engine code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmforge::retrieval {

// Identifies a model's vector space: two embedders with equal fingerprints give comparable
// vectors. `spec` is how the model was named (a path, or "hash:DIM"); it is recorded so that a
// later run can reopen the model, but it is not compared: the same file moved elsewhere is the
// same model.
struct EmbedderFingerprint {
  std::string architecture;  // e.g. "bert", "llama", "hashing"
  std::string file_sha256;   // of the model file (empty where there is none)
  std::string pooling;       // "mean", "cls", "last", "none", ...
  uint32_t dim = 0;
  std::string spec;

  bool same_model(const EmbedderFingerprint& o) const {
    return architecture == o.architecture && file_sha256 == o.file_sha256 &&
           pooling == o.pooling && dim == o.dim;
  }
  // One line for messages: "bert mean 384-d, file sha256 abcd1234..."
  std::string describe() const;
};

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual uint32_t dim() const = 0;
  virtual EmbedderFingerprint fingerprint() const = 0;
  // One vector of dim() floats per text, in order, each of L2 norm 1 (or all zeros for a text
  // with nothing to embed). Batches are as large as the caller finds convenient; an embedder
  // may split them further and use threads.
  virtual std::vector<std::vector<float>> embed(std::span<const std::string> texts) = 0;
};

}  // namespace lmforge::retrieval
