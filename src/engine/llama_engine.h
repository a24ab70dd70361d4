// The engines behind LlamaContext (see llama_forward.h). Internal to src/engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/llama_model.h"

namespace lmforge {

class LlamaEngine {
 public:
  virtual ~LlamaEngine() = default;
  // Computes tokens[0..n) at positions pos .. pos+n-1 (already validated: in the vocabulary,
  // inside the context) and stores their keys and values. With all_positions, writes n rows
  // of n_vocab logits; otherwise the last token's row only.
  virtual void eval(const int32_t* tokens, size_t n, uint32_t pos, bool all_positions, float* logits) = 0;
};

std::unique_ptr<LlamaEngine> make_reference_engine(const LlamaModel& model, uint32_t n_ctx);
std::unique_ptr<LlamaEngine> make_fast_engine(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads,
                                              uint32_t n_batch);

// Allocates the [n_layer][n_ctx][n_kv_head * head_dim] float cache for keys or values, left
// uninitialized (a position is written before it is read, and untouched pages of a long
// context cost no memory). Fails, naming the model, when it would not be addressable.
std::unique_ptr<float[]> allocate_kv_cache(const LlamaModel& model, uint32_t n_ctx);

}  // namespace lmforge
