#include "convert/tensor_cast.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "core/half.h"

namespace lmforge {
namespace {

TensorBytes floats(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return TensorBytes(std::move(b));
}

TEST(TensorCast, SameTypeWithoutReorderIsZeroCopy) {
  auto src = floats({1, 2, 3, 4});
  auto out = cast_rows(src, DType::F32, DType::F32, 2, 2, {}, "t");
  EXPECT_EQ(out.data(), src.data());
}

TEST(TensorCast, ConvertsAndReordersRows) {
  auto src = floats({1, 2, 3, 4, 5, 6});
  auto out = cast_rows(src, DType::F32, DType::F16, 3, 2, [](uint64_t r) { return 2 - r; }, "t");
  ASSERT_EQ(out.size(), 12u);
  uint16_t h[6];
  std::memcpy(h, out.data(), 12);
  EXPECT_EQ(fp16_to_fp32(h[0]), 5.0f);
  EXPECT_EQ(fp16_to_fp32(h[1]), 6.0f);
  EXPECT_EQ(fp16_to_fp32(h[4]), 1.0f);
}

TEST(TensorCast, RefusesWrongSizesAndPartialBlocks) {
  auto src = floats({1, 2, 3});
  EXPECT_THROW(cast_rows(src, DType::F32, DType::F16, 2, 2, {}, "t"), Error);
  auto row40 = floats(std::vector<float>(40, 1.0f));
  EXPECT_THROW(cast_rows(row40, DType::F32, DType::Q8_0, 1, 40, {}, "t"), Error);
  auto bytes = TensorBytes(std::vector<uint8_t>(8));
  EXPECT_THROW(cast_rows(bytes, DType::I64, DType::F32, 1, 1, {}, "t"), Error);
}

TEST(TensorCast, QuantizedRoundTripThroughBf16) {
  std::vector<float> v(64);
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>(i) / 8.0f - 4.0f;
  auto q = cast_rows(floats(v), DType::F32, DType::Q8_0, 2, 32, {}, "t");
  EXPECT_EQ(q.size(), 68u);
  auto back = cast_rows(q, DType::Q8_0, DType::BF16, 2, 32, {}, "t");
  EXPECT_EQ(back.size(), 128u);
  uint16_t h[64];
  std::memcpy(h, back.data(), 128);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(bf16_to_fp32(h[i]), v[i], 0.05f) << i;
}

}  // namespace
}  // namespace lmforge
