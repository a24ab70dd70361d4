// The fast engine: a batch in chunks of up to n_batch tokens, every step split over a
// persistent thread pool, products through the SIMD kernels of src/kernels/matmul.h, RoPE and
// attention through src/kernels/rope.h and attention.h.
//
// A chunk moves through each layer together, so each weight matrix is read from memory once
// per chunk instead of once per token (prompt processing becomes compute-bound instead of
// bandwidth-bound). Matrix products are split across threads by weight rows, in chunks that
// the pool's threads claim as they come free: every thread streams a disjoint part of the
// matrix, which is what generation (one token, bandwidth-bound) needs, and with a batch each
// thread reuses its rows for every token. The small steps
// (RMSNorm, RoPE, SwiGLU, packing) are split by tokens; attention by (token, head) pairs.
//
// When the cache gives a chunk consecutive cells (always, for one sequence evaluated alone),
// the K and V products write straight into the cache; otherwise into a staging buffer that is
// then copied to the chunk's cells.
//
// Chunks of at least amx_min_tokens() tokens multiply on AMX tiles when the CPU has them
// (kernels/amx_matmul.h, and kernels/amx_f16.h for F16 matrices; LMFORGE_NO_AMX=1 turns that
// off): the choice is made per product when
// its input is packed, and the packed input says which kernel reads it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/llama_engine.h"
#include "kernels/amx_f16.h"
#include "kernels/amx_kquants.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"
#include "kernels/attention.h"
#include "kernels/gptq_form.h"
#include "kernels/interleaved.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"
#include "kernels/rope.h"
#include "kernels/vec_ops.h"

namespace lmforge {

namespace {

// Rows per unit of work when splitting a product across threads: a multiple of the kernels'
// row tiles, small enough that 2-16 threads get balanced shares of a 2048-row matrix.
constexpr size_t kRowGrain = 16;

// The input of one or more products: 8-bit blocks or floats for the integer/float kernels, and
// the same values in bf16 tiles for the AMX product when amx is true (three-part tiles, f16,
// for F16 weights: kernels/amx_f16.h; for Q3_K...Q6_K weights, the 8-bit codes in INT8 tiles,
// kquants, when amx_kquants is true).
struct ProductInput {
  PackedActivations packed;
  AmxActivations bf16;
  AmxF16Activations f16;
  AmxKquantActivations kquants;
  bool amx = false;
  bool amx_kquants = false;
};

// F16 matrices in place in the file take the exact three-part tile product, not matmul_amx().
bool amx_f16_weight(const LlamaWeight& w) { return !w.gptq && !w.interleaved && amx_f16_supports(w.m.type); }

AmxWeights amx_weights(const LlamaWeight& w) {
  AmxWeights a;
  if (w.gptq) {
    a.gptq = w.gptq.get();
  } else if (w.interleaved) {
    a.interleaved = w.interleaved.get();
  } else {
    a.matrix = &w.m;
  }
  return a;
}

// The LoRA terms of one product and A x of each for every token of the chunk, computed once
// (rank r per term: cheap) before the threads split the product's rows.
struct LoraInput {
  struct Term {
    const LoraPair* pair;
    float scale;
    size_t offset;    // of this term's A x within a token's row of `ax`
    const float* bt;  // B transposed: [rank][out]
  };
  std::vector<Term> terms;
  size_t width = 0;       // sum of the terms' ranks
  std::vector<float> ax;  // [n][width]
};

// Rows [r0, r1) of y += scale · B (A x) for every term and each of the n tokens, as `rank`
// SIMD passes y[r0..r1) += (scale · (A x)[k]) · Bt[k][r0..r1) (a dot product of rank floats per
// row cost more in calls than in arithmetic). r0 is a multiple of kRowGrain (16), which every
// vector width divides, and r1 is one too unless it is the matrix's end: an element takes
// axpy_f32's vector body or its scalar tail whatever rows a thread owns, so results do not
// depend on the split.
void lora_add(const LoraInput& li, size_t n, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  for (const LoraInput::Term& term : li.terms) {
    const LoraPair& p = *term.pair;
    for (size_t t = 0; t < n; ++t) {
      float* yt = y + t * ldy;
      const float* ax = &li.ax[t * li.width + term.offset];
      for (uint32_t k = 0; k < p.rank; ++k) {
        axpy_f32(term.scale * ax[k], term.bt + size_t{k} * p.out + r0, yt + r0, r1 - r0);
      }
    }
  }
}

// Rows [r0, r1) of y = W x (y[t * ldy + r] for every packed row t of x). Every weight product
// of the forward pass goes through here; LoRA terms are added to the same rows by lora_add.
void linear(const LlamaWeight& w, const ProductInput& in, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  const PackedActivations& x = in.packed;
  if (in.amx_kquants) {
    matmul_amx_kquants(w.m, in.kquants, y, ldy, r0, r1);
  } else if (in.amx && amx_f16_weight(w)) {
    matmul_amx_f16(w.m, in.f16, y, ldy, r0, r1);
  } else if (in.amx) {
    matmul_amx(amx_weights(w), in.bf16, y, ldy, r0, r1);
  } else if (w.gptq) {
    matmul_gptq(*w.gptq, x, y, ldy, r0, r1);
  } else if (w.interleaved) {
    matmul_interleaved(*w.interleaved, x, y, ldy, r0, r1);
  } else {
    matmul_packed(w.m, x, y, ldy, r0, r1);
  }
}

// Whether two weights read the same packed input: the same type, and for GPTQ linears the same
// input order (act-order linears of one input usually share it).
bool same_packing(const LlamaWeight& a, const LlamaWeight& b) {
  if (a.m.type != b.m.type || bool(a.gptq) != bool(b.gptq)) return false;
  return !a.gptq || a.gptq == b.gptq || (a.gptq->padded_cols() == b.gptq->padded_cols() && a.gptq->x_map() == b.gptq->x_map());
}

// One product of a step: y[t * ldy + r] = W x[t] for all rows r of *w.
struct ProductPart {
  const LlamaWeight* w;
  const ProductInput* in;
  float* y;
  size_t ldy;
  const LoraInput* lora = nullptr;  // the product's LoRA terms; null or empty: none
};

// The entries [begin, begin + n) of a batch that one pass through the layers computes, and
// where their keys and values go.
struct Chunk {
  const LlamaBatch& batch;
  const KvPlacement& placement;
  size_t begin = 0, n = 0;
  bool consecutive_cells = false;  // placement.cell[begin + t] == placement.cell[begin] + t
};

class FastEngine final : public LlamaEngine {
 public:
  FastEngine(const LlamaModel& model, uint32_t n_threads, uint32_t n_batch, bool amx);

