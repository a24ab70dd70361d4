#include "train/full_forward_backward.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/backward_ops.h"
#include "kernels/matmul.h"
#include "kernels/vec_ops.h"
#include "train/causal_attention_batch.h"
#include "train/full_model_tensors.h"
#include "train/training_pass_steps.h"

namespace lmforge {

namespace {

// Fixed tile sizes (as the LoRA pass's): a tile's work depends on the shapes only.
constexpr size_t kTokenGrain = kPassTokenGrain;  // tokens per tile for per-token work
constexpr size_t kRowTile = kPassRowTile;        // weight rows per weight-gradient tile
constexpr size_t kLogitChunk = 64;  // tokens whose logits exist at once

size_t tiles(size_t n, size_t tile) { return (n + tile - 1) / tile; }

MatrixView view_of(const TrainedTensor& t) {
  MatrixView m;
  m.type = DType::F32;
  m.data = reinterpret_cast<const uint8_t*>(t.value.data());
  m.rows = t.shape.at(0);
  m.cols = t.shape.at(1);
  m.row_bytes = m.cols * sizeof(float);
  return m;
}

}  // namespace

struct FullForwardBackward::Impl {
  Impl(const LlamaConfig& config, uint32_t context, ThreadPool& p)
      : c(config), ctx(context), pool(p), rope(c, context) {
    check_full_trainable(c, "train");
    if (ctx == 0) throw Error("train", "training needs a context of at least one token");
    lay = full_layout(c);
    H = c.hidden_size;
    hd = c.head_dim;
    Q = size_t{c.num_attention_heads} * hd;
    KV = size_t{c.num_key_value_heads} * hd;
    F = c.intermediate_size;
    V = c.vocab_size;
    shape.n_head = c.num_attention_heads;
    shape.n_head_kv = c.num_key_value_heads;
    shape.head_dim = hd;
    shape.cell_stride = KV;
    shape.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  }

  void check_weights(const std::vector<TrainedTensor>& w, const std::vector<std::vector<float>>* g) const {
    const std::vector<TrainedTensor> want = full_tensor_shapes(c);
    if (w.size() != want.size() || (g && g->size() != want.size()))
      throw Error("train", "the trained tensors do not match the model's shape");
    for (size_t i = 0; i < want.size(); ++i) {
      if (w[i].shape != want[i].shape || w[i].value.size() != want[i].value.size() ||
          (g && (*g)[i].size() != want[i].value.size()))
        throw Error("train", w[i].name + " does not have the shape " + shape_text(want[i].shape));
    }
  }

  void resize(size_t n_seq) {
    T = n_seq * ctx;
    inputs.assign((lay.n_layers + 1) * T * H, 0.0f);
    for (auto* b : {&xn, &h, &hn, &proj, &dres, &dh, &dxn, &dhn, &xf}) b->assign(T * H, 0.0f);
    for (auto* b : {&q, &att, &datt, &dq}) b->assign(T * Q, 0.0f);
    for (auto* b : {&k, &v, &dk, &dv}) b->assign(T * KV, 0.0f);
    for (auto* b : {&gate, &up, &s, &ds, &dgate, &dup}) b->assign(T * F, 0.0f);
    token_loss.assign(T, 0.0f);
    logits.assign(kLogitChunk * V, 0.0f);
    dyt.assign(std::max({H, Q, F}) * T, 0.0f);
    dlt.assign(V * kLogitChunk, 0.0f);
    norm_partial.assign(tiles(T, kTokenGrain) * H, 0.0f);
  }

