// Bidirectional attention of a whole sequence at once, one head at a time, as two matrix
// products (for encoders such as BERT, where every token of a text attends to every token of
// the same text):
//   S = scale * Q_h K_h^T   (count x count),  P = softmax of each row of S,  O_h = P V_h.
// Per query, attention_head_f32 (attention.h) reads every key and value once per query with
// vector dot products and axpys; here both products go through matmul_packed (matmul.h), whose
// register tiles reuse each loaded key, value and query across several rows and queries, which
// is what makes the encoder's attention compute-bound instead of load-bound (it was a third of
// a BERT-base pass at ~300 tokens per text).
//
// No new SIMD code: the products are the F32 kernels of matmul.h and the softmax vec_ops.h's,
// each with its own scalar twin. The contract is attention_ref's (attention.h) for every query
// of the sequence over cells first .. first + count - 1, with n_head_kv == n_head.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"

namespace lmforge {

// Scratch one thread reuses from call to call (grows to the longest sequence seen).
struct SequenceAttentionScratch {
  PackedActivations queries;   // Q_h of the sequence, then P
  std::vector<float> scores;   // S and P, count x count
  std::vector<float> values_t; // V_h transposed: head_dim x count
};

// Writes head `head` of out[t * s.cell_stride ...] for every token t in [first, first + count):
// q, k, v and out are token-major with s.cell_stride floats per token (the head at
// head * head_dim). s.n_head_kv must equal s.n_head; count >= 1.
void sequence_attention_head_f32(const float* q, const float* k, const float* v, const AttentionShape& s,
                                 size_t head, uint32_t first, uint32_t count, SequenceAttentionScratch& scratch,
                                 float* out);

}  // namespace lmforge
