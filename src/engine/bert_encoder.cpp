#include "engine/bert_encoder.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/amx_f16.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"
#include "kernels/attention.h"
#include "kernels/encoder_ops.h"
#include "kernels/matmul.h"
#include "kernels/sequence_attention.h"
#include "kernels/vec_ops.h"

namespace lmforge {

namespace {

// Rows per unit of work when a product is split across threads (as in the llama engine).
constexpr size_t kRowGrain = 16;

// Fewest tokens in a pass for the AMX product: amx_min_tokens() of an F16 matrix (below it the
// panel decoding does not pay off). One threshold for F16 and F32, so that a folder and its
// f32 GGUF always take the same product, which gives them the same bits (amx_f16.h).
constexpr size_t kAmxMinTokens = 32;

// The input of one or more products: float rows (or 8-bit blocks) for the kernels of matmul.h,
// or, when amx is true, the same floats as bf16 triples for the exact F16 tile product
// (kernels/amx_f16.h), which is what the LLaMA engine's prompt path multiplies F16 weights with.
struct ProductInput {
  PackedActivations packed;
  AmxF16Activations f16;
  bool amx = false;
};

// y[t * ldy + r] = (W x[t])[r] + bias[r] for rows [b, e), each thread adding its rows' bias.
void linear_rows(const BertLinear& l, const ProductInput& x, float* y, size_t ldy, size_t b, size_t e) {
  if (x.amx) {
    matmul_amx_f16(l.w.m, x.f16, y, ldy, b, e);
  } else {
    matmul_packed(l.w.m, x.packed, y, ldy, b, e);
  }
  const size_t n = x.amx ? x.f16.n() : x.packed.n();
  for (size_t t = 0; t < n; ++t) add_f32(l.bias.data() + b, y + t * ldy + b, e - b);
}

}  // namespace

class BertEncoder::Impl {
 public:
  Impl(const BertModel& model, uint32_t n_threads, size_t pass_tokens)
      : m_(model), c_(model.config()), pool_(n_threads), pass_tokens_(std::max<size_t>(1, pass_tokens)) {
    attention_scratch_.resize(pool_.size());
    amx_ = amx_enabled();
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
    spans_.clear();
    pos_.resize(n);
    ids_.resize(n);
    size_t t = 0;
    for (const auto& ids : seqs) {
      spans_.push_back(CellSpan{nullptr, static_cast<uint32_t>(t), static_cast<uint32_t>(ids.size())});
      for (size_t i = 0; i < ids.size(); ++i, ++t) {
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

  // Whether the product by `w` of n tokens runs on AMX tiles: F16 and F32 weights, to float
  // precision, from kAmxMinTokens tokens.
  bool use_amx(const BertLinear& l, size_t n) const {
    return amx_ && amx_f16_or_f32_supports(l.w.m.type) && n >= kAmxMinTokens;
  }

  void pack(ProductInput& p, const BertLinear& l, const float* x, size_t ld, size_t n, uint64_t cols) {
    p.amx = use_amx(l, n);
    if (p.amx) {
      p.f16.reset(n, cols);
      pool_.parallel_for(n, 1, [&](size_t b, size_t e) { p.f16.pack_rows(x, ld, b, e); });
      return;
    }
    p.packed.reset(l.w.m.type, n, cols);
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) { p.packed.pack_rows(x, ld, b, e); });
  }

  void product(const BertLinear& l, const ProductInput& x, float* y, size_t ldy) {
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
    pack(pa_, L.q, x_.data(), h, n, h);
    const ProductInput* for_k = &pa_;
    const ProductInput* for_v = &pa_;
    if (L.k.w.m.type != L.q.w.m.type) {
      pack(pb_, L.k, x_.data(), h, n, h);
      for_k = &pb_;
    }
    if (L.v.w.m.type != L.q.w.m.type) {
      pack(pc_, L.v, x_.data(), h, n, h);
      for_v = &pc_;
    }
    pool_.run([&](unsigned t) {
      const auto [b, e] = pool_.split(h, kRowGrain, t);
      if (b >= e) return;
      linear_rows(L.q, pa_, q_.data(), h, b, e);
      linear_rows(L.k, *for_k, k_.data(), h, b, e);
      linear_rows(L.v, *for_v, v_.data(), h, b, e);
    });
    // Attention: each text's queries over its own keys only, a (text, head) pair per unit.
    const size_t n_head = c_.num_attention_heads;
    pool_.run([&](unsigned thread) {
      SequenceAttentionScratch& scratch = attention_scratch_[thread];
      for (size_t u = thread; u < spans_.size() * n_head; u += pool_.size()) {
        const CellSpan& text = spans_[u / n_head];
        sequence_attention_head_f32(q_.data(), k_.data(), v_.data(), shape_, u % n_head, text.first, text.count,
                                    scratch, att_.data());
      }
    });
    pack(pa_, L.attn_out, att_.data(), h, n, h);
    product(L.attn_out, pa_, tmp_.data(), h);
    residual_norm(tmp_.data(), L.attn_norm, n);

    pack(pa_, L.up, x_.data(), h, n, h);
    product(L.up, pa_, up_.data(), ff);
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) gelu_erf_f32(&up_[i * ff], &up_[i * ff], ff);
    });
    pack(pa_, L.down, up_.data(), ff, n, ff);
    product(L.down, pa_, tmp_.data(), h);
    residual_norm(tmp_.data(), L.out_norm, n);
  }

  const BertModel& m_;
  const BertConfig& c_;
  ThreadPool pool_;
  size_t pass_tokens_;
  AttentionShape shape_;
  std::vector<float> x_, tmp_, q_, k_, v_, att_, up_;  // [tokens][hidden] ([tokens][ff] for up_)
  std::vector<CellSpan> spans_;  // the rows of each text of the pass
  std::vector<uint32_t> pos_;
  std::vector<int32_t> ids_;
  std::vector<SequenceAttentionScratch> attention_scratch_;  // per thread
  ProductInput pa_, pb_, pc_;
  bool amx_ = false;
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
