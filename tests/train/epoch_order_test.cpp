#include "train/epoch_order.h"

#include <gtest/gtest.h>

#include "train/train_rng.h"

namespace lmforge {
namespace {

TEST(EpochOrder, FileOrderWithoutShuffle) {
  EXPECT_EQ(epoch_order(5, false, 123, 0), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(epoch_order(5, false, 123, 7), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
}

TEST(EpochOrder, ShuffledAnewEachEpochFromTheSeed) {
  const auto e0 = epoch_order(50, true, 9, 0);
  const auto e1 = epoch_order(50, true, 9, 1);
  EXPECT_EQ(e0, shuffled_order(50, mix_seed(9, 0)));
  EXPECT_EQ(e1, shuffled_order(50, mix_seed(9, 1)));
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, epoch_order(50, true, 10, 0));
  EXPECT_EQ(e0, epoch_order(50, true, 9, 0));
}

}  // namespace
}  // namespace lmforge
