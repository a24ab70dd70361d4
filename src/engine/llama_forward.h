// The llama forward pass on the CPU for one sequence: a context holds an engine and a KV cache
// and turns token ids into next-token logits.
//
// Per layer (the GGUF llama graph):
//   h = x + Wo · attention(RoPE(Wq · rms(x)), RoPE(Wk · rms(x)), Wv · rms(x))
//   x = h + Wdown · (silu(Wgate · rms(h)) * Wup · rms(h))
// then logits = Wout · rms(x). Attention is causal, scaled by 1/sqrt(head_dim), and query head h
// reads KV head h / (n_head / n_head_kv) (grouped-query attention).
//
// LlamaContext is the convenience form of src/engine/llama_engine.h for a single sequence
// (sequence 0, positions counted for the caller); batches of several sequences go to
// LlamaEngine::eval with a KvCache directly. Two engines compute it:
//  - the fast engine (default): tokens in batches, SIMD kernels (src/kernels/matmul.h), a
//    persistent thread pool; activations are quantized to 8 bits for Q8_0/Q4_0 weights, as in
//    llama.cpp;
//  - the reference engine: one token at a time, scalar, double-precision sums, float
//    activations everywhere — the readable specification the fast one is tested against.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/llama_engine.h"
#include "engine/llama_model.h"

namespace lmforge {

struct LlamaContextOptions {
  uint32_t n_ctx = 0;       // positions; 0: the model's llama.context_length
  uint32_t n_threads = 0;   // 0: one per available core
  uint32_t n_batch = 512;   // most tokens computed together (bounds the activation buffers)
  bool reference = false;   // the scalar reference engine instead of the fast one
  std::vector<AppliedLora> loras;  // LoRA adapters applied to every product (llama_engine.h)
};

class LlamaContext {
 public:
  // A context of `n_ctx` positions (0: the model's llama.context_length), computed by
  // `n_threads` threads (0: one per available core).
  explicit LlamaContext(const LlamaModel& model, uint32_t n_ctx = 0, uint32_t n_threads = 0);
  LlamaContext(const LlamaModel& model, const LlamaContextOptions& options);
  ~LlamaContext();

  // Runs `tokens` at positions pos() .. pos()+n-1, appending their keys and values to the cache.
  // Returns the logits of the last token (n_vocab floats), or with `all_positions` those of
  // every token, position-major (n * n_vocab floats). Throws when the tokens do not fit the
  // context or an id is outside the vocabulary; the cache is unchanged then.
  std::vector<float> eval(std::span<const int32_t> tokens, bool all_positions = false);

  uint32_t pos() const { return pos_; }
  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t n_threads() const { return n_threads_; }
  // Forgets every cached position.
  void reset();
  // Forgets positions >= pos (keeps a shared prefix, e.g. between chat turns).
  void rewind(uint32_t pos);

 private:
  const LlamaModel& model_;
  uint32_t n_ctx_ = 0;
  uint32_t n_threads_ = 1;
  uint32_t pos_ = 0;
  std::unique_ptr<LlamaEngine> engine_;
  std::unique_ptr<KvCache> cache_;  // one sequence (id 0), stored in order in cells 0 .. pos_-1
};

}  // namespace lmforge
