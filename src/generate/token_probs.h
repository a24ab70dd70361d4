// The model's own next-token distribution, before any sampler stage (penalties, top-k/p,
// temperature) changes it: what `run --json --probs K` prints and what a server's logprobs
// report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lmforge {

struct TokenProbability {
  int32_t id;
  double p;
};

// The K most likely tokens (ties: lower id first) with p = softmax of the raw logits, computed
// in double around the maximum. Fewer than K when the vocabulary is smaller; none for no logits.
std::vector<TokenProbability> top_probabilities(std::span<const float> logits, size_t k);

}  // namespace lmforge
