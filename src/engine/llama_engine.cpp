#include "engine/llama_engine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "core/error.h"

namespace lmforge {

std::unique_ptr<LlamaEngine> LlamaEngine::create(const LlamaModel& model, const LlamaEngineOptions& o) {
  if (o.reference) return make_reference_engine(model);
  const uint32_t threads = o.n_threads ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
  return make_fast_engine(model, threads, std::max(1u, o.n_batch), o.amx);
}

std::vector<float> LlamaEngine::eval(KvCache& cache, const LlamaBatch& batch) {
  hidden_out_ = false;
  return eval_rows(cache, batch);
}

std::vector<float> LlamaEngine::eval_hidden(KvCache& cache, const LlamaBatch& batch) {
  hidden_out_ = true;
  try {
    auto rows = eval_rows(cache, batch);
    hidden_out_ = false;
    return rows;
  } catch (...) {
    hidden_out_ = false;
    throw;
  }
}

std::vector<float> LlamaEngine::eval_rows(KvCache& cache, const LlamaBatch& batch) {
  const LlamaConfig& c = model_.config();
  if (cache.n_layer() != c.num_hidden_layers || cache.kv_dim() != size_t{c.num_key_value_heads} * c.head_dim)
    fail(model_.path(), "the KV cache was made for a model of another shape");
  const uint32_t n_vocab = model_.n_vocab();
  for (int32_t t : batch.token)
    if (t < 0 || static_cast<uint32_t>(t) >= n_vocab)
      fail(model_.path(), "token id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(n_vocab));

  KvPlacement placement = cache.place(batch);  // the other checks; throws with nothing changed
  try {
    std::vector<float> logits(batch.n_logits() * out_width());
    compute(cache, batch, placement, logits.data());
    return logits;
  } catch (...) {
    // Cells whose keys and values were not all written must not stay visible.
    cache.unplace(placement);
    throw;
  }
}

AttentionShape LlamaEngine::attention_shape(const LlamaConfig& c) {
  return AttentionShape{.n_head = c.num_attention_heads,
                        .n_head_kv = c.num_key_value_heads,
                        .head_dim = c.head_dim,
                        .cell_stride = size_t{c.num_key_value_heads} * c.head_dim,
                        .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)))};
}

}  // namespace lmforge
