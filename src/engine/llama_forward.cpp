#include "engine/llama_forward.h"

#include <algorithm>
#include <string>
#include <thread>

#include "core/checked_math.h"
#include "core/error.h"
#include "engine/llama_engine.h"

namespace lmforge {

std::optional<uint64_t> llama_kv_cache_bytes(const LlamaConfig& c, uint32_t n_ctx) {
  const uint64_t kv_dim = uint64_t{c.num_key_value_heads} * c.head_dim;
  auto per_layer = checked_mul(uint64_t{n_ctx}, kv_dim);
  if (!per_layer) return std::nullopt;
  auto all = checked_mul(*per_layer, uint64_t{c.num_hidden_layers});
  if (!all) return std::nullopt;
  auto bytes = checked_mul(*all, uint64_t{2 * sizeof(float)});  // keys and values
  return bytes;
}

std::unique_ptr<float[]> allocate_kv_cache(const LlamaModel& model, uint32_t n_ctx) {
  const auto bytes = llama_kv_cache_bytes(model.config(), n_ctx);
  // Checked: a hostile context length times the layer count must not wrap the allocation.
  if (!bytes || *bytes / 2 > SIZE_MAX / 2)
    fail(model.path(), "the KV cache for " + std::to_string(n_ctx) + " positions is too large");
  return std::unique_ptr<float[]>(new float[*bytes / 2 / sizeof(float)]);
}

LlamaContext::LlamaContext(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads)
    : LlamaContext(model, LlamaContextOptions{.n_ctx = n_ctx, .n_threads = n_threads}) {}

LlamaContext::LlamaContext(const LlamaModel& model, const LlamaContextOptions& o) : model_(model) {
  n_ctx_ = o.n_ctx ? o.n_ctx : model.config().max_position_embeddings;
  if (n_ctx_ == 0) fail(model.path(), "the context length is 0");
  n_threads_ = o.n_threads ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
  engine_ = o.reference ? make_reference_engine(model, n_ctx_)
                        : make_fast_engine(model, n_ctx_, n_threads_, std::max(1u, o.n_batch));
}

LlamaContext::~LlamaContext() = default;

void LlamaContext::rewind(uint32_t pos) { pos_ = std::min(pos_, pos); }

std::vector<float> LlamaContext::eval(std::span<const int32_t> tokens, bool all_positions) {
  const uint32_t n_vocab = model_.n_vocab();
  if (tokens.empty()) fail(model_.path(), "no tokens to evaluate");
  if (tokens.size() > n_ctx_ - pos_)
    fail(model_.path(), std::to_string(tokens.size()) + " tokens do not fit the context: " + std::to_string(pos_) +
                            " of " + std::to_string(n_ctx_) + " positions are used");
  for (int32_t t : tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= n_vocab)
      fail(model_.path(), "token id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(n_vocab));

  std::vector<float> logits((all_positions ? tokens.size() : 1) * size_t{n_vocab});
  engine_->eval(tokens.data(), tokens.size(), pos_, all_positions, logits.data());
  pos_ += static_cast<uint32_t>(tokens.size());
  return logits;
}

}  // namespace lmforge
