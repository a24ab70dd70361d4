// Requantizing a dequantized row gives back the same bytes for the 32-element block types: their
// scale is a function of the block's extreme element, which dequantizes to exactly the extreme
// level again. ggml's K-quant quantizers do not have this property (their scale searches refit
// the decoded values and move 10-60% of super-blocks, measured on normal data with outliers), so
// they are not asserted here; their byte-exactness is checked against llama-quantize instead.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "quant/type_traits.h"

namespace lmforge {
namespace {

TEST(Requantize, BlockTypesOf32AreStableUnderDecodeEncode) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  const size_t n = 32 * 2048;
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  for (size_t i = 0; i < n; i += 997) x[i] *= 40;  // outliers
  size_t checked = 0;
  for (const TypeTraits& row : all_type_traits()) {
    if (row.encode == nullptr || row.block_size != 32) continue;
    std::vector<uint8_t> q(n / 32 * row.block_bytes), q2(q.size());
    std::vector<float> y(n);
    encode_row(row.type, x.data(), q.data(), n);
    decode_row(row.type, q.data(), y.data(), n);
    encode_row(row.type, y.data(), q2.data(), n);
    EXPECT_EQ(q, q2) << dtype_name(row.type);
    ++checked;
  }
  EXPECT_EQ(checked, 5u);  // Q8_0, Q4_0, Q4_1, Q5_0, Q5_1
}

}  // namespace
}  // namespace lmforge
