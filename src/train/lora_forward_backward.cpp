#include "train/lora_forward_backward.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "arch/llama/llama_config.h"
#include "engine/llama_model.h"
#include "kernels/attention.h"
#include "kernels/backward_ops.h"
#include "kernels/decode_rows.h"
#include "kernels/matmul.h"
#include "kernels/vec_ops.h"
#include "quant/type_traits.h"
#include "train/causal_attention_batch.h"
#include "train/training_pass_steps.h"

namespace lmforge {

namespace {

// Fixed tile sizes: the work of a tile depends on these and the shapes only, never on how many
// threads share the tiles, which keeps results bit-identical for any thread count.
constexpr size_t kTokenGrain = kPassTokenGrain;  // tokens per tile for per-token work
constexpr size_t kColTile = 128;     // columns per tile of the adapter's A gradient
constexpr size_t kLogitChunk = 64;   // tokens whose logits exist at once

size_t tiles(size_t n, size_t tile) { return (n + tile - 1) / tile; }

// Keeping every layer's intermediates saves the backward pass a third of its matrix products;
// by default they are kept when they take at most a quarter of the machine's memory.
uint64_t default_activation_budget() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4;
}

const LlamaWeight& target_weight(const LlamaLayer& L, LoraTarget t) {
  switch (t) {
    case LoraTarget::kQ: return L.wq;
    case LoraTarget::kK: return L.wk;
    case LoraTarget::kV: return L.wv;
    case LoraTarget::kO: return L.wo;
    case LoraTarget::kGate: return L.w_gate;
    case LoraTarget::kUp: return L.w_up;
    default: return L.w_down;
  }
}

void check_weight(const LlamaWeight& w, const std::string& path) {
  if (w.gptq) throw Error(path, "training needs the base weights in a GGUF type; " + w.name + " is a GPTQ linear");
  if (!can_decode(w.m.type) || !matmul_supports(w.m.type)) {
    throw Error(path, w.name + ": weight type " + std::string(dtype_name(w.m.type)) + " cannot be trained through");
  }
}

}  // namespace

struct LoraForwardBackward::Impl {
  Impl(const LlamaModel& m, const LoraAdapter& a, uint32_t context, ThreadPool& p)
      : model(m), adapter(a), ctx(context), pool(p), c(m.config()), rope(c, context) {
    H = c.hidden_size;
    Q = size_t{c.num_attention_heads} * c.head_dim;
    KV = size_t{c.num_key_value_heads} * c.head_dim;
    F = c.intermediate_size;
    hd = c.head_dim;
    V = c.vocab_size;
    shape.n_head = c.num_attention_heads;
    shape.n_head_kv = c.num_key_value_heads;
    shape.head_dim = hd;
    shape.cell_stride = KV;
    shape.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    if (ctx == 0) throw Error(m.path(), "training needs a context of at least one token");
    if (!can_decode(m.tok_embd.m.type)) throw Error(m.path(), "the token embedding's type cannot be decoded");
    check_weight(m.output, m.path());
    for (const LlamaLayer& L : m.layers) {
      for (size_t t = 0; t < kLoraTargetCount; ++t) check_weight(target_weight(L, static_cast<LoraTarget>(t)), m.path());
    }
    check_adapter();
  }

  void check_adapter() const {
    if (adapter.layers.size() > model.layers.size()) {
      throw Error(model.path(), "the adapter has more layers than the base model");
    }
    for (size_t l = 0; l < adapter.layers.size(); ++l) {
      for (size_t t = 0; t < kLoraTargetCount; ++t) {
        const auto& p = adapter.layers[l][t];
        if (!p) continue;
        const LlamaWeight& w = target_weight(model.layers[l], static_cast<LoraTarget>(t));
        if (p->rank != adapter.rank || p->rank == 0 || p->in != w.m.cols || p->out != w.m.rows ||
            p->a.size() != size_t{p->rank} * p->in || p->b.size() != size_t{p->out} * p->rank) {
          throw Error(model.path(), "the adapter's pair for " + w.name + " does not match the base weight's shape");
        }
      }
    }
  }

  const LoraPair* pair(size_t l, LoraTarget t) const {
    if (l >= adapter.layers.size()) return nullptr;
    const auto& p = adapter.layers[l][static_cast<size_t>(t)];
    return p ? &*p : nullptr;
  }

