// The llama forward pass on the CPU, scalar reference version: one token at a time through
// every layer, keys and values kept in a float KV cache so that later tokens attend to earlier
// ones without recomputing them.
//
// Per layer (the GGUF llama graph):
//   h = x + Wo · attention(RoPE(Wq · rms(x)), RoPE(Wk · rms(x)), Wv · rms(x))
//   x = h + Wdown · (silu(Wgate · rms(h)) * Wup · rms(h))
// then logits = Wout · rms(x). Attention is causal, scaled by 1/sqrt(head_dim), and query head h
// reads KV head h / (n_head / n_head_kv) (grouped-query attention).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/llama_model.h"

namespace lmforge {

class LlamaContext {
 public:
  // A context of `n_ctx` positions (0: the model's llama.context_length), computed by
  // `n_threads` threads (0: one per available core).
  explicit LlamaContext(const LlamaModel& model, uint32_t n_ctx = 0, uint32_t n_threads = 0);

  // Runs `tokens` at positions pos() .. pos()+n-1, appending their keys and values to the cache.
  // Returns the logits of the last token (n_vocab floats), or with `all_positions` those of
  // every token, position-major (n * n_vocab floats). Throws when the tokens do not fit the
  // context or an id is outside the vocabulary; the cache is unchanged then.
  std::vector<float> eval(std::span<const int32_t> tokens, bool all_positions = false);

  uint32_t pos() const { return pos_; }
  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t n_threads() const { return n_threads_; }
  // Forgets every cached position.
  void reset() { pos_ = 0; }

 private:
  void forward_one(int32_t token, float* logits);
  void attention(uint32_t layer, float* out);

  const LlamaModel& model_;
  uint32_t n_ctx_ = 0;
  uint32_t n_threads_ = 1;
  uint32_t pos_ = 0;
  size_t kv_dim_ = 0;
  // [n_layer][n_ctx][n_head_kv * head_dim]
  std::unique_ptr<float[]> k_cache_, v_cache_;
  // Activations of the token being computed.
  std::vector<float> x_, xn_, q_, att_, proj_, gate_, up_, scores_;
};

}  // namespace lmforge
