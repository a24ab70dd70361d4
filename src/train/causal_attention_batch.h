// Causal self-attention over a training micro-batch and its backward pass, shared by the LoRA
// pass (lora_forward_backward.cpp) and the full-weight pass (full_forward_backward.cpp): n_seq
// windows of ctx positions each, row i = sequence i / ctx at position i % ctx, every query
// attending to its own window's keys 0 .. its position (GQA by shape.n_head / n_head_kv).
//
// Threads: the forward pass splits by query row; the backward pass gives each (sequence, KV head)
// one unit that alone adds into that head's key and value gradients, over the queries in order,
// so results are bit-identical for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"

namespace lmforge {

class ThreadPool;

// out[i] = attention of query row i (rows of q and out are n_head * head_dim floats; of k and v,
// shape.cell_stride floats), after RoPE was applied to q and k.
void causal_attention_forward(ThreadPool& pool, const AttentionShape& shape, uint32_t ctx, size_t n_seq,
                              const float* q, const float* k, const float* v, float* out);

// Given dout (the gradient of out), writes dq and ADDS into dk and dv (the caller zeroes them).
void causal_attention_backward(ThreadPool& pool, const AttentionShape& shape, uint32_t ctx, size_t n_seq,
                               const float* q, const float* k, const float* v, const float* dout, float* dq,
                               float* dk, float* dv);

}  // namespace lmforge