  void resize(size_t n_seq) {
    T = n_seq * ctx;
    const size_t L = model.layers.size();
    inputs.assign((L + 1) * T * H, 0.0f);
    for (auto* b : {&xn, &h, &hn, &proj, &dres, &dh, &dxn, &dhn, &xf}) b->assign(T * H, 0.0f);
    for (auto* b : {&q, &att, &datt, &dq}) b->assign(T * Q, 0.0f);
    for (auto* b : {&k, &v, &dk, &dv}) b->assign(T * KV, 0.0f);
    for (auto* b : {&gate, &up, &s, &ds, &dgate, &dup}) b->assign(T * F, 0.0f);
    for (auto& b : u) b.assign(T * adapter.rank, 0.0f);
    du.assign(T * adapter.rank, 0.0f);
    token_loss.assign(T, 0.0f);
    logits.assign(kLogitChunk * V, 0.0f);
    saved.clear();
    if (kept_activation_bytes(n_seq) <= activation_budget) {
      saved.resize(L);
      for (LayerActivations& a : saved) {
        for (size_t i = 0; i < kKeptBuffers; ++i) a.buffers[i].assign(kept(i)->size(), 0.0f);
        for (size_t t = 0; t < kLoraTargetCount; ++t) a.u[t].assign(u[t].size(), 0.0f);
      }
    }
  }

  // The intermediates of one layer that its backward pass reads: kept for every layer when they
  // fit the budget, else recomputed from the layer's input (same kernels, same order, so the
  // gradients are bit-identical either way). Recomputing costs a third more matrix products.
  static constexpr size_t kKeptBuffers = 10;
  struct LayerActivations {
    std::array<std::vector<float>, kKeptBuffers> buffers;
    std::array<std::vector<float>, kLoraTargetCount> u;
  };
  std::vector<float>* kept(size_t i) {
    std::vector<float>* all[kKeptBuffers] = {&xn, &q, &k, &v, &att, &h, &hn, &gate, &up, &s};
    return all[i];
  }
  uint64_t kept_activation_bytes(size_t n_seq) const {
    const uint64_t tokens = uint64_t{n_seq} * ctx;
    const uint64_t per_token = 3 * H + 2 * Q + 2 * KV + 3 * F + kLoraTargetCount * uint64_t{adapter.rank};
    return uint64_t{model.layers.size()} * tokens * per_token * sizeof(float);
  }
  // Moves layer l's intermediates between the working buffers and its kept set (O(1) swaps).
  void swap_kept(size_t l) {
    for (size_t i = 0; i < kKeptBuffers; ++i) kept(i)->swap(saved[l].buffers[i]);
    for (size_t t = 0; t < kLoraTargetCount; ++t) u[t].swap(saved[l].u[t]);
  }

