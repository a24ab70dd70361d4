#include "train/epoch_order.h"

#include "train/train_rng.h"

namespace lmforge {

std::vector<uint32_t> epoch_order(uint32_t n_windows, bool shuffle, uint64_t seed, uint64_t epoch) {
  if (shuffle) return shuffled_order(n_windows, mix_seed(seed, epoch));
  std::vector<uint32_t> order(n_windows);
  for (uint32_t i = 0; i < n_windows; ++i) order[i] = i;
  return order;
}

}  // namespace lmforge
