#include <bit>
#include <cmath>

#include <gtest/gtest.h>

#include "train/training_loop.h"

namespace lmforge {
namespace {

// The expected rates are PyTorch's: torch.optim.lr_scheduler.LambdaLR over SGD(lr=base) with
//   lambda s: (s + 1) / warmup if s < warmup
//             else 1 if constant or total <= warmup
//             else 0.5 * (1 + math.cos(math.pi * min(1, (s - warmup) / (total - warmup))))
// reading param_groups[0]['lr'] before each step, with base = float32(2e-4) (or 1e-3) as a
// Python float, each rate then rounded to float32 (torch 2.x, Debian python3-torch).
std::vector<float> schedule_values(float lr, uint64_t warmup, LrScheduleKind kind, uint64_t total, uint64_t steps) {
  const LrSchedule s{lr, warmup, kind, total};
  std::vector<float> out;
  for (uint64_t i = 0; i < steps; ++i) out.push_back(s.at(i));
  return out;
}

TEST(LrSchedule, CosineWithoutWarmupMatchesPyTorch) {
  const std::vector<float> torch = {0x1.a36e2ep-13f, 0x1.992a8cp-13f, 0x1.7b60dcp-13f, 0x1.4cfb92p-13f, 0x1.128550p-13f,
                                    0x1.a36e2ep-14f, 0x1.21d1bcp-14f, 0x1.59ca70p-15f, 0x1.406a94p-16f, 0x1.487444p-18f};
  EXPECT_EQ(schedule_values(2e-4f, 0, LrScheduleKind::kCosine, 10, 10), torch);
}

TEST(LrSchedule, CosineAfterWarmupMatchesPyTorch) {
  const std::vector<float> torch = {0x1.179ecap-14f, 0x1.179ecap-13f, 0x1.a36e2ep-13f, 0x1.a36e2ep-13f, 0x1.8ea97cp-13f,
                                    0x1.547872p-13f, 0x1.006198p-13f, 0x1.46192ep-14f, 0x1.3bd6f2p-15f, 0x1.4c4b18p-17f};
  EXPECT_EQ(schedule_values(2e-4f, 3, LrScheduleKind::kCosine, 10, 10), torch);
  const std::vector<float> torch_1e3 = {0x1.0624dep-11f, 0x1.0624dep-10f, 0x1.0624dep-10f, 0x1.da3914p-11f,
                                        0x1.5726a6p-11f, 0x1.6a462cp-12f, 0x1.90853ap-14f};
  EXPECT_EQ(schedule_values(1e-3f, 2, LrScheduleKind::kCosine, 7, 7), torch_1e3);
}

TEST(LrSchedule, WarmupThenConstantMatchesPyTorch) {
  const std::vector<float> torch = {0x1.4f8b58p-15f, 0x1.4f8b58p-14f, 0x1.f75104p-14f, 0x1.4f8b58p-13f,
                                    0x1.a36e2ep-13f, 0x1.a36e2ep-13f, 0x1.a36e2ep-13f};
  EXPECT_EQ(schedule_values(2e-4f, 5, LrScheduleKind::kConstant, 0, 7), torch);
  // Cosine with no steps after warmup stays at the full rate.
  const std::vector<float> torch_short = {0x1.a36e2ep-15f, 0x1.a36e2ep-14f, 0x1.3a92a2p-13f,
                                          0x1.a36e2ep-13f, 0x1.a36e2ep-13f, 0x1.a36e2ep-13f};
  EXPECT_EQ(schedule_values(2e-4f, 4, LrScheduleKind::kCosine, 4, 6), torch_short);
}

TEST(LrSchedule, ConstantIsTheRateAndCosineNeverGoesBelowZero) {
  for (float v : schedule_values(3e-4f, 0, LrScheduleKind::kConstant, 5, 9)) EXPECT_EQ(v, 3e-4f);
  const LrSchedule cosine{1e-3f, 0, LrScheduleKind::kCosine, 4};
  EXPECT_EQ(cosine.at(4), 0.0f);  // past the end (a resumed run with more steps): clamped
  EXPECT_EQ(cosine.at(100), 0.0f);
}

}  // namespace
}  // namespace lmforge
