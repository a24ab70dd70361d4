#include "engine/bert_encoder.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/encoder_ops.h"
#include "kernels/matmul.h"
#include "kernels/vec_ops.h"

namespace lmforge {

namespace {

// Rows per unit of work when a product is split across threads (as in the llama engine).
constexpr size_t kRowGrain = 16;

}  // namespace

class BertEncoder::Impl {
 public:
  Impl(const BertModel& model, uint32_t n_threads, size_t pass_tokens)
      : m_(model), c_(model.config()), pool_(n_threads), pass_tokens_(std::max<size_t>(1, pass_tokens)) {
    scores_.resize(pool_.size(), std::vector<float>(c_.max_position_embeddings));
    const float hd = static_cast<float>(c_.head_dim());
    shape_ = AttentionShape{.n_head = c_.num_attention_heads,
                            .n_head_kv = c_.num_attention_heads,
                            .head_dim = c_.head_dim(),
                            .cell_stride = c_.hidden_size,
                            .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))};
  }

  unsigned n_threads() const { return pool_.size(); }

  std::vector<float> encode(std::span<const std::vector<int32_t>> seqs) {
    size_t total = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const auto& ids = seqs[s];
      if (ids.empty()) fail(m_.path(), "input " + std::to_string(s + 1) + " has no tokens");
      if (ids.size() > c_.max_position_embeddings)
        fail(m_.path(), "input " + std::to_string(s + 1) + " has " + std::to_string(ids.size()) +
                            " tokens; the model takes at most " + std::to_string(c_.max_position_embeddings));
      for (int32_t id : ids)
        if (id < 0 || static_cast<uint32_t>(id) >= c_.vocab_size)
          fail(m_.path(), "token id " + std::to_string(id) + " is outside the vocabulary of " +
                              std::to_string(c_.vocab_size));
      total += ids.size();
    }
    const size_t h = c_.hidden_size;
    std::vector<float> out(total * h);
    size_t done = 0;
    for (size_t s = 0; s < seqs.size();) {
      // One pass: whole sequences up to pass_tokens_ tokens (at least one sequence).
      size_t e = s, n = 0;
      while (e < seqs.size() && (e == s || n + seqs[e].size() <= pass_tokens_)) n += seqs[e++].size();
      pass(seqs.subspan(s, e - s), n);
      std::copy(x_.begin(), x_.begin() + n * h, out.begin() + done * h);
      done += n;
      s = e;
    }
    return out;
  }

 private:
  void resize(size_t n) {
    const size_t h = c_.hidden_size, ff = c_.intermediate_size;
    if (x_.size() >= n * h && up_.size() >= n * ff) return;
    for (auto* v : {&x_, &tmp_, &q_, &k_, &v_, &att_}) v->resize(n * h);
    up_.resize(n * ff);
  }

  void pass(std::span<const std::vector<int32_t>> seqs, size_t n) {
    resize(n);
    const size_t h = c_.hidden_size;
    // Per token: its row's sequence span (for attention) and position.
    spans_.resize(n);
    pos_.resize(n);
    ids_.resize(n);
    size_t t = 0;
    for (const auto& ids : seqs) {
      const CellSpan span{nullptr, static_cast<uint32_t>(t), static_cast<uint32_t>(ids.size())};
      for (size_t i = 0; i < ids.size(); ++i, ++t) {
        spans_[t] = span;
        pos_[t] = static_cast<uint32_t>(i);
        ids_[t] = ids[i];
      }
    }
    // Embeddings (token type 0 everywhere: one segment per text), then their LayerNorm.
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        float* x = &x_[i * h];
        float* tmp = &tmp_[i * h];
        matrix_row_ref(m_.word_embd.m, static_cast<uint64_t>(ids_[i]), x);
        matrix_row_ref(m_.pos_embd.m, pos_[i], tmp);
        add_f32(tmp, x, h);
        matrix_row_ref(m_.type_embd.m, 0, tmp);
        add_f32(tmp, x, h);
        layer_norm_f32(x, m_.embd_norm.weight.data(), m_.embd_norm.bias.data(), x, h, c_.layer_norm_eps);
      }
    });
    for (const BertLayer& L : m_.layers) layer(L, n);
  }

  void pack(PackedActivations& p, DType type, const float* x, size_t ld, size_t n, uint64_t cols) {
    p.reset(type, n, cols);
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) { p.pack_rows(x, ld, b, e); });
  }

  // y[t * ldy + r] = (W x[t])[r] + bias[r], rows split over threads, each adding its rows' bias.
  static void linear_rows(const BertLinear& l, const PackedActivations& x, float* y, size_t ldy, size_t b, size_t e) {
    matmul_packed(l.w.m, x, y, ldy, b, e);
    for (size_t t = 0; t < x.n(); ++t) add_f32(l.bias.data() + b, y + t * ldy + b, e - b);
  }

  void product(const BertLinear& l, const PackedActivations& x, float* y, size_t ldy) {
    pool_.run([&](unsigned t) {
      const auto [b, e] = pool_.split(l.w.m.rows, kRowGrain, t);
      if (b < e) linear_rows(l, x, y, ldy, b, e);
    });
  }

  // x = LayerNorm(x + y) per token.
  void residual_norm(const float* y, const BertNorm& norm, size_t n) {
    const size_t h = c_.hidden_size;
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        float* x = &x_[i * h];
        add_f32(y + i * h, x, h);
        layer_norm_f32(x, norm.weight.data(), norm.bias.data(), x, h, c_.layer_norm_eps);
      }
    });
  }

  void layer(const BertLayer& L, size_t n) {
    const size_t h = c_.hidden_size, ff = c_.intermediate_size;
    // Q, K and V share one packed input when they share a type (always, in a checkpoint).
    pack(pa_, L.q.w.m.type, x_.data(), h, n, h);
    const PackedActivations* for_k = &pa_;
    const PackedActivations* for_v = &pa_;
    if (L.k.w.m.type != L.q.w.m.type) {
      pack(pb_, L.k.w.m.type, x_.data(), h, n, h);
      for_k = &pb_;
    }
    if (L.v.w.m.type != L.q.w.m.type) {
      pack(pc_, L.v.w.m.type, x_.data(), h, n, h);
      for_v = &pc_;
    }
    pool_.run([&](unsigned t) {
      const auto [b, e] = pool_.split(h, kRowGrain, t);
      if (b >= e) return;
      linear_rows(L.q, pa_, q_.data(), h, b, e);
      linear_rows(L.k, *for_k, k_.data(), h, b, e);
      linear_rows(L.v, *for_v, v_.data(), h, b, e);
    });
    // Attention: each query over the keys of its own text only.
    const size_t n_head = c_.num_attention_heads;
    pool_.run([&](unsigned thread) {
      float* scores = scores_[thread].data();
      for (size_t u = thread; u < n * n_head; u += pool_.size()) {
        const size_t t = u / n_head, hh = u % n_head;
        attention_head_f32(&q_[t * h], k_.data(), v_.data(), shape_, hh, spans_[t], scores, &att_[t * h]);
      }
    });
    pack(pa_, L.attn_out.w.m.type, att_.data(), h, n, h);
    product(L.attn_out, pa_, tmp_.data(), h);
    residual_norm(tmp_.data(), L.attn_norm, n);

    pack(pa_, L.up.w.m.type, x_.data(), h, n, h);
    product(L.up, pa_, up_.data(), ff);
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) gelu_erf_f32(&up_[i * ff], &up_[i * ff], ff);
    });
    pack(pa_, L.down.w.m.type, up_.data(), ff, n, ff);
    product(L.down, pa_, tmp_.data(), h);
    residual_norm(tmp_.data(), L.out_norm, n);
  }

  const BertModel& m_;
  const BertConfig& c_;
  ThreadPool pool_;
  size_t pass_tokens_;
  AttentionShape shape_;
  std::vector<float> x_, tmp_, q_, k_, v_, att_, up_;  // [tokens][hidden] ([tokens][ff] for up_)
  std::vector<CellSpan> spans_;
  std::vector<uint32_t> pos_;
  std::vector<int32_t> ids_;
  std::vector<std::vector<float>> scores_;  // per thread, one per key of the longest text
  PackedActivations pa_, pb_, pc_;
};

BertEncoder::BertEncoder(const BertModel& model, uint32_t n_threads, size_t pass_tokens)
    : model_(model),
      impl_(std::make_unique<Impl>(model, n_threads ? n_threads : std::max(1u, std::thread::hardware_concurrency()),
                                   pass_tokens)) {}

BertEncoder::~BertEncoder() = default;

std::vector<float> BertEncoder::encode(std::span<const std::vector<int32_t>> sequences) {
  return impl_->encode(sequences);
}

uint32_t BertEncoder::n_threads() const { return impl_->n_threads(); }

}  // namespace lmforge
