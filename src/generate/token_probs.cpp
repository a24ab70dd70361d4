#include "generate/token_probs.h"

#include <algorithm>
#include <cmath>

namespace lmforge {

std::vector<TokenProbability> top_probabilities(std::span<const float> logits, size_t k) {
  if (logits.empty()) return {};
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  k = std::min(k, ids.size());
  const auto logit = [&](int32_t id) { return logits[static_cast<size_t>(id)]; };
  std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logit(a) != logit(b) ? logit(a) > logit(b) : a < b; });
  std::vector<TokenProbability> top;
  top.reserve(k);
  for (size_t i = 0; i < k; ++i) top.push_back({ids[i], std::exp(static_cast<double>(logit(ids[i])) - max) / sum});
  return top;
}

}  // namespace lmforge
