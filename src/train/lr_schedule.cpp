// LrSchedule::at, the learning rate of each optimizer step (declared in training_loop.h).
//
// Computed in double and rounded once to float, the way PyTorch's LambdaLR multiplies the
// base rate by the lambda in Python floats, so a reference computed there agrees to the ulp.
#include <cmath>
#include <numbers>

#include "train/training_loop.h"

namespace lmforge {

float LrSchedule::at(uint64_t step) const {
  const double base = lr;
  if (step < warmup) return static_cast<float>(base * (static_cast<double>(step + 1) / static_cast<double>(warmup)));
  if (kind == LrScheduleKind::kConstant || total_steps <= warmup) return lr;
  // Cosine over the steps after warmup: full rate at the first, towards 0 at the end.
  const double span = static_cast<double>(total_steps - warmup);
  double progress = static_cast<double>(step - warmup) / span;
  if (progress > 1.0) progress = 1.0;
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  if (min_lr_fraction == 0.0) return static_cast<float>(base * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
  return static_cast<float>(base * (min_lr_fraction + (1.0 - min_lr_fraction) * cosine));
}

}  // namespace lmforge