 protected:
  void compute(KvCache& cache, const LlamaBatch& batch, const KvPlacement& placement, float* logits) override;

 private:
  void eval_chunk(KvCache& cache, const Chunk& chunk, float* logits);
  void layer(KvCache& cache, uint32_t l, const Chunk& chunk);
  void attention(KvCache& cache, uint32_t l, const Chunk& chunk);
  // Packs n rows of x (ld floats apart) for weights of `type` into `p`, split over threads.
  void pack(PackedActivations& p, DType type, const float* x, size_t ld, size_t n, uint64_t cols);
  // Shows the observer (if any) the input x (n rows, ld apart) of the products by `weights`.
  void observe(std::initializer_list<const LlamaWeight*> weights, const float* x, size_t ld, size_t n, size_t cols) {
    if (observer_)
      for (const LlamaWeight* w : weights) observer_->observe(w->name, x, ld, n, cols);
  }
  // Packs for weight `w`: as pack() for its type, gathered into its input order for GPTQ; then
  // into bf16 tiles too when use_amx(w, n).
  void pack_for(ProductInput& p, const LlamaWeight& w, const float* x, size_t ld, size_t n, uint64_t cols);
  // y[t * ldy + r] = W x[t] for all rows of `w`, split over threads by rows.
  void product(const LlamaWeight& w, const ProductInput& x, float* y, size_t ldy) { products({{&w, &x, y, ldy}}); }
  // Several products (Q, K and V; gate and up) as one step of the pool.
  void products(std::initializer_list<ProductPart> parts);
  // Fills `li` with the LoRA terms of blk.l's `target` and their A x for n rows of x (ld floats
  // apart); `li` is left empty when the weight is not adapted.
  LoraInput* lora_prepare(LoraInput& li, uint32_t l, LoraTarget target, const float* x, size_t ld, size_t n);
  // The size of a step over n rows of `floats` floats each (norms, RoPE, SwiGLU, packing), by
  // which the pool decides whether another thread is worth waking: for a few decode rows it is
  // not (microseconds of work against a hand-off per step, some 200 steps a token).
  static WorkSize row_work(size_t n, size_t floats) { return WorkSize{n * floats * sizeof(float)}; }
  // Whether the product by `w` of n tokens runs on AMX tiles.
  bool use_amx(const LlamaWeight& w, size_t n) const {
    return amx_ && (w.gptq || w.interleaved || amx_supports(w.m.type) || amx_f16_weight(w)) &&
           n >= amx_min_tokens(amx_weights(w));
  }

