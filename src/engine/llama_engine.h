// The llama forward pass over a batch: LlamaEngine::eval(cache, batch) computes every token of
// a LlamaBatch (several sequences may be mixed), stores their keys and values in a KvCache and
// returns the logits the batch asked for. LlamaContext (llama_forward.h) wraps one engine and
// one cache for the common case of a single sequence.
//
// Two engines compute it (the model's graph is described in llama_forward.h):
//  - the fast engine (default): tokens in chunks of n_batch, SIMD kernels (src/kernels/),
//    a persistent thread pool (llama_forward_fast.cpp);
//  - the reference engine: one token at a time, scalar, double-precision sums
//    (llama_forward_ref.cpp), the specification the fast one is tested against.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/llama_batch.h"
#include "engine/llama_model.h"
#include "engine/lora_adapter.h"

namespace lmforge {

struct LlamaEngineOptions {
  uint32_t n_threads = 0;  // 0: one per available core (the reference engine uses one)
  uint32_t n_batch = 512;  // most tokens computed together (bounds the activation buffers)
  bool reference = false;  // the scalar reference engine instead of the fast one
  // Prompt chunks on AMX tiles where the CPU has them (kernels/amx_matmul.h); the environment
  // variable LMFORGE_NO_AMX=1 turns them off too.
  bool amx = true;
  // LoRA adapters added to the products they target, each with its --lora-scale: every
  // adapted weight computes W x + sum over adapters of scale · B (A x). Checked against the
  // model by create() (an adapter for another base is refused).
  std::vector<AppliedLora> loras;
};

// Sees the float input of every weight product of the fast engine (before it is packed for
// the kernels): `n` rows of `cols` floats, `ld` floats apart, multiplied by the weight named
// `weight` (its GGUF name). Products sharing an input (Q/K/V, gate/up) are reported once per
// weight. Called from the evaluating thread, between the products (not concurrently); an
// importance matrix (`lmforge imatrix`) is the user.
class ActivationObserver {
 public:
  virtual ~ActivationObserver() = default;
  virtual void observe(const std::string& weight, const float* x, size_t ld, size_t n, size_t cols) = 0;
};

class LlamaEngine {
 public:
  static std::unique_ptr<LlamaEngine> create(const LlamaModel& model, const LlamaEngineOptions& options = {});
  virtual ~LlamaEngine() = default;

  // Evaluates every entry of `batch`, storing its keys and values in a free cell of `cache`
  // (a cache made for this model); an entry attends to the cells of its own sequence at
  // positions <= its own. Returns one row of n_vocab logits per entry whose `logits` flag is
  // set, in batch order. Throws lmforge::Error, with the cache unchanged, on an empty batch,
  // a token id outside the vocabulary, or a batch the cache refuses (KvCache::place).
  std::vector<float> eval(KvCache& cache, const LlamaBatch& batch);

  // As eval, but returns for each entry whose `logits` flag is set its final hidden state:
  // after the output norm, before the output head (what llama.cpp returns as a token's
  // embedding), hidden_size floats per row, in batch order. Embeddings are pooled from these.
  std::vector<float> eval_hidden(KvCache& cache, const LlamaBatch& batch);

  const LlamaModel& model() const { return model_; }

  // Reports the inputs of every later product to `observer` (null: none, the default, at the
  // cost of one pointer test per product). The fast engine only; the reference engine ignores it.
  void set_observer(ActivationObserver* observer) { observer_ = observer; }

 protected:
  explicit LlamaEngine(const LlamaModel& model) : model_(model) {}

  // The attention kernels' view of this model's heads over `cache`-layout cells: head counts,
  // head size, the floats between cells, and the 1/sqrt(head_dim) score scale.
  static AttentionShape attention_shape(const LlamaConfig& c);

  // Computes a batch that `cache` has placed: keys and values into placement.cell, the rows
  // of the entries that want logits into `logits` (n_vocab floats each, in batch order).
  // With hidden_out_ set (eval_hidden), the rows are the normed hidden states (hidden_size
  // floats each) instead of logits.
  virtual void compute(KvCache& cache, const LlamaBatch& batch, const KvPlacement& placement, float* logits) = 0;
  // Floats per returned row: n_vocab, or hidden_size while hidden_out_.
  size_t out_width() const { return hidden_out_ ? model_.config().hidden_size : model_.n_vocab(); }

  // One adapter's pair for one weight, with its final scale (lora_scale · alpha / r).
  struct LoraTerm {
    const LoraPair* pair;
    float scale;
  };
  // The terms adapting blk.l's `target`, in the order of the options' adapters (empty: none).
  const std::vector<LoraTerm>& lora_terms(uint32_t l, LoraTarget target) const {
    return lora_terms_[l][static_cast<size_t>(target)];
  }
  bool has_lora() const { return !lora_keep_.empty(); }

  const LlamaModel& model_;
  ActivationObserver* observer_ = nullptr;
  bool hidden_out_ = false;

 private:
  std::vector<float> eval_rows(KvCache& cache, const LlamaBatch& batch);
  // Checks the adapters against the model and fills lora_terms_ (create() calls it once).
  void set_loras(const std::vector<AppliedLora>& loras);

  std::vector<std::array<std::vector<LoraTerm>, kLoraTargetCount>> lora_terms_;
  std::vector<std::shared_ptr<const LoraAdapter>> lora_keep_;  // owns what lora_terms_ points to
};

// The two implementations behind LlamaEngine::create. n_threads >= 1, n_batch >= 1.
std::unique_ptr<LlamaEngine> make_reference_engine(const LlamaModel& model);
std::unique_ptr<LlamaEngine> make_fast_engine(const LlamaModel& model, uint32_t n_threads, uint32_t n_batch,
                                              bool amx = true);

}  // namespace lmforge
