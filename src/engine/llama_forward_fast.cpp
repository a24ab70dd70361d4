// The fast engine: tokens in batches of up to n_batch, every step split over a persistent
// thread pool, products through the SIMD kernels of src/kernels/matmul.h.
//
// A batch moves through each layer together, so each weight matrix is read from memory once
// per batch instead of once per token (prompt processing becomes compute-bound instead of
// bandwidth-bound). Matrix products are split across threads by weight rows: every thread
// streams a disjoint part of the matrix, which is what generation (one token, bandwidth-bound)
// needs, and with a batch each thread reuses its rows for every token. The small steps
// (RMSNorm, RoPE, SwiGLU, packing) are split by tokens; attention by (token, head) pairs.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/interleaved.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"
#include "kernels/vec_ops.h"
#include "engine/llama_engine.h"

namespace lmforge {

namespace {

// Rows per unit of work when splitting a product across threads: a multiple of the kernels'
// row tiles, small enough that 2-16 threads get balanced shares of a 2048-row matrix.
constexpr size_t kRowGrain = 16;

// Rows [r0, r1) of y = W x, through the weight's interleaved form when the model made one.
void weight_product(const LlamaWeight& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (w.interleaved) {
    matmul_interleaved(*w.interleaved, x, y, ldy, r0, r1);
  } else {
    matmul_packed(w.m, x, y, ldy, r0, r1);
  }
}

class FastEngine final : public LlamaEngine {
 public:
  FastEngine(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads, uint32_t n_batch);
  void eval(const int32_t* tokens, size_t n, uint32_t pos, bool all_positions, float* logits) override;

 private:
  void eval_batch(const int32_t* tokens, size_t n, uint32_t pos, bool all_positions, float* logits);
  void layer(uint32_t l, size_t n, uint32_t pos);
  void attention(uint32_t l, size_t n, uint32_t pos);
  // Packs n rows of x (ld floats apart) for weights of `type` into `p`, split over threads.
  void pack(PackedActivations& p, DType type, const float* x, size_t ld, size_t n, uint64_t cols);
  // y[t * ldy + r] = W x[t] for all rows of `w`, split over threads by rows.
  void product(const LlamaWeight& w, const PackedActivations& x, float* y, size_t ldy);

  const LlamaModel& model_;
  const LlamaConfig& c_;
  uint32_t n_ctx_, n_batch_;
  ThreadPool pool_;
  size_t kv_dim_, q_dim_;
  std::unique_ptr<float[]> k_cache_, v_cache_;  // [n_layer][n_ctx][kv_dim]
  // Activations of the batch, token-major: [n_batch][dim].
  std::vector<float> x_, xn_, q_, att_, proj_, gate_, up_;
  std::vector<std::vector<float>> scores_;  // per thread, n_ctx
  std::vector<float> rope_cos_, rope_sin_;  // [n_batch][head_dim / 2]
  PackedActivations packed_a_, packed_b_, packed_c_;
};

FastEngine::FastEngine(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads, uint32_t n_batch)
    : model_(model), c_(model.config()), n_ctx_(n_ctx), n_batch_(std::min(n_batch, n_ctx)), pool_(n_threads) {
  kv_dim_ = size_t{c_.num_key_value_heads} * c_.head_dim;
  q_dim_ = size_t{c_.num_attention_heads} * c_.head_dim;
  for (const LlamaWeight* w : {&model.tok_embd, &model.output})
    if (!matmul_supports(w->m.type)) fail(model.path(), "tensor " + w->name + " has a type the engine cannot run");
  k_cache_ = allocate_kv_cache(model, n_ctx);
  v_cache_ = allocate_kv_cache(model, n_ctx);
  const size_t b = n_batch_;
  x_.resize(b * c_.hidden_size);
  xn_.resize(b * c_.hidden_size);
  proj_.resize(b * c_.hidden_size);
  q_.resize(b * q_dim_);
  att_.resize(b * q_dim_);
  gate_.resize(b * c_.intermediate_size);
  up_.resize(b * c_.intermediate_size);
  scores_.assign(pool_.size(), std::vector<float>(n_ctx));
  rope_cos_.resize(b * (c_.head_dim / 2));
  rope_sin_.resize(b * (c_.head_dim / 2));
}

void FastEngine::eval(const int32_t* tokens, size_t n, uint32_t pos, bool all_positions, float* logits) {
  const size_t n_vocab = model_.n_vocab();
  for (size_t done = 0; done < n;) {
    const size_t m = std::min<size_t>(n_batch_, n - done);
    const bool last = done + m == n;
    // Logits are needed for every position (all_positions) or only the very last one.
    float* out = all_positions ? logits + done * n_vocab : (last ? logits : nullptr);
    eval_batch(tokens + done, m, pos + static_cast<uint32_t>(done), all_positions, out);
    done += m;
  }
}

void FastEngine::pack(PackedActivations& p, DType type, const float* x, size_t ld, size_t n, uint64_t cols) {
  p.reset(type, n, cols);
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) { p.pack_rows(x, ld, b, e); });
}