  const LlamaConfig& c_;
  uint32_t n_batch_;
  ThreadPool pool_;
  size_t kv_dim_, q_dim_;
  AttentionShape shape_;
  // Activations of the chunk, token-major: [n_batch][dim].
  std::vector<float> x_, xn_, q_, att_, proj_, gate_, up_;
  std::vector<float> k_new_, v_new_;         // [n_batch][kv_dim], only for scattered cells
  std::vector<float> gathered_;              // [n][padded cols]: inputs in a GPTQ linear's order
  std::vector<size_t> out_rows_;             // the chunk's tokens that want logits
  std::vector<std::vector<float>> scores_;   // per thread, one per visible cell
  std::vector<float> rope_cos_, rope_sin_;   // [n_batch][head_dim / 2]
  ProductInput packed_a_, packed_b_, packed_c_;
  LoraInput lora_a_, lora_b_, lora_c_;  // for the up to three products of one step
  std::map<const LoraPair*, std::vector<float>> lora_bt_;  // B transposed, made at first use
  bool amx_;
};

FastEngine::FastEngine(const LlamaModel& model, uint32_t n_threads, uint32_t n_batch, bool amx)
    : LlamaEngine(model), c_(model.config()), n_batch_(n_batch), pool_(n_threads), amx_(amx && amx_enabled()) {
  kv_dim_ = size_t{c_.num_key_value_heads} * c_.head_dim;
  q_dim_ = size_t{c_.num_attention_heads} * c_.head_dim;
  shape_ = attention_shape(c_);
  for (const LlamaWeight* w : {&model.tok_embd, &model.output})
    if (!matmul_supports(w->m.type)) fail(model.path(), "tensor " + w->name + " has a type the engine cannot run");
  const size_t b = n_batch_;
  x_.resize(b * c_.hidden_size);
  xn_.resize(b * c_.hidden_size);
  proj_.resize(b * c_.hidden_size);
  q_.resize(b * q_dim_);
  att_.resize(b * q_dim_);
  gate_.resize(b * c_.intermediate_size);
  up_.resize(b * c_.intermediate_size);
  scores_.resize(pool_.size());
  rope_cos_.resize(b * (c_.head_dim / 2));
  rope_sin_.resize(b * (c_.head_dim / 2));
}

void FastEngine::compute(KvCache& cache, const LlamaBatch& batch, const KvPlacement& placement, float* logits) {
  for (auto& s : scores_)
    if (s.size() < cache.n_cells()) s.resize(cache.n_cells());
  const size_t n = batch.size(), width = out_width();
  for (size_t begin = 0; begin < n;) {
    Chunk chunk{batch, placement, begin, std::min<size_t>(n_batch_, n - begin)};
    chunk.consecutive_cells = true;
    for (size_t t = 1; t < chunk.n && chunk.consecutive_cells; ++t)
      chunk.consecutive_cells = placement.cell[begin + t] == placement.cell[begin] + t;
    eval_chunk(cache, chunk, logits);
    for (size_t t = 0; t < chunk.n; ++t) logits += batch.logits[begin + t] ? width : 0;
    begin += chunk.n;
  }
}

void FastEngine::pack(PackedActivations& p, DType type, const float* x, size_t ld, size_t n, uint64_t cols) {
  p.reset(type, n, cols);
  pool_.parallel_for(
      n, 1, [&](size_t b, size_t e) { p.pack_rows(x, ld, b, e); }, row_work(n, cols));
}

void FastEngine::pack_for(ProductInput& in, const LlamaWeight& w, const float* x, size_t ld, size_t n, uint64_t cols) {
  PackedActivations& p = in.packed;
  in.amx = use_amx(w, n);
  if (!w.gptq) {
    pack(p, w.m.type, x, ld, n, cols);
  } else if (!w.gptq->gathers()) {
    pack(p, w.gptq->activation_type(), x, ld, n, cols);
  } else {
    const GptqForm& g = *w.gptq;
    const size_t pc = g.padded_cols();
    gathered_.resize(n * pc);
    p.reset(g.activation_type(), n, pc);
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
      gptq_gather_rows(g, x, ld, b, e, &gathered_[b * pc]);
      p.pack_rows(gathered_.data(), pc, b, e);
    });
  }
  in.amx_kquants = in.amx && !w.gptq && !w.interleaved && amx_kquant_int8(w.m.type);
  if (in.amx_kquants) {
    in.kquants.reset(n, p.cols());
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) { in.kquants.pack_from(p, b, e); });
    return;
  }
  if (!in.amx) return;
  if (amx_f16_weight(w)) {
    in.f16.reset(n, p.cols());
    pool_.parallel_for(n, 1, [&](size_t b, size_t e) { in.f16.pack_rows(x, ld, b, e); });
    return;
  }
  // The AMX product reads the same rounded activations: as 8-bit codes for interleaved weights
  // and Q4_1/Q5_1 (amx_int8_form), as bf16 pairs for the others.
  in.bf16.reset(n, p.cols(), amx_int8_form(amx_weights(w)));
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) { in.bf16.pack_from(p, b, e); });
}

