#include "convert/tensor_cast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

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

// cast_rows is the row codecs of quant/type_traits.h applied row by row: its output is the
// same bytes as decode_row then encode_row, for every pair of codec types (quantized to
// quantized included), and also when the rows are split over threads.
TEST(TensorCast, EqualsTheRowCodecsForEveryPairOfTypes) {
  // Rows of 256: whole blocks of every type, K-quant super-blocks included.
  for (const uint64_t rows : {uint64_t{2}, uint64_t{(1u << 20) / 256 + 3}}) {  // the second is threaded
    const uint64_t row_len = 256;
    std::vector<float> v(rows * row_len);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i)) * 3.0f;
    for (const TypeTraits& from : all_type_traits()) {
      if (from.encode == nullptr) continue;  // the source is built by encoding v
      std::vector<uint8_t> in(*dtype_nbytes(from.type, v.size()));
      encode_row(from.type, v.data(), in.data(), v.size());
      const TensorBytes src{std::vector<uint8_t>(in)};
      for (const TypeTraits& to : all_type_traits()) {
        if (to.encode == nullptr || to.type == from.type) continue;
        const TensorBytes out = cast_rows(src, from.type, to.type, rows, row_len, {}, "t");
        std::vector<float> f(v.size());
        decode_row(from.type, in.data(), f.data(), v.size());
        std::vector<uint8_t> expect(*dtype_nbytes(to.type, v.size()));
        encode_row(to.type, f.data(), expect.data(), v.size());
        ASSERT_EQ(out.size(), expect.size()) << dtype_name(from.type) << " -> " << dtype_name(to.type);
        EXPECT_EQ(std::memcmp(out.data(), expect.data(), expect.size()), 0) << dtype_name(from.type) << " -> " << dtype_name(to.type);
      }
    }
  }
}

}  // namespace
}  // namespace lmforge
