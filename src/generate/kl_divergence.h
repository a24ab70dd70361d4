// How far a model's next-token distributions are from a base model's on the same text: the
// statistics of llama.cpp's `llama-perplexity --kl-divergence`, so the numbers can be compared
// with its output line for line. Per scored position, with P the base distribution (decoded
// from the base file, src/generate/kld_base_file.h) and Q the model's:
//
//   - KLD = sum_i P_i (ln P_i - ln Q_i) over the tokens whose base log-probability is above -16
//     (those the base file resolves);
//   - nll = -ln Q(next token), nll_base = -ln P(next token): PPL(Q), PPL(base), their ratio
//     and difference, with uncertainties that use the covariance of the two;
//   - delta p = Q(next) - P(next);
//   - same top: the model's most likely token (first of equal maxima) is the base's.
//
// Means carry the standard error sqrt((E[x^2] - E[x]^2) / (n - 1)) (0 for n <= 10, as
// llama.cpp); percentiles interpolate linearly between sorted values at fraction * (n - 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace lmforge {

class KldBaseFile;
class LlamaContext;

struct ValueWithError {
  double value = 0, error = 0;
};

// A percentile of a distribution: fraction 1 is the maximum, 0.5 the median (mean of the two
// middle values for an even count), 0 the minimum.
struct Percentile {
  double fraction = 0, value = 0;
};

struct KldSummary {
  size_t count = 0;  // scored positions
  ValueWithError ppl, ppl_base, ln_ppl_ratio, ppl_ratio, ppl_diff;
  double ln_ppl_correlation = 0;  // of ln PPL(Q) and ln PPL(base), as a fraction
  ValueWithError kld;
  std::vector<Percentile> kld_percentiles;  // llama.cpp's: max, 99.9 % ... 0.1 %, min
  ValueWithError p_diff;                    // mean delta p, as a fraction
  std::vector<Percentile> p_diff_percentiles;
  ValueWithError p_diff_rms;
  ValueWithError same_top;  // share of positions, as a fraction
};

// Sums over scored positions; add() takes one position at a time.
class KldAccumulator {
 public:
  // `logits`: the model's; `base_log_probs`: the base distribution's (same length); `target`:
  // the token that follows.
  void add(std::span<const float> logits, std::span<const float> base_log_probs, int32_t target);
  size_t count() const { return count_; }
  // Everything llama.cpp prints at the end; the percentiles (a sort of every value) only when
  // asked and there is at least one position.
  KldSummary summary(bool with_percentiles = true) const;

 private:
  double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
  double sum_kld_ = 0, sum_kld2_ = 0, sum_p_diff_ = 0, sum_p_diff2_ = 0, sum_p_diff4_ = 0;
  size_t same_top_ = 0, count_ = 0;
  std::vector<float> kld_values_, p_diff_values_;
};

// The fractions llama.cpp prints, largest first.
extern const std::vector<double> kKldPercentileFractions;
extern const std::vector<double> kPDiffPercentileFractions;

// Value at `fraction` of `sorted` (ascending, non-empty), as llama.cpp interpolates.
double percentile_of_sorted(std::span<const float> sorted, double fraction);

// Runs `ctx`'s model over the base file's chunks (each from an empty cache, its first token
// replaced by `bos_id` when >= 0), `n_batch` tokens per evaluation (0: the whole chunk), and
// compares every scored position with the file's row. `on_chunk(i, running)` after chunk i.
KldSummary compute_kl_divergence(LlamaContext& ctx, const KldBaseFile& base, int32_t bos_id, uint32_t n_batch,
                                 const std::function<void(size_t, const KldSummary&)>& on_chunk = {});

}  // namespace lmforge
