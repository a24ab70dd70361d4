#include "engine/llama_engine.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/error.h"
#include "engine/lora_io.h"

namespace lmforge {

std::unique_ptr<LlamaEngine> LlamaEngine::create(const LlamaModel& model, const LlamaEngineOptions& o) {
  std::unique_ptr<LlamaEngine> engine;
  if (o.reference) {
    engine = make_reference_engine(model);
  } else {
    const uint32_t threads = o.n_threads ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
    engine = make_fast_engine(model, threads, std::max(1u, o.n_batch), o.amx);
  }
  engine->set_loras(o.loras);
  return engine;
}

void LlamaEngine::set_loras(const std::vector<AppliedLora>& loras) {
  const LlamaConfig& c = model_.config();
  lora_terms_.assign(c.num_hidden_layers, {});
  lora_keep_.clear();
  for (size_t i = 0; i < loras.size(); ++i) {
    const AppliedLora& applied = loras[i];
    if (!applied.adapter) throw std::logic_error("LlamaEngine: a null LoRA adapter");
    const std::string label = applied.adapter->name.empty() ? "LoRA adapter " + std::to_string(i + 1) : applied.adapter->name;
    check_lora_adapter(*applied.adapter, c, label);
    if (!std::isfinite(applied.scale())) fail(label, "the LoRA scale is not a finite number");
    lora_keep_.push_back(applied.adapter);
    for (size_t l = 0; l < applied.adapter->layers.size(); ++l)
      for (size_t t = 0; t < kLoraTargetCount; ++t)
        if (const auto& p = applied.adapter->layers[l][t]) lora_terms_[l][t].push_back(LoraTerm{&*p, applied.scale()});
  }
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
