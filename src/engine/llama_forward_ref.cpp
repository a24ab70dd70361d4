// The reference engine: one token at a time through every layer with the scalar kernels of
// src/kernels/matmul_ref.h and ops_ref.h (double-precision sums, float activations, weights
// decoded exactly). Slow on purpose: it is the specification the fast engine is measured
// against, and `lmforge logits --reference` compares it with a float64 PyTorch forward pass.
#include <cmath>
#include <vector>

#include "kernels/matmul_ref.h"
#include "kernels/ops_ref.h"
#include "engine/llama_engine.h"

namespace lmforge {

namespace {

class ReferenceEngine final : public LlamaEngine {
 public:
  ReferenceEngine(const LlamaModel& model, uint32_t n_ctx) : model_(model), n_ctx_(n_ctx) {
    const LlamaConfig& c = model.config();
    kv_dim_ = size_t{c.num_key_value_heads} * c.head_dim;
    k_cache_ = allocate_kv_cache(model, n_ctx);
    v_cache_ = allocate_kv_cache(model, n_ctx);
    x_.resize(c.hidden_size);
    xn_.resize(c.hidden_size);
    proj_.resize(c.hidden_size);
    q_.resize(size_t{c.num_attention_heads} * c.head_dim);
    att_.resize(q_.size());
    gate_.resize(c.intermediate_size);
    up_.resize(c.intermediate_size);
    scores_.resize(n_ctx);
  }

  void eval(const int32_t* tokens, size_t n, uint32_t pos, bool all_positions, float* logits) override {
    const size_t n_vocab = model_.n_vocab();
    for (size_t i = 0; i < n; ++i) {
      const bool want = all_positions || i + 1 == n;
      forward_one(tokens[i], pos + static_cast<uint32_t>(i), want ? logits + (all_positions ? i : 0) * n_vocab : nullptr);
    }
  }

 private:
  void forward_one(int32_t token, uint32_t pos, float* logits);
  void attention(uint32_t layer, uint32_t pos, float* out);

  const LlamaModel& model_;
  uint32_t n_ctx_;
  size_t kv_dim_ = 0;
  std::unique_ptr<float[]> k_cache_, v_cache_;  // [n_layer][n_ctx][kv_dim]
  std::vector<float> x_, xn_, q_, att_, proj_, gate_, up_, scores_;
};

void ReferenceEngine::forward_one(int32_t token, uint32_t pos, float* logits) {
  const LlamaConfig& c = model_.config();
  const size_t embd = c.hidden_size, hd = c.head_dim;
  const float rope_factor = c.rope_scaling_linear.value_or(1.0f);
  matrix_row_ref(model_.tok_embd.m, static_cast<uint64_t>(token), x_.data());

  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    const LlamaLayer& L = model_.layers[l];
    float* k = &k_cache_[(size_t{l} * n_ctx_ + pos) * kv_dim_];
    float* v = &v_cache_[(size_t{l} * n_ctx_ + pos) * kv_dim_];

    rms_norm_ref(x_.data(), L.attn_norm.data(), xn_.data(), embd, c.rms_norm_eps);
    matmul_ref(L.wq.m, xn_.data(), q_.data());
    matmul_ref(L.wk.m, xn_.data(), k);
    matmul_ref(L.wv.m, xn_.data(), v);
    rope_norm_ref(q_.data(), c.num_attention_heads, hd, pos, c.rope_theta, rope_factor);
    rope_norm_ref(k, c.num_key_value_heads, hd, pos, c.rope_theta, rope_factor);
    attention(l, pos, att_.data());
    matmul_ref(L.wo.m, att_.data(), proj_.data());
    for (size_t i = 0; i < embd; ++i) x_[i] += proj_[i];

    rms_norm_ref(x_.data(), L.ffn_norm.data(), xn_.data(), embd, c.rms_norm_eps);
    matmul_ref(L.w_gate.m, xn_.data(), gate_.data());
    matmul_ref(L.w_up.m, xn_.data(), up_.data());
    swiglu_ref(gate_.data(), up_.data(), gate_.data(), gate_.size());
    matmul_ref(L.w_down.m, gate_.data(), proj_.data());
    for (size_t i = 0; i < embd; ++i) x_[i] += proj_[i];
  }
  if (!logits) return;  // only the hidden state matters for this position's cache entries
  rms_norm_ref(x_.data(), model_.output_norm.data(), xn_.data(), embd, c.rms_norm_eps);
  matmul_ref(model_.output.m, xn_.data(), logits);
}

// Causal attention of the current query (q_) over cache positions 0 .. pos (inclusive: the
// current token's keys are already stored), into out[n_head * head_dim].
void ReferenceEngine::attention(uint32_t layer, uint32_t pos, float* out) {
  const LlamaConfig& c = model_.config();
  const size_t hd = c.head_dim, n_pos = size_t{pos} + 1;
  const uint32_t group = c.num_attention_heads / c.num_key_value_heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const float* kl = &k_cache_[size_t{layer} * n_ctx_ * kv_dim_];
  const float* vl = &v_cache_[size_t{layer} * n_ctx_ * kv_dim_];
  for (uint32_t h = 0; h < c.num_attention_heads; ++h) {
    const size_t kv_off = size_t{h / group} * hd;
    const float* q = &q_[size_t{h} * hd];
    for (size_t t = 0; t < n_pos; ++t) scores_[t] = dot_ref(q, kl + t * kv_dim_ + kv_off, hd) * scale;
    softmax_ref(scores_.data(), n_pos);
    for (size_t i = 0; i < hd; ++i) {
      double s = 0;
      for (size_t t = 0; t < n_pos; ++t) s += static_cast<double>(scores_[t]) * vl[t * kv_dim_ + kv_off + i];
      out[size_t{h} * hd + i] = static_cast<float>(s);
    }
  }
}

}  // namespace

std::unique_ptr<LlamaEngine> make_reference_engine(const LlamaModel& model, uint32_t n_ctx) {
  return std::make_unique<ReferenceEngine>(model, n_ctx);
}

}  // namespace lmforge
