// The benchmark statistics (core/stats.h) against values worked out by hand.
#include "core/stats.h"

#include <gtest/gtest.h>

#include <vector>

namespace lmforge {
namespace {

TEST(Summarize, MedianExtremesAndSampleStddev) {
  const std::vector<double> odd = {5, 1, 3};
  const Summary s = summarize(odd);
  EXPECT_EQ(s.median, 3);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 5);
  EXPECT_NEAR(s.stddev, 2.0, 1e-12);  // deviations -2, 0, 2: sqrt(8 / 2)
  const std::vector<double> even = {4, 1, 2, 3};
  EXPECT_EQ(summarize(even).median, 2.5);
  const std::vector<double> one = {7};
  EXPECT_EQ(summarize(one).stddev, 0);
  EXPECT_EQ(summarize(std::vector<double>{}).n, 0u);
}

}  // namespace
}  // namespace lmforge
