// The BERT encoder's forward pass (Hugging Face BertModel, post-LN), many texts at once:
//   x = LayerNorm(word[id] + position[p] + token_type[0])
//   per layer:  x = LayerNorm(x + Wo · attention(Wq x + bq, Wk x + bk, Wv x + bv) + bo)
//               x = LayerNorm(x + Wdown · gelu(Wup x + bup) + bdown)
// with exact (erf) GELU and bidirectional attention scaled by 1/sqrt(head_dim).
//
// Batching: the texts of one pass are laid end to end, token-major, with no padding tokens, so
// every weight matrix is streamed once per pass for all of them. The padding mask of a padded
// batch becomes a block-diagonal one: each query attends to exactly the keys of its own text
// (a CellSpan over that text's rows), which is what a padded batch with its mask computes,
// without the wasted rows. Products go through the SIMD kernels (kernels/matmul.h) split over a
// persistent thread pool by weight rows, F16 weights on AMX tiles when the CPU has them and the
// pass has enough tokens (kernels/amx_f16.h: F16 and F32 weights, float precision);
// LayerNorm, GELU and the embeddings by tokens; attention by (text, head), each pair as two
// matrix products over the text's rows (kernels/sequence_attention.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/bert_model.h"

namespace lmforge {

class BertEncoder {
 public:
  // `n_threads` 0: one per available core. `pass_tokens`: most tokens computed together (one
  // text longer than that still goes in a pass of its own).
  BertEncoder(const BertModel& model, uint32_t n_threads = 0, size_t pass_tokens = 2048);
  ~BertEncoder();

  // The last layer's hidden states of every token of every sequence (ids as the model is fed
  // them, [CLS] ... [SEP]), sequences one after the other, token-major: hidden_size floats per
  // token. Throws lmforge::Error on an empty sequence, one longer than
  // max_position_embeddings, or an id outside the vocabulary, before computing anything.
  std::vector<float> encode(std::span<const std::vector<int32_t>> sequences);

  const BertModel& model() const { return model_; }
  uint32_t n_threads() const;

 private:
  class Impl;
  const BertModel& model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmforge
