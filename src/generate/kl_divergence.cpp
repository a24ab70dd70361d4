#include "generate/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "engine/llama_forward.h"
#include "generate/kld_base_file.h"
#include "generate/perplexity.h"

namespace lmforge {

namespace {

// Base log-probabilities at or below this are outside what the file resolves (16 nats below
// the top) and are left out of the sum, as llama.cpp leaves them out.
constexpr float kResolvedLogProb = -16.0f;

// Mean and standard error from a sum and a sum of squares; llama.cpp reports no error for ten
// values or fewer.
ValueWithError mean_and_error(double sum, double sum2, size_t count) {
  if (count < 1) return {};
  const double n = static_cast<double>(count);
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  return {mean, var > 0 && count > 10 ? std::sqrt(var / (n - 1)) : 0.0};
}

// Covariance of the two means, as llama.cpp estimates it (0 below ten values).
double covariance_of_means(double sum_a, double sum_b, double sum_ab, size_t count) {
  if (count < 10) return 0;
  const double n = static_cast<double>(count);
  return (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1);
}

std::vector<Percentile> percentiles(std::vector<float> values, const std::vector<double>& fractions) {
  std::sort(values.begin(), values.end());
  std::vector<Percentile> out;
  for (double f : fractions) out.push_back({f, percentile_of_sorted(values, f)});
  return out;
}

}  // namespace

const std::vector<double> kKldPercentileFractions = {1.0, 0.999, 0.99, 0.95, 0.90, 0.5,
                                                     0.10, 0.05, 0.01, 0.001, 0.0};
const std::vector<double> kPDiffPercentileFractions = {1.0, 0.999, 0.99, 0.95, 0.90, 0.75, 0.5,
                                                       0.25, 0.10, 0.05, 0.01, 0.001, 0.0};

double percentile_of_sorted(std::span<const float> sorted, double fraction) {
  if (sorted.empty()) return 0;
  const size_t n = sorted.size();
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  if (fraction == 0.5) return n % 2 ? sorted[n / 2] : 0.5 * (static_cast<double>(sorted[n / 2 - 1]) + sorted[n / 2]);
  const double at = fraction * static_cast<double>(n - 1);
  const auto i = static_cast<size_t>(at);
  const double t = at - static_cast<double>(i);
  return (1 - t) * sorted[i] + t * sorted[std::min(i + 1, n - 1)];
}

void KldAccumulator::add(std::span<const float> logits, std::span<const float> base_log_probs, int32_t target) {
  const size_t n_vocab = logits.size();
  if (n_vocab == 0 || base_log_probs.size() != n_vocab)
    throw Error("<kl-divergence>", std::to_string(n_vocab) + " logits against " +
                                       std::to_string(base_log_probs.size()) + " base log-probabilities");
  if (target < 0 || static_cast<size_t>(target) >= n_vocab)
    throw Error("<kl-divergence>", "target token " + std::to_string(target) + " is outside the vocabulary");
  // The model's log-softmax: ln Q_i = logits_i - log_norm. Its top token: the first maximum.
  size_t top = 0;
  for (size_t i = 1; i < n_vocab; ++i)
    if (logits[i] > logits[top]) top = i;
  const double max_logit = logits[top];
  double sum_exp = 0;
  for (float v : logits) sum_exp += std::exp(static_cast<double>(v) - max_logit);
  const double log_norm = max_logit + std::log(sum_exp);

  const double nll = log_norm - logits[target];
  const double nll_base = -static_cast<double>(base_log_probs[target]);
  sum_nll_ += nll;
  sum_nll2_ += nll * nll;
  sum_nll_base_ += nll_base;
  sum_nll_base2_ += nll_base * nll_base;
  sum_nll_nll_base_ += nll * nll_base;

  double kld = 0;
  size_t top_base = 0;
  for (size_t i = 0; i < n_vocab; ++i) {
    const float lp = base_log_probs[i];
    if (lp > base_log_probs[top_base]) top_base = i;
    if (lp > kResolvedLogProb) kld += std::exp(static_cast<double>(lp)) * (lp - (logits[i] - log_norm));
  }
  sum_kld_ += kld;
  sum_kld2_ += kld * kld;
  kld_values_.push_back(static_cast<float>(kld));
  if (top == top_base) ++same_top_;

  const double p_diff = std::exp(-nll) - std::exp(-nll_base);
  sum_p_diff_ += p_diff;
  sum_p_diff2_ += p_diff * p_diff;
  sum_p_diff4_ += p_diff * p_diff * p_diff * p_diff;
  p_diff_values_.push_back(static_cast<float>(p_diff));
  ++count_;
}

KldSummary KldAccumulator::summary(bool with_percentiles) const {
  KldSummary s;
  s.count = count_;
  if (count_ == 0) return s;
  const ValueWithError ln_ppl = mean_and_error(sum_nll_, sum_nll2_, count_);
  const ValueWithError ln_ppl_base = mean_and_error(sum_nll_base_, sum_nll_base2_, count_);
  const double cov = covariance_of_means(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
  s.ppl = {std::exp(ln_ppl.value), std::exp(ln_ppl.value) * ln_ppl.error};
  s.ppl_base = {std::exp(ln_ppl_base.value), std::exp(ln_ppl_base.value) * ln_ppl_base.error};
  const double denom = ln_ppl.error * ln_ppl_base.error;
  s.ln_ppl_correlation = denom > 0 ? cov / denom : 0;
  const double ratio_var = ln_ppl.error * ln_ppl.error + ln_ppl_base.error * ln_ppl_base.error - 2 * cov;
  s.ln_ppl_ratio = {ln_ppl.value - ln_ppl_base.value, std::sqrt(std::max(ratio_var, 0.0))};
  s.ppl_ratio = {std::exp(s.ln_ppl_ratio.value), std::exp(s.ln_ppl_ratio.value) * s.ln_ppl_ratio.error};
  const double ppl_cov = s.ppl.value * s.ppl_base.value * cov;
  const double diff_var = s.ppl.error * s.ppl.error + s.ppl_base.error * s.ppl_base.error - 2 * ppl_cov;
  s.ppl_diff = {s.ppl.value - s.ppl_base.value, std::sqrt(std::max(diff_var, 0.0))};

  s.kld = mean_and_error(sum_kld_, sum_kld2_, count_);
  s.p_diff = mean_and_error(sum_p_diff_, sum_p_diff2_, count_);
  const ValueWithError mse = mean_and_error(sum_p_diff2_, sum_p_diff4_, count_);
  const double rms = std::sqrt(mse.value);
  s.p_diff_rms = {rms, rms > 0 ? 0.5 / rms * mse.error : 0.0};
  const double n = static_cast<double>(count_);
  const double top = static_cast<double>(same_top_) / n;
  s.same_top = {top, count_ > 1 ? std::sqrt(top * (1 - top) / (n - 1)) : 0.0};
  if (with_percentiles) {
    s.kld_percentiles = percentiles(kld_values_, kKldPercentileFractions);
    s.p_diff_percentiles = percentiles(p_diff_values_, kPDiffPercentileFractions);
  }
  return s;
}

KldSummary compute_kl_divergence(LlamaContext& ctx, const KldBaseFile& base, int32_t bos_id, uint32_t n_batch,
                                 const std::function<void(size_t, const KldSummary&)>& on_chunk) {
  const uint32_t n_ctx = base.n_ctx();
  if (ctx.n_ctx() < n_ctx)
    throw UsageError("perplexity: the context holds " + std::to_string(ctx.n_ctx()) + " positions, fewer than " +
                     std::to_string(n_ctx));
  KldAccumulator acc;
  std::vector<int32_t> chunk(n_ctx);
  std::vector<float> base_row;
  uint64_t row = 0;
  for (size_t c = 0; c < base.n_chunks(); ++c) {
    const auto begin = base.tokens().begin() + static_cast<std::ptrdiff_t>(c * n_ctx);
    std::copy(begin, begin + n_ctx, chunk.begin());
    if (bos_id >= 0) chunk[0] = bos_id;
    score_chunk(ctx, chunk, n_ctx / 2, n_batch, [&](std::span<const float> logits, int32_t target) {
      base.decode_row(row++, base_row);
      acc.add(logits, base_row, target);
    });
    if (on_chunk) on_chunk(c, acc.summary(false));
  }
  return acc.summary(true);
}

}  // namespace lmforge
