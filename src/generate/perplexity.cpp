#include "generate/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "engine/llama_forward.h"
#include "tokenizer/tokenizer.h"

namespace lmforge {

PerplexityInput perplexity_input(const Tokenizer& tok, std::string_view text) {
  const bool add_bos = tok.add_bos() && tok.bos_id() >= 0;
  return {tok.encode(text, add_bos, false), add_bos ? tok.bos_id() : -1};
}

double token_nll(std::span<const float> logits, int32_t target) {
  if (target < 0 || static_cast<size_t>(target) >= logits.size())
    throw Error("<perplexity>", "target token " + std::to_string(target) + " is outside the vocabulary");
  float max_logit = logits[0];
  for (float v : logits) max_logit = std::max(max_logit, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_logit);
  return static_cast<double>(max_logit) + std::log(sum) - static_cast<double>(logits[target]);
}

double NllAccumulator::ppl() const { return std::exp(mean()); }

double NllAccumulator::ppl_error() const {
  if (count_ < 2) return 0;
  const double n = static_cast<double>(count_);
  const double mean_nll = sum_ / n;
  const double variance = sum_sq_ / n - mean_nll * mean_nll;  // population variance, as llama.cpp
  if (!(variance > 0)) return 0;
  return std::sqrt(variance / (n - 1)) * ppl();
}

PerplexityPlan plan_perplexity(size_t n_tokens, uint32_t n_ctx) {
  if (n_ctx < 8) throw UsageError("perplexity: -c must be at least 8, got " + std::to_string(n_ctx));
  if (n_tokens < 2 * static_cast<size_t>(n_ctx))
    throw UsageError("perplexity: the text has " + std::to_string(n_tokens) + " tokens; a context of " +
                     std::to_string(n_ctx) + " needs at least " + std::to_string(2 * static_cast<size_t>(n_ctx)) +
                     " (two chunks); use a longer text or a smaller -c");
  PerplexityPlan plan;
  plan.n_ctx = n_ctx;
  plan.n_chunks = n_tokens / n_ctx;
  plan.first = n_ctx / 2;
  return plan;
}

void score_chunk(LlamaContext& ctx, std::span<const int32_t> chunk, uint32_t first, uint32_t n_batch,
                 const ScoredRowSink& on_row) {
  const auto n_ctx = static_cast<uint32_t>(chunk.size());
  if (n_batch == 0 || n_batch > n_ctx) n_batch = n_ctx;
  ctx.reset();
  // Logits of chunk positions [first, n_ctx - 1): only the pieces that reach them ask for
  // every position's logits.
  for (uint32_t at = 0; at < n_ctx; at += n_batch) {
    const uint32_t n = std::min(n_batch, n_ctx - at);
    const bool scored = at + n > first;
    const std::vector<float> logits = ctx.eval(chunk.subspan(at, n), scored);
    if (!scored) continue;
    const size_t n_vocab = logits.size() / n;
    for (uint32_t k = 0; k < n; ++k) {
      const uint32_t j = at + k;
      if (j < first || j + 1 >= n_ctx) continue;
      on_row(std::span<const float>(logits.data() + k * n_vocab, n_vocab), chunk[j + 1]);
    }
  }
}

PerplexityResult compute_perplexity(LlamaContext& ctx, std::span<const int32_t> tokens, int32_t bos_id, uint32_t n_ctx,
                                    uint32_t n_batch, const std::function<void(size_t, double)>& on_chunk,
                                    const ScoredRowSink& on_row) {
  PerplexityResult result;
  result.plan = plan_perplexity(tokens.size(), n_ctx);
  const PerplexityPlan& plan = result.plan;
  if (ctx.n_ctx() < n_ctx)
    throw UsageError("perplexity: the context holds " + std::to_string(ctx.n_ctx()) + " positions, fewer than " +
                     std::to_string(n_ctx));

  NllAccumulator acc;
  std::vector<int32_t> chunk(n_ctx);
  for (size_t c = 0; c < plan.n_chunks; ++c) {
    const auto begin = tokens.begin() + static_cast<std::ptrdiff_t>(c * n_ctx);
    std::copy(begin, begin + n_ctx, chunk.begin());
    if (bos_id >= 0) chunk[0] = bos_id;
    score_chunk(ctx, chunk, plan.first, n_batch, [&](std::span<const float> logits, int32_t target) {
      acc.add(token_nll(logits, target));
      if (on_row) on_row(logits, target);
    });
    result.running_ppl.push_back(acc.ppl());
    if (on_chunk) on_chunk(c, acc.ppl());
  }
  result.ppl = acc.ppl();
  result.ppl_error = acc.ppl_error();
  result.mean_nll = acc.mean();
  result.tokens_scored = acc.count();
  return result;
}

}  // namespace lmforge