// The parts' rows are laid end to end, each part starting at a multiple of kRowGrain, and the
// pool's chunks (multiples of kRowGrain) cut that line: a chunk may take the end of one part and
// the start of the next, but every piece of a part it computes begins on a kRowGrain multiple
// of that part, as in a product alone, so the kernels see the same row tiles and results do
// not depend on how the step is cut or on which thread computes a chunk.
void FastEngine::products(std::initializer_list<ProductPart> parts) {
  size_t total = 0, work = 0;
  for (const ProductPart& p : parts) {
    total += (p.w->m.rows + kRowGrain - 1) / kRowGrain * kRowGrain;
    // Bytes of weights read, times the tokens that reuse them (GPTQ views have no row_bytes:
    // about half a byte per weight).
    work += p.w->m.rows * std::max<size_t>(p.w->m.row_bytes, p.w->m.cols / 2) * p.in->packed.n();
  }
  pool_.parallel_for(
      total, kRowGrain,
      [&](size_t b, size_t e) {
        size_t start = 0;  // of the part's rows on the line
        for (const ProductPart& p : parts) {
          if (start >= e) break;
          const size_t rows = p.w->m.rows, r0 = std::max(b, start) - start, r1 = std::min(e - start, rows);
          if (r0 < r1) {
            linear(*p.w, *p.in, p.y, p.ldy, r0, r1);
            if (p.lora && !p.lora->terms.empty()) lora_add(*p.lora, p.in->packed.n(), p.y, p.ldy, r0, r1);
          }
          start += (rows + kRowGrain - 1) / kRowGrain * kRowGrain;
        }
      },
      WorkSize{work});
}

LoraInput* FastEngine::lora_prepare(LoraInput& li, uint32_t l, LoraTarget target, const float* x, size_t ld, size_t n) {
  li.terms.clear();
  li.width = 0;
  if (!has_lora()) return nullptr;
  for (const LoraTerm& term : lora_terms(l, target)) {
    const LoraPair& p = *term.pair;
    std::vector<float>& bt = lora_bt_[term.pair];
    if (bt.empty()) {
      bt.resize(p.b.size());
      for (uint32_t r = 0; r < p.out; ++r)
        for (uint32_t k = 0; k < p.rank; ++k) bt[size_t{k} * p.out + r] = p.b[size_t{r} * p.rank + k];
    }
    li.terms.push_back({term.pair, term.scale, li.width, bt.data()});
    li.width += p.rank;
  }
  if (li.terms.empty()) return nullptr;
  li.ax.resize(n * li.width);
  pool_.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t)
      for (const LoraInput::Term& term : li.terms) {
        const LoraPair& p = *term.pair;
        for (uint32_t k = 0; k < p.rank; ++k)
          li.ax[t * li.width + term.offset + k] = dot_f32(&p.a[size_t{k} * p.in], x + t * ld, p.in);
      }
  });
  return &li;
}

