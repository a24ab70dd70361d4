#include "gptq/model_quantizer.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "engine/llama_model.h"
#include "gptq/blas.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

namespace {

const char* const kShort[kSlotCount] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
const char* const kHf[kSlotCount] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                     "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

const LlamaWeight& weight_of(const LlamaLayer& L, LinearSlot s) {
  switch (s) {
    case kSlotQ: return L.wq;
    case kSlotK: return L.wk;
    case kSlotV: return L.wv;
    case kSlotO: return L.wo;
    case kSlotGate: return L.w_gate;
    case kSlotUp: return L.w_up;
    default: return L.w_down;
  }
}

void check_finite(const std::vector<float>& v, const std::string& file, const std::string& tensor, uint64_t row_len) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      fail(file, "tensor " + tensor + " has a NaN or infinite value (row " + std::to_string(i / row_len) + ")");
}

// H = 2/n * (accumulated X^T X), full symmetric storage.
void finish_hessian(std::vector<float>& h, size_t n, uint32_t n_windows) {
  symmetrize_from_upper(h.data(), n);
  const float f = 2.0f / static_cast<float>(n_windows);
  for (float& v : h) v *= f;
}

}  // namespace

const char* slot_short_name(LinearSlot s) { return kShort[s]; }
const char* slot_hf_module(LinearSlot s) { return kHf[s]; }

ModelQuantizer::ModelQuantizer(const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows,
                               const ModelQuantizerOptions& options)
    : model_(model), opt_(options), pool_(options.threads ? options.threads : 1) {
  blas_set_threads(static_cast<int>(pool_.size()));
  n_windows_ = static_cast<uint32_t>(windows.size());
  seqlen_ = windows.empty() ? 0 : static_cast<uint32_t>(windows[0].size());
  const size_t hidden = model.config().hidden_size;
  const size_t qdim = size_t{model.config().num_attention_heads} * model.config().head_dim;
  const size_t tokens = size_t{n_windows_} * seqlen_;
  x_.resize(tokens * hidden);
  y_.resize(tokens * hidden);
  a_.resize(tokens * qdim);
  std::vector<float> row(hidden);
  for (size_t w = 0; w < n_windows_; ++w)
    for (size_t t = 0; t < seqlen_; ++t) {
      const int32_t id = windows[w][t];
      if (id < 0 || static_cast<uint64_t>(id) >= model.tok_embd.m.rows)
        fail(model.path(), "calibration token " + std::to_string(id) + " is outside the embedding table");
      matrix_row_ref(model.tok_embd.m, static_cast<uint64_t>(id), &x_[(w * seqlen_ + t) * hidden]);
    }
  check_finite(x_, model.path(), model.tok_embd.name, hidden);
}

uint32_t ModelQuantizer::n_layers() const { return static_cast<uint32_t>(model_.layers.size()); }

DecoderLayerF32 ModelQuantizer::decode_layer(uint32_t l) const {
  const LlamaLayer& src = model_.layers[l];
  DecoderLayerF32 L;
  L.attn_norm = src.attn_norm;
  L.ffn_norm = src.ffn_norm;
  const std::string prefix = "blk." + std::to_string(l) + ".";
  check_finite(L.attn_norm, model_.path(), prefix + "attn_norm.weight", L.attn_norm.size());
  check_finite(L.ffn_norm, model_.path(), prefix + "ffn_norm.weight", L.ffn_norm.size());
  for (int s = 0; s < kSlotCount; ++s) {
    const LlamaWeight& w = weight_of(src, static_cast<LinearSlot>(s));
    const auto [rows, cols] = linear_shape(model_.config(), static_cast<LinearSlot>(s));
    if (w.m.rows != rows || w.m.cols != cols) fail(model_.path(), "tensor " + w.name + " does not have the shape of the config");
    std::vector<float>& out = L.w[s];
    out.resize(rows * cols);
    for (uint64_t r = 0; r < rows; ++r) matrix_row_ref(w.m, r, &out[r * cols]);
    check_finite(out, model_.path(), w.name, cols);
  }
  return L;
}

