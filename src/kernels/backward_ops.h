// The backward pass of the forward kernels (vec_ops.h, rope.h, attention.h, matmul.h) for
// training: each function takes the forward inputs and the gradient of the loss with respect to
// the forward output, and gives the gradients with respect to the inputs.
//
// Conventions: gradients named d<x> are ADDED to (dx += ...) where a forward input feeds more
// than one consumer in a llama graph (the residual stream, the cached keys and values), and
// written (=) where they are not (documented per function). Every SIMD form has a `_scalar` twin
// with the same contract and the same order of additions per output element (only FMA
// contraction differs), compared in tests/kernels/backward_ops_test.cpp; finite differences and
// a float64 PyTorch autograd oracle (tests/oracles/check_train_step.py) check the math itself.
//
// Nothing here depends on the thread count: a caller that splits the work into fixed tiles
// (independent of the number of threads) gets bit-identical results for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/interleaved.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// RMSNorm y = x / sqrt(mean(x^2) + eps) * w (rms_norm_f32), w frozen:
//   dx[i] += r w[i] dy[i] - x[i] r^3 / n * sum_j dy[j] w[j] x[j],   r = 1 / sqrt(mean(x^2) + eps).
void rms_norm_backward_f32(const float* x, const float* w, const float* dy, float* dx, size_t n, float eps);
void rms_norm_backward_f32_scalar(const float* x, const float* w, const float* dy, float* dx, size_t n, float eps);

// The gradient of RMSNorm's weight (full training): dw[i] += dy[i] * x[i] * r.
void rms_norm_weight_grad_f32(const float* x, const float* dy, float* dw, size_t n, float eps);

// RoPE backward: the rotation's transpose is the rotation by the opposite angle, so the gradient
// of rope_apply_f32's input is the output gradient rotated back, in place (cos/sin as
// rope_angles() wrote them). The twin is rope_norm_ref at position -pos.
void rope_unapply_f32(float* dx, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in);

// The same for NEOX rotation (rope_apply_neox_f32: pair i is (x[i], x[i + head_dim / 2]), Qwen2),
// whose pairs lie in two contiguous halves of a head, so it has a SIMD form; its twin is the
// same arithmetic in plain C++ (and rope_neox_ref at position -pos checks the math).
void rope_unapply_neox_f32(float* dx, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in);
void rope_unapply_neox_f32_scalar(float* dx, size_t n_heads, size_t head_dim, const float* cos_in,
                                  const float* sin_in);

// Attention backward for one query head (attention_head_f32's contract: q, k, v, shape, head,
// cells), given dout (the gradient of that query's output, all heads, n_head * head_dim):
//   p = softmax(scale q_h . k_c),   dp_c = dout_h . v_c,   ds_c = p_c (dp_c - sum_c' p_c' dp_c')
//   dq_h  = scale sum_c ds_c k_c             (written: head `head` of dq)
//   dk_c += scale ds_c q_h,  dv_c += p_c dout_h   (added, in the caller's key/value layout)
// scratch: 2 * cells.count floats.
void attention_head_backward_f32(const float* q, const float* k, const float* v, const AttentionShape& s,
                                 size_t head, CellSpan cells, const float* dout, float* scratch, float* dq, float* dk,
                                 float* dv);
void attention_head_backward_f32_scalar(const float* q, const float* k, const float* v, const AttentionShape& s,
                                        size_t head, CellSpan cells, const float* dout, float* scratch, float* dq,
                                        float* dk, float* dv);

// SwiGLU out = silu(g) * u backward (elementwise, plain C++: no SIMD form):
//   dg = dout * u * sigma(g) (1 + g (1 - sigma(g))),   du = dout * silu(g)   (written).
void swiglu_backward_f32(const float* g, const float* u, const float* dout, float* dg, float* du, size_t n);

// Cross-entropy of one position: returns -log softmax(logits)[target] (computed as
// logsumexp - logit, in double) and writes dlogits = scale * (softmax(logits) - onehot(target));
// dlogits may alias logits. target < n.
float cross_entropy_f32(const float* logits, size_t n, uint32_t target, float scale, float* dlogits);

// Embedding lookup backward: row tokens[t] of d_table (rows of `dim` floats) += dx[t], for t in
// order (a token repeated within the batch sums in position order).
void embedding_scatter_add_f32(const int32_t* tokens, size_t n_tokens, const float* dx, size_t ldx, float* d_table,
                               size_t dim);

// The product a frozen weight passes back: dx[t][c] += sum_r dy[t][r] * W[r][c] for columns
// c in [c0, c1) and tokens t < n_tokens (dy rows ldy apart, dx rows ldx apart). Rows of W are
// decoded to f32 exactly (decode_rows.h; the twin uses quant/type_traits.h decode_row) in panels
// of kTransposedPanelRows rows, and each element sums over r in increasing order. c0 and c1 must
// be multiples of transposed_tile_cols(w.type), or c1 == w.cols. `panel` is scratch for
// kTransposedPanelRows * (c1 - c0) floats.
// 64 rows x 128 columns of f32 is 32 KiB: the panel stays in L1 while every token passes over
// it, and each dx element is loaded and stored once per 64 rows.
inline constexpr size_t kTransposedPanelRows = 64;
size_t transposed_tile_cols(DType t);
void matmul_transposed_add(const MatrixView& w, const float* dy, size_t ldy, size_t n_tokens, float* dx, size_t ldx,
                           uint64_t c0, uint64_t c1, float* panel);
void matmul_transposed_add_scalar(const MatrixView& w, const float* dy, size_t ldy, size_t n_tokens, float* dx,
                                  size_t ldx, uint64_t c0, uint64_t c1, float* panel);

// The same product from the engine's regrouped copy of a Q8_0/Q4_0 weight (kernels/interleaved.h),
// which the forward pass reads: training then keeps the mapped pages the loader released out of
// memory. Bit-identical to matmul_transposed_add on the original matrix (the same bytes decode
// to the same floats, summed in the same order). c0 and c1 must be multiples of 32 (the blocks).
void matmul_transposed_add(const InterleavedMatrix& w, const float* dy, size_t ldy, size_t n_tokens, float* dx,
                           size_t ldx, uint64_t c0, uint64_t c1, float* panel);
void matmul_transposed_add_scalar(const InterleavedMatrix& w, const float* dy, size_t ldy, size_t n_tokens, float* dx,
                                  size_t ldx, uint64_t c0, uint64_t c1, float* panel);

// The panel product inside matmul_transposed_add: dx[t][c] += sum_{r < rows} dy[t][r] * panel[r][c]
// for c < width (panel rows `width` apart), summed over r in order for each element.
void panel_accumulate_f32(const float* panel, size_t rows, size_t width, const float* dy, size_t ldy, size_t n_tokens,
                          float* dx, size_t ldx);
void panel_accumulate_f32_scalar(const float* panel, size_t rows, size_t width, const float* dy, size_t ldy,
                                 size_t n_tokens, float* dx, size_t ldx);
// The same with panel rows ldp floats apart (a column strip of a wider matrix).
void panel_accumulate_strided_f32(const float* panel, size_t ldp, size_t rows, size_t width, const float* dy,
                                  size_t ldy, size_t n_tokens, float* dx, size_t ldx);
void panel_accumulate_strided_f32_scalar(const float* panel, size_t ldp, size_t rows, size_t width, const float* dy,
                                         size_t ldy, size_t n_tokens, float* dx, size_t ldx);

}  // namespace lmforge
