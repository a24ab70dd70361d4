// The embedding model behind /v1/embeddings (--embed-model, or the served model itself, its
// loaded weights shared with the generating engine). An Embedder runs one call at a time, so
// requests take turns through a mutex; each call embeds all of a request's inputs together.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/embedder.h"

namespace lmforge::serve {

class EmbeddingService {
 public:
  // `model_id`: the name requests give as "model"; `token_inputs_ok`: whether token-id inputs
  // are in this model's vocabulary (only when it is the served model itself).
  EmbeddingService(std::unique_ptr<Embedder> embedder, std::string model_id, bool token_inputs_ok);

  const std::string& model_id() const { return model_id_; }
  bool token_inputs_ok() const { return token_inputs_ok_; }
  size_t max_tokens() const { return embedder_->info().max_tokens; }

  struct Result {
    std::vector<std::vector<float>> vectors;
    size_t tokens = 0;
  };
  // Throws ApiException 400 for an input longer than the model takes.
  Result embed_texts(std::span<const std::string> texts);
  Result embed_tokens(std::span<const std::vector<int32_t>> inputs);

 private:
  std::unique_ptr<Embedder> embedder_;
  std::string model_id_;
  bool token_inputs_ok_;
  std::mutex mu_;
};

}  // namespace lmforge::serve