  void embed(std::span<const std::span<const int32_t>> windows) {
    split_training_windows(windows, ctx, static_cast<uint32_t>(V), model.path(), tokens, targets);
    const MatrixView& e = model.tok_embd.m;
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t en) {
      for (size_t t = b; t < en; ++t) decode_row_fast(e.type, e.row(static_cast<uint64_t>(tokens[t])), &inputs[t * H], H);
    });
  }

  void rms_rows(const float* x, const std::vector<float>& w, float* out) {
    rms_norm_rows(pool, x, w.data(), out, T, H, c.rms_norm_eps);
  }

  void rms_rows_backward(const float* x, const std::vector<float>& w, const float* dy, float* dx) {
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) rms_norm_backward_f32(x + t * H, w.data(), dy + t * H, dx + t * H, H, c.rms_norm_eps);
    });
  }

  // y[n x rows] = x W^T; dx[n x cols] += dy W (training_pass_steps.h). The engine's regrouped
  // Q8_0/Q4_0 matrix is read where the loader made one: its mapped pages were released.
  void frozen_product(const LlamaWeight& w, const float* x, size_t n, float* y) {
    products.forward(pool, w.m, w.interleaved.get(), x, n, y);
  }
  void frozen_backward(const LlamaWeight& w, const float* dy, size_t n, float* dx) {
    products.backward(pool, w.m, w.interleaved.get(), dy, n, dx);
  }

  // u = x A^T (the adapter's low-rank activations).
  void lora_down(const LoraPair& p, const float* x, float* uo) {
    const size_t r = p.rank, in = p.in;
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t)
        for (size_t j = 0; j < r; ++j) uo[t * r + j] = dot_f32(&p.a[j * in], x + t * in, in);
    });
  }

  // y = x W^T + scale (x A^T) B^T; u keeps x A^T for the backward pass.
  void linear(const LlamaWeight& w, const LoraPair* p, const float* x, float* y, float* uo) {
    frozen_product(w, x, T, y);
    if (!p) return;
    lora_down(*p, x, uo);
    const size_t r = p->rank, out = p->out;
    const float sc = adapter.base_scale();
    // y[t] += sum_j (scale u[t][j]) B^T[j]: a panel product over the r rows of B^T.
    transpose_b(*p);
    us.resize(T * r);
    for (size_t i = 0; i < T * r; ++i) us[i] = sc * uo[i];
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      panel_accumulate_f32(bt.data(), r, out, &us[b * r], r, e - b, y + b * out, out);
    });
  }

  // bt = B^T [r x out], rows contiguous.
  void transpose_b(const LoraPair& p) {
    const size_t r = p.rank, out = p.out;
    bt.resize(r * out);
    for (size_t o = 0; o < out; ++o)
      for (size_t j = 0; j < r; ++j) bt[j * out + o] = p.b[o * r + j];
  }

  // dx += dy W + scale dy B A; the adapter's gradients g += (scale dy^T u, du^T x).
  void linear_backward(const LlamaWeight& w, const LoraPair* p, LoraPair* g, const float* x, const float* uo,
                       const float* dy, float* dx) {
    frozen_backward(w, dy, T, dx);
    if (!p) return;
    const size_t r = p->rank, in = p->in, out = p->out;
    const float sc = adapter.base_scale();
    // B's gradient, transposed: gbt[j][o] = sum_t (scale u[t][j]) dy[t][o], a panel product with
    // the tokens as the panel's rows; then added into g->b (out x r).
    ut.resize(r * T);
    for (size_t t = 0; t < T; ++t)
      for (size_t j = 0; j < r; ++j) ut[j * T + t] = sc * uo[t * r + j];
    gbt.assign(r * out, 0.0f);
    pool.parallel_for(tiles(out, kColTile), 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const size_t c0 = i * kColTile, width = std::min(out, c0 + kColTile) - c0;
        panel_accumulate_strided_f32(dy + c0, out, T, width, ut.data(), T, r, gbt.data() + c0, out);
      }
    });
    for (size_t o = 0; o < out; ++o)
      for (size_t j = 0; j < r; ++j) g->b[o * r + j] += gbt[j * out + o];
    transpose_b(*p);
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t)
        for (size_t j = 0; j < r; ++j) du[t * r + j] = sc * dot_f32(dy + t * out, &bt[j * out], out);
    });
    // A's gradient: g->a[j][c] += sum_t du[t][j] x[t][c], summed over t in order.
    for (size_t t = 0; t < T; ++t)
      for (size_t j = 0; j < r; ++j) ut[j * T + t] = du[t * r + j];
    pool.parallel_for(tiles(in, kColTile), 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const size_t c0 = i * kColTile, width = std::min(in, c0 + kColTile) - c0;
        panel_accumulate_strided_f32(x + c0, in, T, width, ut.data(), T, r, g->a.data() + c0, in);
      }
    });
    // dx[t] += sum_j du[t][j] A[j]: a panel product over the r rows of A.
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      panel_accumulate_f32(p->a.data(), r, in, &du[b * r], r, e - b, dx + b * in, in);
    });
  }

  void rope_rows(float* x, size_t width, size_t heads, bool backward) { rope.rows(pool, x, T, width, heads, backward); }

  // Layer l from its input x; with next, writes the layer's output there.
  void forward_layer(size_t l, const float* x, float* next) {
    const LlamaLayer& L = model.layers[l];
    auto U = [&](LoraTarget t) { return u[static_cast<size_t>(t)].data(); };
    rms_rows(x, L.attn_norm, xn.data());
    linear(L.wq, pair(l, LoraTarget::kQ), xn.data(), q.data(), U(LoraTarget::kQ));
    linear(L.wk, pair(l, LoraTarget::kK), xn.data(), k.data(), U(LoraTarget::kK));
    linear(L.wv, pair(l, LoraTarget::kV), xn.data(), v.data(), U(LoraTarget::kV));
    if (L.has_qkv_bias) {  // frozen biases: they shift the forward pass and have no gradient
      pool.parallel_for(T, 1, [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          add_f32(L.bq.data(), &q[t * Q], Q);
          add_f32(L.bk.data(), &k[t * KV], KV);
          add_f32(L.bv.data(), &v[t * KV], KV);
        }
      });
    }
    rope_rows(q.data(), Q, shape.n_head, false);
    rope_rows(k.data(), KV, shape.n_head_kv, false);
    causal_attention_forward(pool, shape, ctx, T / ctx, q.data(), k.data(), v.data(), att.data());
    linear(L.wo, pair(l, LoraTarget::kO), att.data(), proj.data(), U(LoraTarget::kO));
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t i = b * H; i < e * H; ++i) h[i] = x[i] + proj[i];
    });
    rms_rows(h.data(), L.ffn_norm, hn.data());
    linear(L.w_gate, pair(l, LoraTarget::kGate), hn.data(), gate.data(), U(LoraTarget::kGate));
    linear(L.w_up, pair(l, LoraTarget::kUp), hn.data(), up.data(), U(LoraTarget::kUp));
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) swiglu_f32(&gate[t * F], &up[t * F], &s[t * F], F);
    });
    const LoraPair* pd = pair(l, LoraTarget::kDown);
    if (!next) {  // recomputing for the backward pass: only the down adapter's activations
      if (pd) lora_down(*pd, s.data(), U(LoraTarget::kDown));
      return;
    }
    linear(L.w_down, pd, s.data(), proj.data(), U(LoraTarget::kDown));
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t i = b * H; i < e * H; ++i) next[i] = h[i] + proj[i];
    });
    if (!saved.empty() && keep_forward) swap_kept(l);
  }

  // dres holds d(loss)/d(layer output); leaves d(loss)/d(layer input) there.
  void backward_layer(size_t l, LoraAdapter& grads) {
    const LlamaLayer& L = model.layers[l];
    const float* x = &inputs[l * T * H];
    if (saved.empty()) {
      forward_layer(l, x, nullptr);
    } else {
      swap_kept(l);
    }
    auto U = [&](LoraTarget t) { return u[static_cast<size_t>(t)].data(); };
    auto G = [&](LoraTarget t) -> LoraPair* {
      if (l >= grads.layers.size()) return nullptr;
      auto& p = grads.layers[l][static_cast<size_t>(t)];
      return p ? &*p : nullptr;
    };
    std::fill(ds.begin(), ds.end(), 0.0f);
    linear_backward(L.w_down, pair(l, LoraTarget::kDown), G(LoraTarget::kDown), s.data(), U(LoraTarget::kDown),
                    dres.data(), ds.data());
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) swiglu_backward_f32(&gate[t * F], &up[t * F], &ds[t * F], &dgate[t * F], &dup[t * F], F);
    });
    std::fill(dhn.begin(), dhn.end(), 0.0f);
    linear_backward(L.w_gate, pair(l, LoraTarget::kGate), G(LoraTarget::kGate), hn.data(), U(LoraTarget::kGate),
                    dgate.data(), dhn.data());
    linear_backward(L.w_up, pair(l, LoraTarget::kUp), G(LoraTarget::kUp), hn.data(), U(LoraTarget::kUp), dup.data(),
                    dhn.data());
    dh = dres;
    rms_rows_backward(h.data(), L.ffn_norm, dhn.data(), dh.data());

    std::fill(datt.begin(), datt.end(), 0.0f);
    linear_backward(L.wo, pair(l, LoraTarget::kO), G(LoraTarget::kO), att.data(), U(LoraTarget::kO), dh.data(),
                    datt.data());
    std::fill(dk.begin(), dk.end(), 0.0f);
    std::fill(dv.begin(), dv.end(), 0.0f);
    const size_t n_kv = shape.n_head_kv;
    causal_attention_backward(pool, shape, ctx, T / ctx, q.data(), k.data(), v.data(), datt.data(), dq.data(),
                              dk.data(), dv.data());
    rope_rows(dq.data(), Q, shape.n_head, true);
    rope_rows(dk.data(), KV, n_kv, true);
    std::fill(dxn.begin(), dxn.end(), 0.0f);
    linear_backward(L.wq, pair(l, LoraTarget::kQ), G(LoraTarget::kQ), xn.data(), U(LoraTarget::kQ), dq.data(),
                    dxn.data());
    linear_backward(L.wk, pair(l, LoraTarget::kK), G(LoraTarget::kK), xn.data(), U(LoraTarget::kK), dk.data(),
                    dxn.data());
    linear_backward(L.wv, pair(l, LoraTarget::kV), G(LoraTarget::kV), xn.data(), U(LoraTarget::kV), dv.data(),
                    dxn.data());
    dres = dh;
    rms_rows_backward(x, L.attn_norm, dxn.data(), dres.data());
  }

  // The output head and cross-entropy of every position; with backward, d(loss)/d(last layer
  // output) into dres.
  double head(float loss_scale, bool backward) {
    const float* xl = &inputs[model.layers.size() * T * H];
    rms_rows(xl, model.output_norm, xf.data());
    if (backward) std::fill(dxn.begin(), dxn.end(), 0.0f);
    const LlamaWeight& w = model.output;
    for (size_t c0 = 0; c0 < T; c0 += kLogitChunk) {
      const size_t n = std::min(kLogitChunk, T - c0);
      frozen_product(w, &xf[c0 * H], n, logits.data());
      cross_entropy_rows(pool, logits.data(), n, V, &targets[c0], loss_scale, &token_loss[c0]);
      if (!backward) continue;
      frozen_backward(w, logits.data(), n, &dxn[c0 * H]);
    }
    if (backward) {
      std::fill(dres.begin(), dres.end(), 0.0f);
      rms_rows_backward(xl, model.output_norm, dxn.data(), dres.data());
    }
    double sum = 0;
    for (float x : token_loss) sum += x;
    return sum;
  }

  double run(std::span<const std::span<const int32_t>> windows, float loss_scale, LoraAdapter* grads) {
    if (windows.empty()) return 0.0;
    if (T != windows.size() * ctx) resize(windows.size());
    check_adapter();
    embed(windows);
    keep_forward = grads != nullptr;
    for (size_t l = 0; l < model.layers.size(); ++l) forward_layer(l, &inputs[l * T * H], &inputs[(l + 1) * T * H]);
    const double sum = head(loss_scale, grads != nullptr);
    if (grads) {
      for (size_t l = model.layers.size(); l-- > 0;) backward_layer(l, *grads);
    }
    return sum;
  }

  const LlamaModel& model;
  const LoraAdapter& adapter;
  uint32_t ctx;
  ThreadPool& pool;
  LlamaConfig c;
  WindowRope rope;
  size_t H = 0, Q = 0, KV = 0, F = 0, hd = 0, V = 0, T = 0;
  AttentionShape shape;
  std::vector<int32_t> tokens, targets;
  std::vector<float> inputs, xn, q, k, v, att, proj, h, hn, gate, up, s, xf, logits, token_loss;
  std::array<std::vector<float>, kLoraTargetCount> u;
  std::vector<float> dres, dh, dxn, dhn, datt, dq, dk, dv, ds, dgate, dup, du, bt, us, ut, gbt;
  WeightProducts products;
  std::vector<LayerActivations> saved;  // empty: recompute each layer in the backward pass
  bool keep_forward = false;            // this pass's forward keeps its intermediates
  uint64_t activation_budget = default_activation_budget();
};

