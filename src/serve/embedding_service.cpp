#include "serve/embedding_service.h"

#include "core/error.h"
#include "serve/api_error.h"

namespace lmforge::serve {

EmbeddingService::EmbeddingService(std::unique_ptr<Embedder> embedder, std::string model_id, bool token_inputs_ok)
    : embedder_(std::move(embedder)), model_id_(std::move(model_id)), token_inputs_ok_(token_inputs_ok) {}

EmbeddingService::Result EmbeddingService::embed_texts(std::span<const std::string> texts) {
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string where = texts.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
    try {
      ids.push_back(embedder_->tokenize(texts[i], where));
    } catch (const Error& e) {
      throw_bad_request("'" + where + "' " + e.message(), where);
    }
  }
  return embed_tokens(ids);
}

EmbeddingService::Result EmbeddingService::embed_tokens(std::span<const std::vector<int32_t>> inputs) {
  Result r;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].size() > max_tokens()) {
      const std::string where = inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
      throw_bad_request("'" + where + "' has " + std::to_string(inputs[i].size()) + " tokens; the embedding model takes at most " +
                            std::to_string(max_tokens()),
                        where);
    }
    r.tokens += inputs[i].size();
  }
  std::lock_guard lock(mu_);
  r.vectors = embedder_->embed_tokens(inputs);
  return r;
}

}  // namespace lmforge::serve
