#include "model/llama_forward.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <cstdint>
#include <string>

#include "core/checked_math.h"
#include "core/error.h"
#include "kernels/matmul_ref.h"
#include "kernels/ops_ref.h"

namespace lmforge {

LlamaContext::LlamaContext(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads) : model_(model) {
  n_threads_ = n_threads ? n_threads : std::max(1u, std::thread::hardware_concurrency());
  const LlamaConfig& c = model.config();
  n_ctx_ = n_ctx ? n_ctx : c.max_position_embeddings;
  if (n_ctx_ == 0) fail(model.path(), "the context length is 0");
  kv_dim_ = size_t{c.num_key_value_heads} * c.head_dim;
  const size_t q_dim = size_t{c.num_attention_heads} * c.head_dim;
  // Checked: a hostile context length times the layer count must not wrap the allocation.
  const auto per_layer = checked_mul(uint64_t{n_ctx_}, uint64_t{kv_dim_});
  const auto cache = per_layer ? checked_mul(*per_layer, uint64_t{c.num_hidden_layers}) : std::nullopt;
  if (!cache || *cache > SIZE_MAX / sizeof(float) / 2) fail(model.path(), "the KV cache for " + std::to_string(n_ctx_) + " positions is too large");
  // Left uninitialized: a position is written before it is read, and untouched pages of a
  // long context then cost no memory.
  k_cache_.reset(new float[*cache]);
  v_cache_.reset(new float[*cache]);
  x_.resize(c.hidden_size);
  xn_.resize(c.hidden_size);
  proj_.resize(c.hidden_size);
  q_.resize(q_dim);
  att_.resize(q_dim);
  gate_.resize(c.intermediate_size);
  up_.resize(c.intermediate_size);
  scores_.resize(n_ctx_);
}

std::vector<float> LlamaContext::eval(std::span<const int32_t> tokens, bool all_positions) {
  const uint32_t n_vocab = model_.n_vocab();
  if (tokens.empty()) fail(model_.path(), "no tokens to evaluate");
  if (tokens.size() > n_ctx_ - pos_)
    fail(model_.path(), std::to_string(tokens.size()) + " tokens do not fit the context: " + std::to_string(pos_) + " of " + std::to_string(n_ctx_) + " positions are used");
  for (int32_t t : tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= n_vocab)
      fail(model_.path(), "token id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(n_vocab));

  std::vector<float> logits((all_positions ? tokens.size() : 1) * size_t{n_vocab});
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool want = all_positions || i + 1 == tokens.size();
    forward_one(tokens[i], want ? logits.data() + (all_positions ? i : 0) * n_vocab : nullptr);
  }
  return logits;
}

void LlamaContext::forward_one(int32_t token, float* logits) {
  const LlamaConfig& c = model_.config();
  const size_t embd = c.hidden_size, hd = c.head_dim;
  const float rope_factor = c.rope_scaling_linear.value_or(1.0f);
  matrix_row_ref(model_.tok_embd.m, static_cast<uint64_t>(token), x_.data());

  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    const LlamaLayer& L = model_.layers[l];
    float* k = &k_cache_[(size_t{l} * n_ctx_ + pos_) * kv_dim_];
    float* v = &v_cache_[(size_t{l} * n_ctx_ + pos_) * kv_dim_];

    rms_norm_ref(x_.data(), L.attn_norm.data(), xn_.data(), embd, c.rms_norm_eps);
    matmul_ref(L.wq.m, xn_.data(), q_.data());
    matmul_ref(L.wk.m, xn_.data(), k);
    matmul_ref(L.wv.m, xn_.data(), v);
    rope_norm_ref(q_.data(), c.num_attention_heads, hd, pos_, c.rope_theta, rope_factor);
    rope_norm_ref(k, c.num_key_value_heads, hd, pos_, c.rope_theta, rope_factor);
    attention(l, att_.data());
    matmul_ref(L.wo.m, att_.data(), proj_.data());
    for (size_t i = 0; i < embd; ++i) x_[i] += proj_[i];

    rms_norm_ref(x_.data(), L.ffn_norm.data(), xn_.data(), embd, c.rms_norm_eps);
    matmul_ref(L.w_gate.m, xn_.data(), gate_.data());
    matmul_ref(L.w_up.m, xn_.data(), up_.data());
    swiglu_ref(gate_.data(), up_.data(), gate_.data(), gate_.size());
    matmul_ref(L.w_down.m, gate_.data(), proj_.data());
    for (size_t i = 0; i < embd; ++i) x_[i] += proj_[i];
  }
  ++pos_;
  if (!logits) return;  // only the hidden state matters for this position's cache entries
  rms_norm_ref(x_.data(), model_.output_norm.data(), xn_.data(), embd, c.rms_norm_eps);
  matmul_ref(model_.output.m, xn_.data(), logits);
}

// Causal attention of the current query (q_) over cache positions 0 .. pos_ (inclusive, the
// current token's keys are already stored), into out[n_head * head_dim].
void LlamaContext::attention(uint32_t layer, float* out) {
  const LlamaConfig& c = model_.config();
  const size_t hd = c.head_dim, n_pos = size_t{pos_} + 1;
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

}  // namespace lmforge