LoraForwardBackward::LoraForwardBackward(const LlamaModel& model, const LoraAdapter& adapter, uint32_t ctx,
                                         ThreadPool& pool)
    : impl_(std::make_unique<Impl>(model, adapter, ctx, pool)) {}

LoraForwardBackward::~LoraForwardBackward() = default;

double LoraForwardBackward::accumulate(std::span<const std::span<const int32_t>> windows, float loss_scale,
                                       LoraAdapter& grads) {
  return impl_->run(windows, loss_scale, &grads);
}

double LoraForwardBackward::loss(std::span<const std::span<const int32_t>> windows) {
  return impl_->run(windows, 1.0f, nullptr);
}

uint64_t LoraForwardBackward::activation_budget() const { return impl_->activation_budget; }

void LoraForwardBackward::set_activation_budget(uint64_t bytes) {
  impl_->activation_budget = bytes;
  impl_->T = 0;  // re-plan the buffers at the next call
}

uint64_t LoraForwardBackward::activation_bytes(size_t windows) const {
  return impl_->kept_activation_bytes(windows);
}

LoraAdapter zero_like(const LoraAdapter& adapter) {
  LoraAdapter z;
  z.alpha = adapter.alpha;
  z.rank = adapter.rank;
  z.name = adapter.name;
  z.layers.resize(adapter.layers.size());
  for (size_t l = 0; l < adapter.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = adapter.layers[l][t];
      if (!p) continue;
      LoraPair g;
      g.rank = p->rank;
      g.in = p->in;
      g.out = p->out;
      g.a.assign(p->a.size(), 0.0f);
      g.b.assign(p->b.size(), 0.0f);
      z.layers[l][t] = std::move(g);
    }
  }
  return z;
}

}  // namespace lmforge
