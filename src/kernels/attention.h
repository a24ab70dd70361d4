// Scaled dot-product attention of one query token over cached keys and values, with grouped
// query heads (query head h reads KV head h / (n_head / n_head_kv)):
//   out_h = sum_c softmax_c(scale * q_h · k_c) v_c   over the cells c the query may see.
//
// Kernels know no model and no cache policy: the caller says where the keys and values are
// (a base pointer, a stride per cell) and which cells one query reads (a CellSpan, in the order
// the scores are summed). Which cells those are (causal mask, sequence ids) is the engine's
// business.
//
// Two forms with one contract: attention_ref sums in double (ops_ref.h), the specification;
// attention_head_f32 / attention_f32 use the Highway vector operations of vec_ops.h (float sums).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge {

// The cells one query attends to, `count` of them (at least 1): first .. first+count-1 when
// index is null — one sequence stored in order, the common case, read with no indirection per
// cell — or index[0 .. count) otherwise.
struct CellSpan {
  const uint32_t* index = nullptr;
  uint32_t first = 0;
  uint32_t count = 0;

  uint32_t operator[](size_t i) const { return index ? index[i] : first + static_cast<uint32_t>(i); }
};

// Head counts and the layout of the cached keys and values: KV head g of cell c starts at
// base + c * cell_stride + g * head_dim (base: the keys or the values of one layer).
struct AttentionShape {
  size_t n_head = 0;
  size_t n_head_kv = 0;  // divides n_head
  size_t head_dim = 0;
  size_t cell_stride = 0;  // floats from one cell to the next
  float scale = 0;         // multiplies q · k before the softmax (1 / sqrt(head_dim) for llama)
};

// All heads of one query: q and out hold n_head * head_dim floats; scores is scratch for
// cells.count floats.
void attention_ref(const float* q, const float* k, const float* v, const AttentionShape& s, CellSpan cells,
                   float* scores, float* out);
void attention_f32(const float* q, const float* k, const float* v, const AttentionShape& s, CellSpan cells,
                   float* scores, float* out);

// Query head `head` only (q and out as above; writes out's head `head`), so that a caller can
// split (token, head) pairs over threads.
void attention_head_f32(const float* q, const float* k, const float* v, const AttentionShape& s, size_t head,
                        CellSpan cells, float* scores, float* out);

}  // namespace lmforge
