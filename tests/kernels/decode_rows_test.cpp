// The fast F16/BF16 row decoders (kernels/decode_rows.h) against the reference decoders of
// quant/: the same float bits for every 16-bit pattern (zeros, subnormals, the largest
// values, infinities, NaN payloads), in rows of several lengths, on every compiled target.
#include "kernels/decode_rows.h"

#include <cstring>
#include <vector>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;

std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}

void expect_same_floats(DType t, const uint8_t* in, size_t n) {
  std::vector<float> fast(n + 1, -7.0f), ref(n + 1, -7.0f);  // one float of slack past the end
  decode_row_fast(t, in, fast.data(), n);
  decode_row(t, in, ref.data(), n);
  ASSERT_EQ(bits_of(fast), bits_of(ref)) << dtype_name(t) << " n=" << n;
}

TEST(DecodeRowsTest, EveryBitPatternDecodesAsTheReference) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  // Finite f16 patterns only, so that the SIMD path (not the reference redo) decodes them.
  std::vector<uint16_t> finite;
  for (uint16_t h : all)
    if ((h & 0x7C00) != 0x7C00) finite.push_back(h);
  for_each_target([&](const std::string&) {
    for (DType t : {DType::F16, DType::BF16}) {
      EXPECT_TRUE(has_fast_decoder(t));
      // Rows of 1024 (every row of `all` with its specials, every row of `finite` without).
      for (size_t r = 0; r < 64; ++r) expect_same_floats(t, reinterpret_cast<const uint8_t*>(all.data() + 1024 * r), 1024);
      for (size_t r = 0; r + 1024 <= finite.size(); r += 1024)
        expect_same_floats(t, reinterpret_cast<const uint8_t*>(finite.data() + r), 1024);
      // Lengths that leave a tail shorter than a vector, at odd offsets.
      for (size_t n : {1u, 3u, 17u, 33u, 100u})
        expect_same_floats(t, reinterpret_cast<const uint8_t*>(finite.data() + 5), n);
    }
  });
  EXPECT_FALSE(has_fast_decoder(DType::Q8_0));
}

}  // namespace
}  // namespace lmforge
