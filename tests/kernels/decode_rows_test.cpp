// The fast row decoders (kernels/decode_rows.h) against the reference decoders of quant/, on
// every compiled target:
// - F16/BF16: the same float bits for every 16-bit pattern (zeros, subnormals, the largest
//   values, infinities, NaN payloads), in rows of several lengths;
// - every block type: 65536 random blocks whose f16 scale takes every bit pattern once (every
//   exponent, subnormals, both zeros, infinities and NaNs, which the fast decoders hand to the
//   reference) and whose min, where the type has one, takes every pattern too, in another
//   order; blocks whose code bytes are all 0x00 or all 0xFF (the extreme codes); the K-quants'
//   packed 6-bit (Q2_K: 4-bit, Q6_K: 8-bit) group scales and mins in every value at every group
//   (checked below, not assumed); whole rows, single blocks, and unaligned input.
#include "kernels/decode_rows.h"

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kquant_blocks.h"
#include "quant/type_traits.h"

namespace lmforge {
namespace {

using test::for_each_target;

std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}

// The fast and reference decodes of one row, compared bit for bit (and the float past the end
// left alone); a failure names the first differing element.
void expect_same_floats(DType t, const uint8_t* in, size_t n) {
  std::vector<float> fast(n + 1, -7.0f), ref(n + 1, -7.0f);  // one float of slack past the end
  decode_row_fast(t, in, fast.data(), n);
  decode_row(t, in, ref.data(), n);
  const std::vector<uint32_t> f = bits_of(fast), r = bits_of(ref);
  for (size_t i = 0; i <= n; ++i) {
    ASSERT_EQ(f[i], r[i]) << dtype_name(t) << " n=" << n << ": element " << i << " is " << fast[i]
                          << ", the reference gives " << ref[i];
  }
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
}

// Where each block type keeps its f16 scale d and (if any) its f16 min.
struct ScaleFields {
  DType type;
  size_t d;
  int min;  // -1: none
};
constexpr ScaleFields kBlockTypes[] = {
    {DType::Q8_0, 0, -1}, {DType::Q4_0, 0, -1}, {DType::Q4_1, 0, 2},  {DType::Q5_0, 0, -1},
    {DType::Q5_1, 0, 2},  {DType::Q2_K, 80, 82}, {DType::Q3_K, 108, -1}, {DType::Q4_K, 0, 2},
    {DType::Q5_K, 0, 2},  {DType::Q6_K, 208, -1},
};

constexpr size_t kBlocks = 65536;

// kBlocks random blocks of `f.type`, stored one byte past a 64-byte boundary: block i has d = i
// (as f16 bits) and min = i * 40503 mod 2^16 (an odd multiplier: every pattern once, in another
// order); every 97th block has all other bytes 0xFF, every 89th all 0x00.
std::vector<uint8_t> random_blocks(const ScaleFields& f, uint8_t*& first) {
  const size_t bb = type_traits(f.type)->block_bytes;
  std::vector<uint8_t> storage(kBlocks * bb + 128);
  first = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64 + 1;
  std::mt19937 rng(static_cast<uint32_t>(f.type) + 1);
  for (size_t i = 0; i < kBlocks; ++i) {
    uint8_t* b = first + i * bb;
    for (size_t k = 0; k < bb; ++k) b[k] = static_cast<uint8_t>(rng());
    if (i % 97 == 3) std::memset(b, 0xFF, bb);
    if (i % 89 == 5) std::memset(b, 0x00, bb);
    const auto d = static_cast<uint16_t>(i), m = static_cast<uint16_t>(i * 40503u);
    std::memcpy(b + f.d, &d, 2);
    if (f.min >= 0) std::memcpy(b + f.min, &m, 2);
  }
  return storage;
}

// For the K-quants: every group's packed scale (and min) takes every value somewhere in the
// blocks, so that each unpacking path of the fast decoders is compared on all of them.
void expect_every_group_scale_value(DType t, const uint8_t* blocks) {
  const size_t bb = type_traits(t)->block_bytes;
  std::vector<std::set<int>> seen(32);  // groups' scales, then mins
  for (size_t i = 0; i < kBlocks; ++i) {
    const uint8_t* b = blocks + i * bb;
    switch (t) {
      case DType::Q2_K:
        for (int g = 0; g < 16; ++g) seen[g].insert(b[g] & 0xF), seen[16 + g].insert(b[g] >> 4);
        break;
      case DType::Q3_K: {
        int8_t sc[16];
        unpack_scales_q3_k(b + 96, sc);
        for (int g = 0; g < 16; ++g) seen[g].insert(sc[g]);
        break;
      }
      case DType::Q4_K:
      case DType::Q5_K: {
        uint8_t sc[8], mn[8];
        unpack_scales_mins_k4(b + 4, sc, mn);
        for (int g = 0; g < 8; ++g) seen[g].insert(sc[g]), seen[16 + g].insert(mn[g]);
        break;
      }
      case DType::Q6_K:
        for (int g = 0; g < 16; ++g) seen[g].insert(static_cast<int8_t>(b[192 + g]));
        break;
      default: return;
    }
  }
  const size_t scale_values = t == DType::Q2_K ? 16 : t == DType::Q6_K ? 256 : 64;
  const size_t groups = t == DType::Q4_K || t == DType::Q5_K ? 8 : 16;
  const bool has_min = t == DType::Q2_K || t == DType::Q4_K || t == DType::Q5_K;
  for (size_t g = 0; g < groups; ++g) {
    EXPECT_EQ(seen[g].size(), scale_values) << dtype_name(t) << " group " << g;
    if (has_min) {
      EXPECT_EQ(seen[16 + g].size(), t == DType::Q2_K ? 16u : 64u) << dtype_name(t) << " group " << g;
    }
  }
}

TEST(DecodeRowsTest, EveryBlockTypeDecodesAsTheReference) {
  for (const ScaleFields& f : kBlockTypes) {
    SCOPED_TRACE(dtype_name(f.type));
    uint8_t* blocks = nullptr;
    const std::vector<uint8_t> storage = random_blocks(f, blocks);
    expect_every_group_scale_value(f.type, blocks);
    const size_t bs = type_traits(f.type)->block_size, bb = type_traits(f.type)->block_bytes;
    for_each_target([&](const std::string&) {
      EXPECT_TRUE(has_fast_decoder(f.type));
      // Every block, as rows of 8192 elements, then as single blocks and rows of 3 blocks at
      // the start (n = 0 too: nothing written).
      const size_t per_row = 8192 / bs;
      for (size_t i = 0; i < kBlocks && !HasFailure(); i += per_row)
        expect_same_floats(f.type, blocks + i * bb, per_row * bs);
      for (size_t i = 0; i < 300 && !HasFailure(); ++i) expect_same_floats(f.type, blocks + i * bb, bs);
      for (size_t i = 0; i < 300 && !HasFailure(); i += 3) expect_same_floats(f.type, blocks + i * bb, 3 * bs);
      expect_same_floats(f.type, blocks, 0);
    });
  }
}

}  // namespace
}  // namespace lmforge
