#include "engine/llama_forward.h"

#include <algorithm>
#include <string>
#include <thread>

#include "core/error.h"

namespace lmforge {

LlamaContext::LlamaContext(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads)
    : LlamaContext(model, LlamaContextOptions{.n_ctx = n_ctx, .n_threads = n_threads}) {}

LlamaContext::LlamaContext(const LlamaModel& model, const LlamaContextOptions& o) : model_(model) {
  n_ctx_ = o.n_ctx ? o.n_ctx : model.config().max_position_embeddings;
  if (n_ctx_ == 0) fail(model.path(), "the context length is 0");
  n_threads_ = o.n_threads ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
  // No chunk larger than the context: the activation buffers stay as small as it allows.
  engine_ = LlamaEngine::create(model, LlamaEngineOptions{.n_threads = n_threads_,
                                                          .n_batch = std::min(std::max(1u, o.n_batch), n_ctx_),
                                                          .reference = o.reference,
                                                          .loras = o.loras});
  cache_ = std::make_unique<KvCache>(model, n_ctx_, 1);
}

LlamaContext::~LlamaContext() = default;

void LlamaContext::reset() {
  cache_->clear();
  pos_ = 0;
}

void LlamaContext::rewind(uint32_t pos) {
  if (pos >= pos_) return;
  cache_->remove(0, static_cast<int32_t>(pos));
  pos_ = pos;
}

std::vector<float> LlamaContext::eval(std::span<const int32_t> tokens, bool all_positions) {
  const uint32_t n_vocab = model_.n_vocab();
  if (tokens.empty()) fail(model_.path(), "no tokens to evaluate");
  if (tokens.size() > n_ctx_ - pos_)
    fail(model_.path(), std::to_string(tokens.size()) + " tokens do not fit the context: " + std::to_string(pos_) +
                            " of " + std::to_string(n_ctx_) + " positions are used");
  for (int32_t t : tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= n_vocab)
      fail(model_.path(), "token id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(n_vocab));

  LlamaBatch batch;
  for (size_t i = 0; i < tokens.size(); ++i)
    batch.add(tokens[i], static_cast<int32_t>(pos_ + i), 0, all_positions || i + 1 == tokens.size());
  auto logits = engine_->eval(*cache_, batch);
  pos_ += static_cast<uint32_t>(tokens.size());
  return logits;
}

}  // namespace lmforge
