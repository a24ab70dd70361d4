// The order in which an epoch visits the training windows: file order, or a permutation
// drawn from the user's seed and the epoch number, so that every epoch is shuffled anew and
// a resumed run rebuilds exactly the order the uninterrupted one used.
#pragma once

#include <cstdint>
#include <vector>

namespace lmforge {

// 0 .. n-1 in file order without `shuffle`, else shuffled_order(n, mix_seed(seed, epoch)).
std::vector<uint32_t> epoch_order(uint32_t n_windows, bool shuffle, uint64_t seed, uint64_t epoch);

}  // namespace lmforge
