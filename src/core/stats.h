// Summary statistics of repeated timings, for `lmforge bench`.
#pragma once

#include <span>

namespace lmforge {

struct Summary {
  double median = 0, min = 0, max = 0;
  double stddev = 0;  // sample standard deviation (n - 1); 0 for fewer than two values
  size_t n = 0;
};

// Median (mean of the two middle values for an even count), extremes and spread of `values`;
// all zero when there are none.
Summary summarize(std::span<const double> values);

}  // namespace lmforge
