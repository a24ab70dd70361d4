#include "generate/token_logprobs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "generate/batch_scheduler.h"

namespace lmforge {

float token_logprobs(std::span<const float> logits, int32_t id, size_t k, std::vector<TokenLogprob>& top) {
  top.clear();
  if (logits.empty()) return 0.0f;
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double log_norm = static_cast<double>(max) + std::log(sum);
  const auto logprob = [&](size_t i) { return static_cast<float>(static_cast<double>(logits[i]) - log_norm); };

  k = std::min(k, logits.size());
  if (k > 0) {
    // Indices of the k largest logits; partial_sort keeps it O(n log k) on a 32k vocabulary.
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), [&](int32_t a, int32_t b) {
      return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
             (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
    });
    top.reserve(k);
    for (size_t i = 0; i < k; ++i) top.push_back(TokenLogprob{order[i], logprob(static_cast<size_t>(order[i]))});
  }
  return logprob(static_cast<size_t>(id));
}

}  // namespace lmforge
