// Log-probabilities of a drawn token and of its most likely alternatives, from the model's raw
// logits (log-softmax before any sampler stage), as OpenAI's `logprobs` / `top_logprobs`
// report them. The scheduler fills one per drawn token when a request asks for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lmforge {

struct TokenLogprob;

// log softmax(logits)[id], and in `top` the k most likely tokens (ties: lower id first), most
// likely first; `top` is resized to min(k, logits.size()). Sums in double around the maximum.
// `id` must index `logits`.
float token_logprobs(std::span<const float> logits, int32_t id, size_t k, std::vector<TokenLogprob>& top);

}  // namespace lmforge