void FastEngine::product(const LlamaWeight& w, const PackedActivations& x, float* y, size_t ldy) {
  pool_.run([&](unsigned t) {
    const auto [b, e] = pool_.split(w.m.rows, kRowGrain, t);
    if (b < e) weight_product(w, x, y, ldy, b, e);
  });
}

void FastEngine::eval_batch(const int32_t* tokens, size_t n, uint32_t pos, bool all_positions, float* logits) {
  const size_t embd = c_.hidden_size;
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) matrix_row_ref(model_.tok_embd.m, static_cast<uint64_t>(tokens[t]), &x_[t * embd]);
  });
  // RoPE angles depend only on the position: one cos/sin table per token for every head of Q
  // and K. The angle is computed in double, as in the reference (float loses the low bits of
  // large angles).
  const size_t half = c_.head_dim / 2;
  const double p_scale = 1.0 / c_.rope_scaling_linear.value_or(1.0f);
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t)
      for (size_t i = 0; i < half; ++i) {
        const double theta = static_cast<double>(pos + t) * p_scale *
                             std::pow(static_cast<double>(c_.rope_theta), -2.0 * static_cast<double>(i) / static_cast<double>(c_.head_dim));
        rope_cos_[t * half + i] = static_cast<float>(std::cos(theta));
        rope_sin_[t * half + i] = static_cast<float>(std::sin(theta));
      }
  });

  for (uint32_t l = 0; l < c_.num_hidden_layers; ++l) layer(l, n, pos);
  if (!logits) return;

  // Final norm and output head, for every position or only the last one.
  const size_t first = all_positions ? 0 : n - 1, m = n - first;
  pool_.parallel_for(m, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t)
      rms_norm_f32(&x_[(first + t) * embd], model_.output_norm.data(), &xn_[t * embd], embd, c_.rms_norm_eps);
  });
  pack(packed_a_, model_.output.m.type, xn_.data(), embd, m, embd);
  product(model_.output, packed_a_, logits, model_.n_vocab());
}