  void embed(std::span<const std::span<const int32_t>> windows) {
    split_training_windows(windows, ctx, static_cast<uint32_t>(V), "train", tokens, targets);
    const float* e = W(lay.embd());
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t en) {
      for (size_t t = b; t < en; ++t) std::copy_n(e + size_t(tokens[t]) * H, H, &inputs[t * H]);
    });
  }

  const float* W(size_t i) const { return (*weights)[i].value.data(); }
  float* G(size_t i) { return (*grads)[i].data(); }

  void rms_rows(const float* x, const float* w, float* out) { rms_norm_rows(pool, x, w, out, T, H, c.rms_norm_eps); }

  // dx += d(norm)/dx · dy; the norm weight's gradient dw += sum_t dy_t x_t r_t (per-tile partial
  // sums, added in tile order).
  void rms_rows_backward(const float* x, size_t wi, const float* dy, float* dx) {
    const float* w = W(wi);
    const size_t nt = tiles(T, kTokenGrain);
    std::fill(norm_partial.begin(), norm_partial.end(), 0.0f);
    pool.parallel_for(nt, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        for (size_t t = i * kTokenGrain; t < std::min(T, (i + 1) * kTokenGrain); ++t) {
          rms_norm_backward_f32(x + t * H, w, dy + t * H, dx + t * H, H, c.rms_norm_eps);
          rms_norm_weight_grad_f32(x + t * H, dy + t * H, &norm_partial[i * H], H, c.rms_norm_eps);
        }
      }
    });
    float* dw = G(wi);
    for (size_t i = 0; i < nt; ++i) add_f32(&norm_partial[i * H], dw, H);
  }

  // y[n x out] = x W^T; dx[n x in] += dy W (training_pass_steps.h).
  void product(const MatrixView& m, const float* x, size_t n, float* y) { products.forward(pool, m, nullptr, x, n, y); }
  void input_grad(const MatrixView& m, const float* dy, size_t n, float* dx) {
    products.backward(pool, m, nullptr, dy, n, dx);
  }

  void linear(size_t wi, const float* x, float* y) { product(view_of((*weights)[wi]), x, T, y); }

  // dw[out x in] += dy^T x over n tokens: the panel product with x as the panel (n rows) and
  // dy^T's rows as the multipliers; each element sums over tokens in order.
  void weight_grad(const float* dy, size_t out, const float* x, size_t in, size_t n, float* dw, float* dyT) {
    pool.parallel_for(tiles(out, kRowTile), 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const size_t o0 = i * kRowTile, o1 = std::min(out, o0 + kRowTile);
        for (size_t o = o0; o < o1; ++o)
          for (size_t t = 0; t < n; ++t) dyT[o * n + t] = dy[t * out + o];
        panel_accumulate_f32(x, n, in, &dyT[o0 * n], n, o1 - o0, dw + o0 * in, in);
      }
    });
  }

  // dx += dy W; dW += dy^T x.
  void linear_backward(size_t wi, const float* x, const float* dy, float* dx) {
    const MatrixView m = view_of((*weights)[wi]);
    input_grad(m, dy, T, dx);
    weight_grad(dy, m.rows, x, m.cols, T, G(wi), dyt.data());
  }

  void rope_rows(float* x, size_t width, size_t heads, bool backward) { rope.rows(pool, x, T, width, heads, backward); }

  // Layer l from its input x; with next, writes the layer's output there (else stops before
  // the down projection, all the backward pass needs).
  void forward_layer(size_t l, const float* x, float* next) {
    rms_rows(x, W(lay.layer(l, kAttnNorm)), xn.data());
    linear(lay.layer(l, kWq), xn.data(), q.data());
    linear(lay.layer(l, kWk), xn.data(), k.data());
    linear(lay.layer(l, kWv), xn.data(), v.data());
    rope_rows(q.data(), Q, shape.n_head, false);
    rope_rows(k.data(), KV, shape.n_head_kv, false);
    causal_attention_forward(pool, shape, ctx, T / ctx, q.data(), k.data(), v.data(), att.data());
    linear(lay.layer(l, kWo), att.data(), proj.data());
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t i = b * H; i < e * H; ++i) h[i] = x[i] + proj[i];
    });
    rms_rows(h.data(), W(lay.layer(l, kFfnNorm)), hn.data());
    linear(lay.layer(l, kWGate), hn.data(), gate.data());
    linear(lay.layer(l, kWUp), hn.data(), up.data());
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) swiglu_f32(&gate[t * F], &up[t * F], &s[t * F], F);
    });
    if (!next) return;
    linear(lay.layer(l, kWDown), s.data(), proj.data());
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t i = b * H; i < e * H; ++i) next[i] = h[i] + proj[i];
    });
  }

  // dres holds d(loss)/d(layer output); leaves d(loss)/d(layer input) there.
  void backward_layer(size_t l) {
    const float* x = &inputs[l * T * H];
    forward_layer(l, x, nullptr);
    std::fill(ds.begin(), ds.end(), 0.0f);
    linear_backward(lay.layer(l, kWDown), s.data(), dres.data(), ds.data());
    pool.parallel_for(T, kTokenGrain, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t)
        swiglu_backward_f32(&gate[t * F], &up[t * F], &ds[t * F], &dgate[t * F], &dup[t * F], F);
    });
    std::fill(dhn.begin(), dhn.end(), 0.0f);
    linear_backward(lay.layer(l, kWGate), hn.data(), dgate.data(), dhn.data());
    linear_backward(lay.layer(l, kWUp), hn.data(), dup.data(), dhn.data());
    dh = dres;
    rms_rows_backward(h.data(), lay.layer(l, kFfnNorm), dhn.data(), dh.data());

    std::fill(datt.begin(), datt.end(), 0.0f);
    linear_backward(lay.layer(l, kWo), att.data(), dh.data(), datt.data());
    std::fill(dk.begin(), dk.end(), 0.0f);
    std::fill(dv.begin(), dv.end(), 0.0f);
    const size_t n_kv = shape.n_head_kv;
    causal_attention_backward(pool, shape, ctx, T / ctx, q.data(), k.data(), v.data(), datt.data(), dq.data(),
                              dk.data(), dv.data());
    rope_rows(dq.data(), Q, shape.n_head, true);
    rope_rows(dk.data(), KV, n_kv, true);
    std::fill(dxn.begin(), dxn.end(), 0.0f);
    linear_backward(lay.layer(l, kWq), xn.data(), dq.data(), dxn.data());
    linear_backward(lay.layer(l, kWk), xn.data(), dk.data(), dxn.data());
    linear_backward(lay.layer(l, kWv), xn.data(), dv.data(), dxn.data());
    dres = dh;
    rms_rows_backward(x, lay.layer(l, kAttnNorm), dxn.data(), dres.data());
  }

  // The output head and cross-entropy of every position; with backward, the head's weight
  // gradient and d(loss)/d(last layer output) into dres.
  double head(float loss_scale, bool backward) {
    const float* xl = &inputs[lay.n_layers * T * H];
    rms_rows(xl, W(lay.output_norm()), xf.data());
    if (backward) std::fill(dxn.begin(), dxn.end(), 0.0f);
    const MatrixView m = view_of((*weights)[lay.output()]);
    for (size_t c0 = 0; c0 < T; c0 += kLogitChunk) {
      const size_t n = std::min(kLogitChunk, T - c0);
      product(m, &xf[c0 * H], n, logits.data());
      cross_entropy_rows(pool, logits.data(), n, V, &targets[c0], loss_scale, &token_loss[c0]);
      if (!backward) continue;
      input_grad(m, logits.data(), n, &dxn[c0 * H]);
      weight_grad(logits.data(), V, &xf[c0 * H], H, n, G(lay.output()), dlt.data());
    }
    if (backward) {
      std::fill(dres.begin(), dres.end(), 0.0f);
      rms_rows_backward(xl, lay.output_norm(), dxn.data(), dres.data());
    }
    double sum = 0;
    for (float x : token_loss) sum += x;
    return sum;
  }

  double run(std::span<const std::span<const int32_t>> windows, float loss_scale, const std::vector<TrainedTensor>& w,
             std::vector<std::vector<float>>* g) {
    check_weights(w, g);
    if (windows.empty()) return 0.0;
    weights = &w;
    grads = g;
    if (T != windows.size() * ctx) resize(windows.size());
    embed(windows);
    for (size_t l = 0; l < lay.n_layers; ++l) forward_layer(l, &inputs[l * T * H], &inputs[(l + 1) * T * H]);
    const double sum = head(loss_scale, g != nullptr);
    if (g) {
      for (size_t l = lay.n_layers; l-- > 0;) backward_layer(l);
      // The embedding lookup's gradient (after the head's, for tied embeddings).
      embedding_scatter_add_f32(tokens.data(), T, dres.data(), H, G(lay.embd()), H);
    }
    weights = nullptr;
    grads = nullptr;
    return sum;
  }

  LlamaConfig c;
  uint32_t ctx;
  ThreadPool& pool;
  WindowRope rope;
  FullLayout lay;
  size_t H = 0, Q = 0, KV = 0, F = 0, hd = 0, V = 0, T = 0;
  AttentionShape shape;
  const std::vector<TrainedTensor>* weights = nullptr;
  std::vector<std::vector<float>>* grads = nullptr;
  std::vector<int32_t> tokens, targets;
  std::vector<float> inputs, xn, q, k, v, att, proj, h, hn, gate, up, s, xf, logits, token_loss;
  std::vector<float> dres, dh, dxn, dhn, datt, dq, dk, dv, ds, dgate, dup, dyt, dlt, norm_partial;
  WeightProducts products;
};

FullForwardBackward::FullForwardBackward(const LlamaConfig& config, uint32_t ctx, ThreadPool& pool)
    : impl_(std::make_unique<Impl>(config, ctx, pool)) {}

FullForwardBackward::~FullForwardBackward() = default;

double FullForwardBackward::accumulate(std::span<const std::span<const int32_t>> windows, float loss_scale,
                                       const std::vector<TrainedTensor>& weights,
                                       std::vector<std::vector<float>>& grads) {
  return impl_->run(windows, loss_scale, weights, &grads);
}

double FullForwardBackward::loss(std::span<const std::span<const int32_t>> windows,
                                 const std::vector<TrainedTensor>& weights) {
  return impl_->run(windows, 1.0f, weights, nullptr);
}

}  // namespace lmforge
