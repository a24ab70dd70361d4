// The reference engine: one token at a time through every layer with the scalar kernels of
// src/kernels/ (matmul_ref.h, ops_ref.h, rope.h, attention.h: double-precision sums, float
// activations, weights decoded exactly). Slow on purpose: it is the specification the fast
// engine is measured against, and `lmforge logits --reference` compares it with a float64
// PyTorch forward pass.
//
// Token by token is enough for any batch: positions increase along the batch within each
// sequence (KvCache::place refuses anything else), so the cells a token attends to are all
// written before it.
#include <cmath>
#include <vector>

#include "engine/llama_engine.h"
#include "kernels/attention.h"
#include "kernels/gptq_form.h"
#include "kernels/matmul_ref.h"
#include "kernels/ops_ref.h"
#include "kernels/rope.h"

namespace lmforge {

namespace {

// y = W x. Every weight product of the forward pass goes through here, so this is the one
// place where a LoRA adapter adds scale · B (A x), in double sums like the product itself.
void linear(const LlamaWeight& w, const float* x, float* y) {
  if (w.gptq) {
    matmul_gptq_ref(*w.gptq, x, y);  // dequantized rows, as exact as matmul_ref
  } else {
    matmul_ref(w.m, x, y);
  }
}

template <typename Terms>
void linear(const LlamaWeight& w, const float* x, float* y, const Terms& loras, std::vector<double>& ax) {
  linear(w, x, y);
  for (const auto& term : loras) {
    const LoraPair& p = *term.pair;
    ax.assign(p.rank, 0.0);
    for (uint32_t k = 0; k < p.rank; ++k) {
      const float* a = &p.a[size_t{k} * p.in];
      for (uint32_t c = 0; c < p.in; ++c) ax[k] += double{a[c]} * x[c];
    }
    for (uint32_t r = 0; r < p.out; ++r) {
      const float* b = &p.b[size_t{r} * p.rank];
      double s = 0;
      for (uint32_t k = 0; k < p.rank; ++k) s += double{b[k]} * ax[k];
      y[r] = static_cast<float>(y[r] + double{term.scale} * s);
    }
  }
}

class ReferenceEngine final : public LlamaEngine {
 public:
  explicit ReferenceEngine(const LlamaModel& model) : LlamaEngine(model) {
    const LlamaConfig& c = model.config();
    kv_dim_ = size_t{c.num_key_value_heads} * c.head_dim;
    shape_ = attention_shape(c);
    x_.resize(c.hidden_size);
    xn_.resize(c.hidden_size);
    proj_.resize(c.hidden_size);
    q_.resize(size_t{c.num_attention_heads} * c.head_dim);
    att_.resize(q_.size());
    gate_.resize(c.intermediate_size);
    up_.resize(c.intermediate_size);
  }

 protected:
  void compute(KvCache& cache, const LlamaBatch& batch, const KvPlacement& placement, float* logits) override {
    if (scores_.size() < cache.n_cells()) scores_.resize(cache.n_cells());
    const size_t width = out_width();
    for (size_t i = 0; i < batch.size(); ++i) {
      forward_one(cache, batch.token[i], batch.pos[i], placement.cell[i], placement.visible[i],
                  batch.logits[i] ? logits : nullptr);
      if (batch.logits[i]) logits += width;
    }
  }

 private:
  // Token `token` at position `pos`: keys and values into `cell`, attending to `visible`.
  void forward_one(KvCache& cache, int32_t token, int32_t pos, uint32_t cell, CellSpan visible, float* logits);

  size_t kv_dim_ = 0;
  AttentionShape shape_;
  std::vector<float> x_, xn_, q_, att_, proj_, gate_, up_, scores_;
  std::vector<double> lora_ax_;  // A x of one LoRA term
};

void ReferenceEngine::forward_one(KvCache& cache, int32_t token, int32_t pos, uint32_t cell, CellSpan visible,
                                  float* logits) {
  const LlamaConfig& c = model_.config();
  const size_t embd = c.hidden_size, hd = c.head_dim;
  const float rope_factor = c.rope_scaling_linear.value_or(1.0f);
  const float* freq_factors = c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data();
  matrix_row_ref(model_.tok_embd.m, static_cast<uint64_t>(token), x_.data());

  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    const LlamaLayer& L = model_.layers[l];
    float* k = cache.keys(l) + size_t{cell} * kv_dim_;
    float* v = cache.values(l) + size_t{cell} * kv_dim_;

    rms_norm_ref(x_.data(), L.attn_norm.data(), xn_.data(), embd, c.rms_norm_eps);
    linear(L.wq, xn_.data(), q_.data(), lora_terms(l, LoraTarget::kQ), lora_ax_);
    linear(L.wk, xn_.data(), k, lora_terms(l, LoraTarget::kK), lora_ax_);
    linear(L.wv, xn_.data(), v, lora_terms(l, LoraTarget::kV), lora_ax_);
    if (L.has_qkv_bias) {
      for (size_t i = 0; i < L.bq.size(); ++i) q_[i] += L.bq[i];
      for (size_t i = 0; i < kv_dim_; ++i) k[i] += L.bk[i];
      for (size_t i = 0; i < kv_dim_; ++i) v[i] += L.bv[i];
    }
    const auto rope = rope_neox(c) ? rope_neox_ref : rope_norm_ref;
    rope(q_.data(), c.num_attention_heads, hd, pos, c.rope_theta, rope_factor, freq_factors);
    rope(k, c.num_key_value_heads, hd, pos, c.rope_theta, rope_factor, freq_factors);
    attention_ref(q_.data(), cache.keys(l), cache.values(l), shape_, visible, scores_.data(), att_.data());
    linear(L.wo, att_.data(), proj_.data(), lora_terms(l, LoraTarget::kO), lora_ax_);
    for (size_t i = 0; i < embd; ++i) x_[i] += proj_[i];

    rms_norm_ref(x_.data(), L.ffn_norm.data(), xn_.data(), embd, c.rms_norm_eps);
    linear(L.w_gate, xn_.data(), gate_.data(), lora_terms(l, LoraTarget::kGate), lora_ax_);
    linear(L.w_up, xn_.data(), up_.data(), lora_terms(l, LoraTarget::kUp), lora_ax_);
    swiglu_ref(gate_.data(), up_.data(), gate_.data(), gate_.size());
    linear(L.w_down, gate_.data(), proj_.data(), lora_terms(l, LoraTarget::kDown), lora_ax_);
    for (size_t i = 0; i < embd; ++i) x_[i] += proj_[i];
  }
  if (!logits) return;  // only the hidden state matters for this position's cache entries
  if (hidden_out_) {  // eval_hidden: the normed state is the result
    rms_norm_ref(x_.data(), model_.output_norm.data(), logits, embd, c.rms_norm_eps);
    return;
  }
  rms_norm_ref(x_.data(), model_.output_norm.data(), xn_.data(), embd, c.rms_norm_eps);
  linear(model_.output, xn_.data(), logits);
}

}  // namespace

std::unique_ptr<LlamaEngine> make_reference_engine(const LlamaModel& model) {
  return std::make_unique<ReferenceEngine>(model);
}

}  // namespace lmforge
