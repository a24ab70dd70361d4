#include "gptq/decoder_layer_f32.h"

#include <cmath>

#include "core/thread_pool.h"
#include "gptq/blas.h"
#include "kernels/attention.h"
#include "kernels/rope.h"
#include "kernels/vec_ops.h"

namespace lmforge {

std::pair<uint64_t, uint64_t> linear_shape(const LlamaConfig& c, LinearSlot s) {
  const uint64_t hidden = c.hidden_size, q = uint64_t{c.num_attention_heads} * c.head_dim,
                 kv = uint64_t{c.num_key_value_heads} * c.head_dim, ff = c.intermediate_size;
  switch (s) {
    case kSlotQ: return {q, hidden};
    case kSlotK:
    case kSlotV: return {kv, hidden};
    case kSlotO: return {hidden, q};
    case kSlotGate:
    case kSlotUp: return {ff, hidden};
    default: return {hidden, ff};
  }
}

DecoderLayerForward::DecoderLayerForward(const LlamaConfig& c, uint32_t seqlen, ThreadPool& pool)
    : c_(c), t_(seqlen), pool_(pool) {
  q_.resize(size_t{t_} * c.num_attention_heads * c.head_dim);
  k_.resize(size_t{t_} * c.num_key_value_heads * c.head_dim);
  v_.resize(k_.size());
  up_.resize(size_t{t_} * c.intermediate_size);
}

void DecoderLayerForward::rms_rows(const float* x, const float* w, float* out) {
  const size_t n = c_.hidden_size;
  pool_.parallel_for(t_, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) rms_norm_f32(x + t * n, w, out + t * n, n, c_.rms_norm_eps);
  });
}

void DecoderLayerForward::attn_input(const float* x, const DecoderLayerF32& L, float* xn) {
  rms_rows(x, L.attn_norm.data(), xn);
}

void DecoderLayerForward::ffn_input(const float* h, const DecoderLayerF32& L, float* hn) {
  rms_rows(h, L.ffn_norm.data(), hn);
}

void DecoderLayerForward::attention(const float* xn, const DecoderLayerF32& L, float* a) {
  const size_t hidden = c_.hidden_size, hd = c_.head_dim;
  const size_t qdim = size_t{c_.num_attention_heads} * hd, kvdim = size_t{c_.num_key_value_heads} * hd;
  gemm_nt(t_, qdim, hidden, 1.0f, xn, hidden, L.w[kSlotQ].data(), hidden, 0.0f, q_.data(), qdim);
  gemm_nt(t_, kvdim, hidden, 1.0f, xn, hidden, L.w[kSlotK].data(), hidden, 0.0f, k_.data(), kvdim);
  gemm_nt(t_, kvdim, hidden, 1.0f, xn, hidden, L.w[kSlotV].data(), hidden, 0.0f, v_.data(), kvdim);
  const float factor = c_.rope_scaling_linear.value_or(1.0f);
  pool_.parallel_for(t_, 1, [&](size_t b, size_t e) {
    std::vector<float> cs(hd / 2), sn(hd / 2);
    for (size_t t = b; t < e; ++t) {
      rope_angles(static_cast<double>(t), hd, c_.rope_theta, factor, cs.data(), sn.data(),
                  c_.rope_freq_factors.empty() ? nullptr : c_.rope_freq_factors.data());
      rope_apply_f32(&q_[t * qdim], c_.num_attention_heads, hd, cs.data(), sn.data());
      rope_apply_f32(&k_[t * kvdim], c_.num_key_value_heads, hd, cs.data(), sn.data());
    }
  });
  AttentionShape shape;
  shape.n_head = c_.num_attention_heads;
  shape.n_head_kv = c_.num_key_value_heads;
  shape.head_dim = hd;
  shape.cell_stride = kvdim;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Causal: token t sees cells 0..t. Later tokens cost more, so interleave them over threads.
  const unsigned n_threads = pool_.size();
  pool_.run([&](unsigned th) {
    std::vector<float> scores(t_);
    for (size_t t = th; t < t_; t += n_threads) {
      CellSpan cells;
      cells.first = 0;
      cells.count = static_cast<uint32_t>(t + 1);
      attention_f32(&q_[t * qdim], k_.data(), v_.data(), shape, cells, scores.data(), a + t * qdim);
    }
  });
}

void DecoderLayerForward::swiglu(const float* hn, const DecoderLayerF32& L, float* s) {
  const size_t hidden = c_.hidden_size, ff = c_.intermediate_size;
  gemm_nt(t_, ff, hidden, 1.0f, hn, hidden, L.w[kSlotGate].data(), hidden, 0.0f, s, ff);
  gemm_nt(t_, ff, hidden, 1.0f, hn, hidden, L.w[kSlotUp].data(), hidden, 0.0f, up_.data(), ff);
  pool_.parallel_for(t_, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) swiglu_f32(s + t * ff, &up_[t * ff], s + t * ff, ff);
  });
}

}  // namespace lmforge