void FastEngine::eval_chunk(KvCache& cache, const Chunk& chunk, float* logits) {
  const size_t embd = c_.hidden_size, n = chunk.n;
  const int32_t* tokens = chunk.batch.token.data() + chunk.begin;
  const int32_t* pos = chunk.batch.pos.data() + chunk.begin;
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t)
          matrix_row_ref(model_.tok_embd.m, static_cast<uint64_t>(tokens[t]), &x_[t * embd]);
      },
      row_work(n, embd));
  // RoPE angles depend only on the position: one cos/sin table per token for every head of Q
  // and K.
  const size_t half = c_.head_dim / 2;
  const float factor = c_.rope_scaling_linear.value_or(1.0f);
  const float* freq_factors = c_.rope_freq_factors.empty() ? nullptr : c_.rope_freq_factors.data();
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t)
          rope_angles(pos[t], c_.head_dim, c_.rope_theta, factor, &rope_cos_[t * half], &rope_sin_[t * half],
                      freq_factors);
      },
      row_work(n, 16 * c_.head_dim));  // a cos and a sin per pair: weigh them as 16 floats each

  for (uint32_t l = 0; l < c_.num_hidden_layers; ++l) layer(cache, l, chunk);

  // Final norm and output head for the tokens that want logits, into consecutive rows.
  out_rows_.clear();
  for (size_t t = 0; t < n; ++t)
    if (chunk.batch.logits[chunk.begin + t]) out_rows_.push_back(t);
  if (out_rows_.empty()) return;
  const size_t m = out_rows_.size();
  // eval_hidden: the normed states themselves are the result.
  float* normed = hidden_out_ ? logits : xn_.data();
  pool_.parallel_for(
      m, 1,
      [&](size_t b, size_t e) {
        for (size_t r = b; r < e; ++r)
          rms_norm_f32(&x_[out_rows_[r] * embd], model_.output_norm.data(), &normed[r * embd], embd,
                       c_.rms_norm_eps);
      },
      row_work(m, embd));
  if (hidden_out_) return;
  observe({&model_.output}, xn_.data(), embd, m, embd);
  pack_for(packed_a_, model_.output, xn_.data(), embd, m, embd);
  product(model_.output, packed_a_, logits, model_.n_vocab());
}

void FastEngine::layer(KvCache& cache, uint32_t l, const Chunk& chunk) {
  const LlamaLayer& L = model_.layers[l];
  const size_t embd = c_.hidden_size, ff = c_.intermediate_size, n = chunk.n, hd = c_.head_dim;
  const uint32_t* cells = chunk.placement.cell.data() + chunk.begin;
  float* k_dst = cache.keys(l) + size_t{cells[0]} * kv_dim_;
  float* v_dst = cache.values(l) + size_t{cells[0]} * kv_dim_;
  if (!chunk.consecutive_cells) {
    k_new_.resize(size_t{n_batch_} * kv_dim_);
    v_new_.resize(size_t{n_batch_} * kv_dim_);
    k_dst = k_new_.data();
    v_dst = v_new_.data();
  }

  // Attention block: norm, Q/K/V products, RoPE, attention.
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t)
          rms_norm_f32(&x_[t * embd], L.attn_norm.data(), &xn_[t * embd], embd, c_.rms_norm_eps);
      },
      row_work(n, embd));
  // Q, K and V usually share a type and so one packed input; a file that mixes types gets one
  // packing per type.
  observe({&L.wq, &L.wk, &L.wv}, xn_.data(), embd, n, embd);
  pack_for(packed_a_, L.wq, xn_.data(), embd, n, embd);
  const ProductInput* for_k = &packed_a_;
  if (!same_packing(L.wk, L.wq)) {
    pack_for(packed_b_, L.wk, xn_.data(), embd, n, embd);
    for_k = &packed_b_;
  }
  const ProductInput* for_v = same_packing(L.wv, L.wq) ? &packed_a_ : nullptr;
  if (!for_v && same_packing(L.wv, L.wk)) for_v = for_k;
  if (!for_v) {
    pack_for(packed_c_, L.wv, xn_.data(), embd, n, embd);
    for_v = &packed_c_;
  }
  const LoraInput* lq = lora_prepare(lora_a_, l, LoraTarget::kQ, xn_.data(), embd, n);
  const LoraInput* lk = lora_prepare(lora_b_, l, LoraTarget::kK, xn_.data(), embd, n);
  const LoraInput* lv = lora_prepare(lora_c_, l, LoraTarget::kV, xn_.data(), embd, n);
  products({{&L.wq, &packed_a_, q_.data(), q_dim_, lq}, {&L.wk, for_k, k_dst, kv_dim_, lk}, {&L.wv, for_v, v_dst, kv_dim_, lv}});
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          const float* cs = &rope_cos_[t * (hd / 2)];
          const float* sn = &rope_sin_[t * (hd / 2)];
          if (L.has_qkv_bias) {  // Qwen2: biases join before the rotation, as in the HF model
            add_f32(L.bq.data(), &q_[t * q_dim_], q_dim_);
            add_f32(L.bk.data(), k_dst + t * kv_dim_, kv_dim_);
            add_f32(L.bv.data(), v_dst + t * kv_dim_, kv_dim_);
          }
          const auto rope = rope_neox(c_) ? rope_apply_neox_f32 : rope_apply_f32;
          rope(&q_[t * q_dim_], c_.num_attention_heads, hd, cs, sn);
          rope(k_dst + t * kv_dim_, c_.num_key_value_heads, hd, cs, sn);
          if (!chunk.consecutive_cells) {
            std::memcpy(cache.keys(l) + size_t{cells[t]} * kv_dim_, k_dst + t * kv_dim_,
                        kv_dim_ * sizeof(float));
            std::memcpy(cache.values(l) + size_t{cells[t]} * kv_dim_, v_dst + t * kv_dim_,
                        kv_dim_ * sizeof(float));
          }
        }
      },
      row_work(n, q_dim_ + 3 * kv_dim_));
  attention(cache, l, chunk);
  observe({&L.wo}, att_.data(), q_dim_, n, q_dim_);
  pack_for(packed_a_, L.wo, att_.data(), q_dim_, n, q_dim_);
  products({{&L.wo, &packed_a_, proj_.data(), embd, lora_prepare(lora_a_, l, LoraTarget::kO, att_.data(), q_dim_, n)}});

  // Feed-forward block: residual, norm, gate and up products, SwiGLU, down product, residual.
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          add_f32(&proj_[t * embd], &x_[t * embd], embd);
          rms_norm_f32(&x_[t * embd], L.ffn_norm.data(), &xn_[t * embd], embd, c_.rms_norm_eps);
        }
      },
      row_work(n, 2 * embd));
  observe({&L.w_gate, &L.w_up}, xn_.data(), embd, n, embd);
  pack_for(packed_a_, L.w_gate, xn_.data(), embd, n, embd);
  const ProductInput* for_up = &packed_a_;
  if (!same_packing(L.w_up, L.w_gate)) {
    pack_for(packed_b_, L.w_up, xn_.data(), embd, n, embd);
    for_up = &packed_b_;
  }
  const LoraInput* lgate = lora_prepare(lora_a_, l, LoraTarget::kGate, xn_.data(), embd, n);
  const LoraInput* lup = lora_prepare(lora_b_, l, LoraTarget::kUp, xn_.data(), embd, n);
  products({{&L.w_gate, &packed_a_, gate_.data(), ff, lgate}, {&L.w_up, for_up, up_.data(), ff, lup}});
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) swiglu_f32(&gate_[t * ff], &up_[t * ff], &gate_[t * ff], ff);
      },
      row_work(n, 2 * ff));
  observe({&L.w_down}, gate_.data(), ff, n, ff);
  pack_for(packed_a_, L.w_down, gate_.data(), ff, n, ff);
  products({{&L.w_down, &packed_a_, proj_.data(), embd, lora_prepare(lora_a_, l, LoraTarget::kDown, gate_.data(), ff, n)}});
  pool_.parallel_for(
      n, 1,
      [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) add_f32(&proj_[t * embd], &x_[t * embd], embd);
      },
      row_work(n, embd));
}