void FastEngine::layer(uint32_t l, size_t n, uint32_t pos) {
  const LlamaLayer& L = model_.layers[l];
  const size_t embd = c_.hidden_size, ff = c_.intermediate_size;
  float* k_base = &k_cache_[(size_t{l} * n_ctx_ + pos) * kv_dim_];
  float* v_base = &v_cache_[(size_t{l} * n_ctx_ + pos) * kv_dim_];

  // Attention block: norm, Q/K/V products (K and V straight into the cache), RoPE, attention.
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) rms_norm_f32(&x_[t * embd], L.attn_norm.data(), &xn_[t * embd], embd, c_.rms_norm_eps);
  });
  // Q, K and V usually share a type and so one packed input; a file that mixes types gets one
  // packing per type.
  pack(packed_a_, L.wq.m.type, xn_.data(), embd, n, embd);
  const PackedActivations* for_k = &packed_a_;
  if (L.wk.m.type != L.wq.m.type) {
    pack(packed_b_, L.wk.m.type, xn_.data(), embd, n, embd);
    for_k = &packed_b_;
  }
  const PackedActivations* for_v = L.wv.m.type == L.wq.m.type ? &packed_a_ : nullptr;
  if (!for_v && L.wv.m.type == L.wk.m.type) for_v = for_k;
  if (!for_v) {
    pack(packed_c_, L.wv.m.type, xn_.data(), embd, n, embd);
    for_v = &packed_c_;
  }
  pool_.run([&](unsigned t) {
    auto [qb, qe] = pool_.split(L.wq.m.rows, kRowGrain, t);
    if (qb < qe) weight_product(L.wq, packed_a_, q_.data(), q_dim_, qb, qe);
    auto [kb, ke] = pool_.split(L.wk.m.rows, kRowGrain, t);
    if (kb < ke) weight_product(L.wk, *for_k, k_base, kv_dim_, kb, ke);
    auto [vb, ve] = pool_.split(L.wv.m.rows, kRowGrain, t);
    if (vb < ve) weight_product(L.wv, *for_v, v_base, kv_dim_, vb, ve);
  });
  attention(l, n, pos);
  pack(packed_a_, L.wo.m.type, att_.data(), q_dim_, n, q_dim_);
  product(L.wo, packed_a_, proj_.data(), embd);

  // Feed-forward block: residual, norm, gate and up products, SwiGLU, down product, residual.
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      add_f32(&proj_[t * embd], &x_[t * embd], embd);
      rms_norm_f32(&x_[t * embd], L.ffn_norm.data(), &xn_[t * embd], embd, c_.rms_norm_eps);
    }
  });
  pack(packed_a_, L.w_gate.m.type, xn_.data(), embd, n, embd);
  const PackedActivations* for_up = &packed_a_;
  if (L.w_up.m.type != L.w_gate.m.type) {
    pack(packed_b_, L.w_up.m.type, xn_.data(), embd, n, embd);
    for_up = &packed_b_;
  }
  pool_.run([&](unsigned t) {
    auto [gb, ge] = pool_.split(ff, kRowGrain, t);
    if (gb < ge) weight_product(L.w_gate, packed_a_, gate_.data(), ff, gb, ge);
    if (gb < ge) weight_product(L.w_up, *for_up, up_.data(), ff, gb, ge);
  });
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) swiglu_f32(&gate_[t * ff], &up_[t * ff], &gate_[t * ff], ff);
  });
  pack(packed_a_, L.w_down.m.type, gate_.data(), ff, n, ff);
  product(L.w_down, packed_a_, proj_.data(), embd);
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) add_f32(&proj_[t * embd], &x_[t * embd], embd);
  });
}

// RoPE on the batch's queries and new keys, then causal attention of every query of the batch
// over the cache (positions 0 .. its own), into att_.
void FastEngine::attention(uint32_t l, size_t n, uint32_t pos) {
  const size_t hd = c_.head_dim, half = hd / 2;
  const uint32_t n_head = c_.num_attention_heads, n_kv = c_.num_key_value_heads, group = n_head / n_kv;
  float* kl = &k_cache_[size_t{l} * n_ctx_ * kv_dim_];
  const float* vl = &v_cache_[size_t{l} * n_ctx_ * kv_dim_];

  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const float* cs = &rope_cos_[t * half];
      const float* sn = &rope_sin_[t * half];
      auto rotate = [&](float* head) {
        for (size_t i = 0; i < half; ++i) {
          const float x0 = head[2 * i], x1 = head[2 * i + 1];
          head[2 * i] = x0 * cs[i] - x1 * sn[i];
          head[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
        }
      };
      for (uint32_t h = 0; h < n_head; ++h) rotate(&q_[t * q_dim_ + h * hd]);
      for (uint32_t h = 0; h < n_kv; ++h) rotate(&kl[(pos + t) * kv_dim_ + h * hd]);
    }
  });

  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  pool_.run([&](unsigned thread) {
    float* scores = scores_[thread].data();
    // Units dealt round-robin, not in contiguous ranges: a query's cost grows with its
    // position, so contiguous ranges would give the last thread most of a prompt's attention
    // (3x the first's at 2 threads) while the others wait.
    for (size_t u = thread; u < n * n_head; u += pool_.size()) {
      const size_t t = u / n_head, h = u % n_head;
      const size_t n_pos = pos + t + 1;
      const size_t kv_off = (h / group) * hd;
      const float* q = &q_[t * q_dim_ + h * hd];
      for (size_t j = 0; j < n_pos; ++j) scores[j] = dot_f32(q, kl + j * kv_dim_ + kv_off, hd) * scale;
      softmax_f32(scores, n_pos);
      float* out = &att_[t * q_dim_ + h * hd];
      std::fill(out, out + hd, 0.0f);
      for (size_t j = 0; j < n_pos; ++j) axpy_f32(scores[j], vl + j * kv_dim_ + kv_off, out, hd);
    }
  });
}

}  // namespace

std::unique_ptr<LlamaEngine> make_fast_engine(const LlamaModel& model, uint32_t n_ctx, uint32_t n_threads,
                                              uint32_t n_batch) {
  return std::make_unique<FastEngine>(model, n_ctx, n_threads, n_batch);
}

}  // namespace lmforge
