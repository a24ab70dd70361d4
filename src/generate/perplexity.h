// Perplexity of a text under a model, by llama.cpp's method (its `llama-perplexity` default,
// so that numbers from the two programs can be compared directly):
//
//   - the whole text is tokenized once, with BOS when the vocabulary adds one;
//   - it needs at least 2 * n_ctx tokens; it is cut into floor(n_tokens / n_ctx)
//     non-overlapping chunks of n_ctx tokens, and the remainder is not used;
//   - each chunk is evaluated from an empty KV cache with its first token replaced by BOS;
//   - only the second half of each chunk is scored, so every scored token has at least
//     n_ctx/2 tokens of context: with first = n_ctx/2, the logits at chunk positions
//     j = first .. n_ctx-2 predict the tokens at j+1, i.e. n_ctx - 1 - first tokens per chunk;
//   - ppl = exp(mean NLL) over every scored token so far (printed after each chunk), and the
//     error is the standard error of the mean NLL, sqrt((E[nll^2] - E[nll]^2) / (count - 1)),
//     carried through exp to first order: ppl_error = ppl * that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace lmforge {

class LlamaContext;
class Tokenizer;

// A text as the method scores it: tokenized once, with BOS when the vocabulary adds one;
// `bos_id` is the token each chunk starts with (-1: the chunks keep their first token).
struct PerplexityInput {
  std::vector<int32_t> tokens;
  int32_t bos_id = -1;
};
PerplexityInput perplexity_input(const Tokenizer& tok, std::string_view text);

// -log softmax(logits)[target], computed as logsumexp(logits) - logits[target] around the
// maximum, the exponentials summed in double. Requires 0 <= target < logits.size().
double token_nll(std::span<const float> logits, int32_t target);

// Running mean of negative log-likelihoods and what perplexity makes of it.
class NllAccumulator {
 public:
  void add(double nll) {
    sum_ += nll;
    sum_sq_ += nll * nll;
    ++count_;
  }
  size_t count() const { return count_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double ppl() const;
  // Standard error of the mean NLL times ppl; 0 with fewer than two values or no spread.
  double ppl_error() const;

 private:
  double sum_ = 0, sum_sq_ = 0;
  size_t count_ = 0;
};

// How a text of n_tokens is cut into chunks; refuses (UsageError) what llama.cpp refuses.
struct PerplexityPlan {
  uint32_t n_ctx = 0;
  size_t n_chunks = 0;
  uint32_t first = 0;  // chunk position of the first logits row that is scored
  size_t scored_per_chunk() const { return n_ctx - 1 - first; }
};
PerplexityPlan plan_perplexity(size_t n_tokens, uint32_t n_ctx);

struct PerplexityResult {
  PerplexityPlan plan;
  double ppl = 0, ppl_error = 0, mean_nll = 0;
  size_t tokens_scored = 0;
  std::vector<double> running_ppl;  // after each chunk
};

// Receives each scored position's logits (n_vocab floats) and the token that follows it, in
// text order.
using ScoredRowSink = std::function<void(std::span<const float> logits, int32_t target)>;

// Evaluates one chunk from an empty cache (`chunk`: n_ctx tokens, its first already replaced by
// BOS where the method does that), `n_batch` tokens at a time (0: all at once), and hands the
// logits of chunk positions first .. n_ctx-2 to `on_row` with the token after each.
void score_chunk(LlamaContext& ctx, std::span<const int32_t> chunk, uint32_t first, uint32_t n_batch,
                 const ScoredRowSink& on_row);

// Scores `tokens` (the tokenized text, BOS included) with `ctx`, whose context must hold n_ctx
// positions. `bos_id` < 0: the chunks keep their first token. Each chunk is evaluated `n_batch`
// tokens at a time (0: the whole chunk at once). `on_chunk(i, running_ppl)` is called after
// chunk i (0-based), e.g. to print progress; `on_row`, when given, sees every scored row (the
// KL-divergence base file is written from it).
PerplexityResult compute_perplexity(LlamaContext& ctx, std::span<const int32_t> tokens, int32_t bos_id, uint32_t n_ctx,
                                    uint32_t n_batch,
                                    const std::function<void(size_t, double)>& on_chunk = {},
                                    const ScoredRowSink& on_row = {});

}  // namespace lmforge