// Attention of every query of the chunk over the cells it may see (its sequence, positions up
// to its own: the placement's spans), into att_.
void FastEngine::attention(KvCache& cache, uint32_t l, const Chunk& chunk) {
  const size_t n_head = c_.num_attention_heads, n = chunk.n;
  const float* kl = cache.keys(l);
  const float* vl = cache.values(l);
  const CellSpan* visible = chunk.placement.visible.data() + chunk.begin;
  // Bytes of keys and values read: short contexts stay on the caller.
  size_t cells = 0;
  for (size_t t = 0; t < n; ++t) cells += visible[t].count;
  pool_.run(
      [&](unsigned thread) {
        float* scores = scores_[thread].data();
        // Units dealt round-robin, not in contiguous ranges: a query's cost grows with its
        // position, so contiguous ranges would give the last thread most of a prompt's attention
        // (3x the first's at 2 threads) while the others wait.
        for (size_t u = thread; u < n * n_head; u += pool_.size()) {
          const size_t t = u / n_head, h = u % n_head;
          attention_head_f32(&q_[t * q_dim_], kl, vl, shape_, h, visible[t], scores, &att_[t * q_dim_]);
        }
      },
      WorkSize{cells * kv_dim_ * 2 * sizeof(float)});
}

}  // namespace

std::unique_ptr<LlamaEngine> make_fast_engine(const LlamaModel& model, uint32_t n_threads, uint32_t n_batch, bool amx) {
  return std::make_unique<FastEngine>(model, n_threads, n_batch, amx);
}

}  // namespace lmforge