QuantizedMatrix ModelQuantizer::quantize_slot(DecoderLayerF32& L, LinearSlot s, const std::vector<float>& h,
                                              QuantizedLinearReport& rep) {
  const auto [rows, cols] = linear_shape(model_.config(), s);
  std::vector<float>& w = L.w[s];
  QuantizedMatrix q = opt_.rtn ? rtn_quantize(w.data(), rows, cols, opt_.settings, pool_)
                               : gptq_quantize(w.data(), rows, cols, h.data(), opt_.settings, pool_);
  rep.slot = s;
  rep.dead_columns = q.dead_columns;
  rep.relative_error = relative_reconstruction_error(w.data(), q.dequantized.data(), rows, cols, h.data());
  w = std::move(q.dequantized);  // the rest of the layer runs on the quantized weights
  q.dequantized = {};
  return q;
}

QuantizedLayer ModelQuantizer::next_layer() {
  const auto t0 = std::chrono::steady_clock::now();
  const LlamaConfig& c = model_.config();
  const uint32_t l = next_++;
  DecoderLayerF32 L = decode_layer(l);
  QuantizedLayer out;
  out.index = l;
  out.attn_norm = L.attn_norm;
  out.ffn_norm = L.ffn_norm;
  DecoderLayerForward fwd(c, seqlen_, pool_);
  const size_t hidden = c.hidden_size, qdim = size_t{c.num_attention_heads} * c.head_dim, ff = c.intermediate_size;
  const size_t per_window = size_t{seqlen_} * hidden, a_per_window = size_t{seqlen_} * qdim;
  std::vector<float> tmp(size_t{seqlen_} * std::max(hidden, ff));
  std::vector<float> h;
  auto quantize_group = [&](std::initializer_list<LinearSlot> slots) {
    for (LinearSlot s : slots) out.linears[s] = quantize_slot(L, s, h, out.reports[s]);
    h = {};
  };

  // [k, v, q]: input rms(x)
  h.assign(hidden * hidden, 0.0f);
  for (uint32_t w = 0; w < n_windows_; ++w) {
    fwd.attn_input(&x_[w * per_window], L, tmp.data());
    syrk_add_upper(hidden, seqlen_, tmp.data(), h.data());
  }
  finish_hessian(h, hidden, n_windows_);
  quantize_group({kSlotK, kSlotV, kSlotQ});

  // [o]: input attention(rms(x)) with the quantized q, k, v; kept for the residual below.
  h.assign(qdim * qdim, 0.0f);
  for (uint32_t w = 0; w < n_windows_; ++w) {
    fwd.attn_input(&x_[w * per_window], L, tmp.data());
    fwd.attention(tmp.data(), L, &a_[w * a_per_window]);
    syrk_add_upper(qdim, seqlen_, &a_[w * a_per_window], h.data());
  }
  finish_hessian(h, qdim, n_windows_);
  quantize_group({kSlotO});

  // [gate, up]: input rms(h), h = x + a Wo^T (kept in y_)
  h.assign(hidden * hidden, 0.0f);
  for (uint32_t w = 0; w < n_windows_; ++w) {
    float* y = &y_[w * per_window];
    std::copy(&x_[w * per_window], &x_[w * per_window] + per_window, y);
    gemm_nt(seqlen_, hidden, qdim, 1.0f, &a_[w * a_per_window], qdim, L.w[kSlotO].data(), qdim, 1.0f, y, hidden);
    fwd.ffn_input(y, L, tmp.data());
    syrk_add_upper(hidden, seqlen_, tmp.data(), h.data());
  }
  finish_hessian(h, hidden, n_windows_);
  quantize_group({kSlotUp, kSlotGate});

  // [down]: input swiglu(rms(h))
  std::vector<float> s(size_t{seqlen_} * ff);
  h.assign(ff * ff, 0.0f);
  for (uint32_t w = 0; w < n_windows_; ++w) {
    fwd.ffn_input(&y_[w * per_window], L, tmp.data());
    fwd.swiglu(tmp.data(), L, s.data());
    syrk_add_upper(ff, seqlen_, s.data(), h.data());
  }
  finish_hessian(h, ff, n_windows_);
  quantize_group({kSlotDown});

  // The layer's output with every weight quantized: y = h + swiglu(rms(h)) Wdown^T.
  for (uint32_t w = 0; w < n_windows_; ++w) {
    float* y = &y_[w * per_window];
    fwd.ffn_input(y, L, tmp.data());
    fwd.swiglu(tmp.data(), L, s.data());
    gemm_nt(seqlen_, hidden, ff, 1.0f, s.data(), ff, L.w[kSlotDown].data(), ff, 1.0f, y, hidden);
  }
  std::swap(x_, y_);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace lmforge
