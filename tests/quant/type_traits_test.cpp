// The type table, row by row: every test loops over all_type_traits(), so a new row (a K-quant)
// is checked by the same tests, and fails them until it has a known block and an error bound.
#include "quant/type_traits.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "core/error.h"
#include "quant/ggml_blocks.h"

namespace lmforge {
namespace {

const std::set<DType> kDecodable = {DType::F32,  DType::F16,  DType::BF16, DType::F64,
                                    DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                    DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                                    DType::Q5_K, DType::Q6_K};
const std::set<DType> kEncodable = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0,
                                    DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                    DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                                    DType::Q6_K};

std::vector<DType> all_dtypes() {
  std::vector<DType> v;
  for (size_t i = 0; i < static_cast<size_t>(DType::kCount); ++i)
    v.push_back(static_cast<DType>(i));
  return v;
}

// Bytes of `n` elements as the row says (whole blocks).
size_t row_bytes(const TypeTraits& row, size_t n) {
  return n / row.block_size * row.block_bytes;
}

// 512 test values (two 256-element super-blocks): spread normal values, a zero block and a
// block with an outlier, a ramp through zero, then normal values of a smaller spread.
std::vector<float> test_values() {
  std::vector<float> x(512);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.3f, 2.0f);
  for (size_t i = 0; i < 64; ++i) x[i] = nd(rng);
  for (size_t i = 64; i < 96; ++i) x[i] = 0.0f;
  for (size_t i = 96; i < 128; ++i) x[i] = 0.01f * static_cast<float>(i % 7) - 0.02f;
  x[100] = 40.0f;
  for (size_t i = 128; i < 192; ++i) x[i] = static_cast<float>(i) * 0.0625f - 10.0f;
  std::normal_distribution<float> small(-0.01f, 0.05f);
  for (size_t i = 192; i < 512; ++i) x[i] = small(rng);
  return x;
}

// How far a decoded value may be from the value encoded, given the block it was encoded in:
// half a quantization step plus the f16 rounding of the stored scale (2^-11 relative) times the
// largest quant it multiplies. nullopt for a type this test does not know yet.
std::optional<double> max_error(DType t, const float* block, size_t block_size, float x) {
  float amax = 0.0f, min = block[0], max = block[0];
  for (size_t j = 0; j < block_size; ++j) {
    amax = std::max(amax, std::fabs(block[j]));
    min = std::min(min, block[j]);
    max = std::max(max, block[j]);
  }
  const double f16_eps = 1.0 / 2048, slack = 1e-7;
  switch (t) {
    case DType::F32:
      return 0.0;
    case DType::F16:
      return std::fabs(x) * f16_eps + std::ldexp(1.0, -25);
    case DType::BF16:
      return std::fabs(x) / 256.0 + 1e-38;
    case DType::Q8_0: {
      const double d = amax / 127.0;  // q = round(x / d), |q| <= 127
      return (d * (0.5 + 127 * f16_eps)) * 1.001 + slack;
    }
    case DType::Q4_0: {
      // d = -max / 8: values map to [-8, 8]; +8 (the opposite extreme) is clamped to 7, a whole
      // step.
      const double d = amax / 8.0;
      return (d * (1.0 + 8 * f16_eps)) * 1.001 + slack;
    }
    case DType::Q4_1: {
      const double d = (static_cast<double>(max) - min) / 15.0;  // x = q * d + min, q in [0, 15]
      return (d * (0.5 + 15 * f16_eps) + std::fabs(min) * f16_eps) * 1.001 + slack;
    }
    case DType::Q5_0: {
      // As Q4_0 with 16 levels each side: d = amax / 16, +16 is clamped to 15, a whole step.
      const double d = amax / 16.0;
      return (d * (1.0 + 16 * f16_eps)) * 1.001 + slack;
    }
    case DType::Q5_1: {
      const double d = (static_cast<double>(max) - min) / 31.0;  // x = q * d + min, q in [0, 31]
      return (d * (0.5 + 31 * f16_eps) + std::fabs(min) * f16_eps) * 1.001 + slack;
    }
    default:
      return std::nullopt;
  }
}

// The same for a K-quant super-block of 256 values, for element i of it. Each group of
// group_size elements is fitted on its own (a step of its range over the quant levels, plus the
// clamping and search slack: a whole step, not half), and the group scales (and mins) are
// themselves rounded to scale_bits under one super-block scale, which moves a value by up to
// about the super-block's largest magnitude over 2^scale_bits. nullopt for a type this test
// does not know yet.
std::optional<double> kquant_max_error(DType t, const float* block, size_t i) {
  size_t group_size = 0;
  double levels = 0, scale_steps = 0;  // quant steps across a group's range; scale levels
  bool symmetric = true;               // x = d * q (a range of 2 * amax) or d * q - m
  switch (t) {
    case DType::Q6_K:
      group_size = 16, levels = 63, scale_steps = 127;
      break;
    case DType::Q5_K:
      group_size = 32, levels = 31, scale_steps = 63, symmetric = false;
      break;
    case DType::Q4_K:
      group_size = 32, levels = 15, scale_steps = 63, symmetric = false;
      break;
    case DType::Q3_K:
      group_size = 16, levels = 7, scale_steps = 31;
      break;
    case DType::Q2_K:
      group_size = 16, levels = 3, scale_steps = 15, symmetric = false;
      break;
    default:
      return std::nullopt;
  }
  double amax = 0, gmin = 0, gmax = 0;  // the range always includes 0
  for (size_t j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(static_cast<double>(block[j])));
  const size_t g0 = i / group_size * group_size;
  for (size_t j = g0; j < g0 + group_size; ++j) {
    gmin = std::min(gmin, static_cast<double>(block[j]));
    gmax = std::max(gmax, static_cast<double>(block[j]));
  }
  const double range = symmetric ? 2 * std::max(-gmin, gmax) : gmax - gmin;
  return range / levels + amax / scale_steps + 1e-7;
}

template <typename T>
void put(std::vector<uint8_t>& bytes, T v) {
  const size_t at = bytes.size();
  bytes.resize(at + sizeof(T));
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

struct KnownBlock {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

// Blocks built by hand from the format descriptions (ggml-common.h's block structs, IEEE
// binary16/bfloat16), with the values they hold.
std::map<DType, KnownBlock> known_blocks() {
  std::map<DType, KnownBlock> k;
  {
    auto& b = k[DType::F32];
    for (float v : {1.5f, -2.25f, 0.0f}) put(b.bytes, v);
    b.values = {1.5f, -2.25f, 0.0f};
  }
  {
    auto& b = k[DType::F16];
    for (uint16_t h : {0x3C00, 0xC000, 0x3555, 0x0001}) put<uint16_t>(b.bytes, h);
    b.values = {1.0f, -2.0f, 0.333251953125f, std::ldexp(1.0f, -24)};
  }
  {
    auto& b = k[DType::BF16];
    for (uint16_t h : {0x3F80, 0xC040, 0x4049}) put<uint16_t>(b.bytes, h);
    b.values = {1.0f, -3.0f, 3.140625f};
  }
  {
    auto& b = k[DType::F64];
    for (double v : {0.5, -3.25, 0.1}) put(b.bytes, v);
    b.values = {0.5f, -3.25f, 0.1f};
  }
  {
    auto& b = k[DType::Q8_0];  // d = 0.5; qs[j] = j - 16
    put<uint16_t>(b.bytes, 0x3800);
    for (int j = 0; j < 32; ++j) {
      b.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(j - 16)));
      b.values.push_back(static_cast<float>(j - 16) * 0.5f);
    }
  }
  {
    auto& b = k[DType::Q4_0];  // d = 2; byte j: element j = j in the low nibble, element j + 16 =
                               // 15 - j high
    put<uint16_t>(b.bytes, 0x4000);
    b.values.resize(32);
    for (int j = 0; j < 16; ++j) {
      b.bytes.push_back(static_cast<uint8_t>(j | (15 - j) << 4));
      b.values[j] = static_cast<float>(j - 8) * 2.0f;
      b.values[j + 16] = static_cast<float>(15 - j - 8) * 2.0f;
    }
  }
  {
    auto& b = k[DType::Q4_1];  // d = 0.5, m = -1; nibbles as in Q4_0
    put<uint16_t>(b.bytes, 0x3800);
    put<uint16_t>(b.bytes, 0xBC00);
    b.values.resize(32);
    for (int j = 0; j < 16; ++j) {
      b.bytes.push_back(static_cast<uint8_t>(j | (15 - j) << 4));
      b.values[j] = static_cast<float>(j) * 0.5f - 1.0f;
      b.values[j + 16] = static_cast<float>(15 - j) * 0.5f - 1.0f;
    }
  }
  {
    auto& b = k[DType::Q5_0];  // d = 0.5; q[j] = j (fifth bit in qh for j >= 16): x = (j - 16) / 2
    put<uint16_t>(b.bytes, 0x3800);
    put<uint32_t>(b.bytes, 0xFFFF0000u);
    for (int j = 0; j < 16; ++j) b.bytes.push_back(static_cast<uint8_t>(j * 0x11));
    for (int j = 0; j < 32; ++j) b.values.push_back(static_cast<float>(j - 16) * 0.5f);
  }
  {
    auto& b = k[DType::Q5_1];  // d = 0.25, m = 2; q[j] = 31 - j: x = (31 - j) / 4 + 2
    put<uint16_t>(b.bytes, 0x3400);
    put<uint16_t>(b.bytes, 0x4000);
    put<uint32_t>(b.bytes, 0x0000FFFFu);
    for (int j = 0; j < 16; ++j) b.bytes.push_back(static_cast<uint8_t>((15 - j) * 0x11));
    for (int j = 0; j < 32; ++j) b.values.push_back(static_cast<float>(31 - j) * 0.25f + 2.0f);
  }
  {
    // d = 1/32 (f16 0x2800), scales[g] = g - 8, every quant 0 (stored: low nibble 0, high bits
    // 0 -> q - 32 = -32), so element i of group g is (g - 8) / 32 * -32 = 8 - g; except
    // element 0 (ql[0] low 15, qh[0] bits 0-1 = 1: q = 31 - 32 = -1 -> -8 / 32 * -1 = 0.25),
    // element 64 (ql[0] high 5: q = -27 -> -4 / 32 * -27 = 3.375) and element 96 (qh[0] bits
    // 6-7 = 3: q = 48 - 32 = 16 -> -2 / 32 * 16 = -1).
    auto& b = k[DType::Q6_K];
    b.bytes.assign(128, 0);
    b.bytes[0] = 0x5F;
    b.bytes.resize(192, 0);
    b.bytes[128] = 0xC1;
    for (int g = 0; g < 16; ++g) b.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(g - 8)));
    put<uint16_t>(b.bytes, 0x2800);
    for (int i = 0; i < 256; ++i) b.values.push_back(static_cast<float>(8 - i / 16));
    b.values[0] = 0.25f;
    b.values[64] = 3.375f;
    b.values[96] = -1.0f;
  }
  {
    // d = 0.5 (0x3800), dmin = 0.25 (0x3400); scale/min bytes: group 0 scale 2 min 4 (bytes 0
    // and 4), group 5 scale 1 + 16 * 1 = 17, min 3 + 16 * 2 = 35 (low nibbles in byte 9, high
    // bits in bits 6-7 of bytes 1 and 5), other scales and mins 0. Quants: byte l of each 32
    // holds element l low and l + 32 high; qs[0] = 0x3A: element 0 is 10, element 32 is 3.
    // Element 0: 0.5 * 2 * 10 - 0.25 * 4 = 9; elements 1..31: -1; group 5 (elements 160..191,
    // the high nibbles of qs[64..95]) with qs[64] = 0x70: element 160 = 0.5 * 17 * 7 - 0.25 * 35
    // = 50.75, the rest -8.75. Everything else 0.
    auto& b = k[DType::Q4_K];
    put<uint16_t>(b.bytes, 0x3800);
    put<uint16_t>(b.bytes, 0x3400);
    const uint8_t scales[12] = {2, 1 << 6, 0, 0, 4, 2 << 6, 0, 0, 0, 0x31, 0, 0};
    b.bytes.insert(b.bytes.end(), scales, scales + 12);
    std::vector<uint8_t> qs(128, 0);
    qs[0] = 0x3A;
    qs[64] = 0x70;
    b.bytes.insert(b.bytes.end(), qs.begin(), qs.end());
    b.values.assign(256, 0.0f);
    for (int i = 0; i < 32; ++i) b.values[i] = -1.0f;
    b.values[0] = 9.0f;
    for (int i = 160; i < 192; ++i) b.values[i] = -8.75f;
    b.values[160] = 50.75f;
  }
  {
    // Q4_K's block with a qh inserted: qh[0] bit 0 sets element 0's fifth bit (10 + 16 = 26:
    // 0.5 * 2 * 26 - 1 = 25), qh[0] bit 5 element 160's (7 + 16 = 23: 0.5 * 17 * 23 - 8.75 =
    // 186.75), qh[1] bit 0 element 1's (0 + 16: 0.5 * 2 * 16 - 1 = 15).
    auto& b = k[DType::Q5_K];
    const KnownBlock& q4 = k[DType::Q4_K];
    b.bytes.assign(q4.bytes.begin(), q4.bytes.begin() + 16);
    std::vector<uint8_t> qh(32, 0);
    qh[0] = 0x21;
    qh[1] = 0x01;
    b.bytes.insert(b.bytes.end(), qh.begin(), qh.end());
    b.bytes.insert(b.bytes.end(), q4.bytes.begin() + 16, q4.bytes.end());
    b.values = q4.values;
    b.values[0] = 25.0f;
    b.values[160] = 186.75f;
    b.values[1] = 15.0f;
  }
  {
    // Q2_K: scales[g] = scale | min << 4 with group 0: scale 3, min 1; group 9: scale 1, min 0;
    // qs[0] = 0b11'10'01'00: elements 0, 32, 64, 96 hold 0, 1, 2, 3; qs[32 + 16] = 0x02:
    // element 128 + 16 = 144 (group 9) holds 2. d = 0.5 (0x3800), dmin = 2 (0x4000).
    // Group 0: 0.5 * 3 * q - 2 * 1: element 0 is -2, 1..15 -2; group 2 (element 32, scale 0,
    // min 0) 0; groups 4 and 6 likewise 0. Group 9: 0.5 * 1 * 2 = 1 at element 144.
    auto& b = k[DType::Q2_K];
    std::vector<uint8_t> scales(16, 0);
    scales[0] = 0x13;
    scales[9] = 0x01;
    b.bytes = scales;
    std::vector<uint8_t> qs(64, 0);
    qs[0] = 0xE4;
    qs[48] = 0x02;
    b.bytes.insert(b.bytes.end(), qs.begin(), qs.end());
    put<uint16_t>(b.bytes, 0x3800);
    put<uint16_t>(b.bytes, 0x4000);
    b.values.assign(256, 0.0f);
    for (int i = 0; i < 16; ++i) b.values[i] = -2.0f;
    b.values[144] = 1.0f;
  }
  {
    // Q3_K: d = 0.25 (0x3400). Biased 6-bit scales: group 0 = 40 (scale 8: low nibble 8 in
    // byte 0, high bits 2 in byte 8 bits 0-1), group 9 = 28 (scale -4: low nibble 12 in byte
    // 1's high nibble, high bits 1 in byte 9 bits 4-5), all others 32 (scale 0: low nibble 0,
    // high bits 2). Quants q = low - (hmask bit set ? 0 : 4): hmask all 0xFF except hmask[0] bit
    // 0 (element 0: q = low - 4); qs[0] = 0x03 (element 0 low 3: q = -1 -> 0.25 * 8 * -1 = -2);
    // group 0's others q = 0 -> 0. Group 9 (element 144 = byte 32 + 16, bits 0-1): qs[48] = 1:
    // 0.25 * -4 * 1 = -1.
    auto& b = k[DType::Q3_K];
    std::vector<uint8_t> hmask(32, 0xFF);
    hmask[0] = 0xFE;
    b.bytes = hmask;
    std::vector<uint8_t> qs(64, 0);
    qs[0] = 0x03;
    qs[48] = 0x01;
    b.bytes.insert(b.bytes.end(), qs.begin(), qs.end());
    // Bytes 8-11: two high bits for groups 8 + ... at bit 2 * (g / 4); every group's are 2
    // (0b10) except group 9 (1, in byte 9 bits 4-5).
    const uint8_t s[12] = {0x08, 0xC0, 0, 0, 0, 0, 0, 0, 0xAA, 0x9A, 0xAA, 0xAA};
    b.bytes.insert(b.bytes.end(), s, s + 12);
    put<uint16_t>(b.bytes, 0x3400);
    b.values.assign(256, 0.0f);
    b.values[0] = -2.0f;
    b.values[144] = -1.0f;
  }
  return k;
}

TEST(TypeTraits, RowsAreTheDecodableTypesEachOnce) {
  std::set<DType> seen;
  for (const TypeTraits& row : all_type_traits()) {
    EXPECT_TRUE(seen.insert(row.type).second) << dtype_name(row.type) << " has two rows";
    EXPECT_EQ(type_traits(row.type), &row) << dtype_name(row.type);
    EXPECT_NE(row.decode, nullptr) << dtype_name(row.type);
  }
  EXPECT_EQ(seen, kDecodable);
}

TEST(TypeTraits, SizesAgreeWithDTypeInfo) {
  for (const TypeTraits& row : all_type_traits()) {
    const DTypeInfo& info = dtype_info(row.type);
    EXPECT_EQ(row.block_size, info.block_size) << info.name;
    EXPECT_EQ(row.block_bytes, info.block_bytes) << info.name;
    for (size_t blocks : {size_t{0}, size_t{1}, size_t{6}, size_t{128}}) {
      const size_t n = blocks * row.block_size;
      EXPECT_EQ(dtype_nbytes(row.type, n), std::optional<uint64_t>(row_bytes(row, n)))
          << info.name << " n=" << n;
    }
    if (row.block_size > 1) {  // a partial block has no size
      EXPECT_EQ(dtype_nbytes(row.type, row.block_size + 1), std::nullopt) << info.name;
    }
  }
}

TEST(TypeTraits, EncodersAreThoseExpected) {
  for (const TypeTraits& row : all_type_traits()) {
    EXPECT_EQ(row.encode != nullptr, kEncodable.count(row.type) == 1) << dtype_name(row.type);
    EXPECT_EQ(can_encode(row.type), kEncodable.count(row.type) == 1) << dtype_name(row.type);
    EXPECT_TRUE(can_decode(row.type)) << dtype_name(row.type);
  }
}

TEST(TypeTraits, DecodesHandBuiltBlocksToTheirValues) {
  const auto known = known_blocks();
  for (const TypeTraits& row : all_type_traits()) {
    const auto it = known.find(row.type);
    if (it == known.end()) {
      ADD_FAILURE() << dtype_name(row.type) << " has no hand-built block in this test";
      continue;
    }
    const KnownBlock& b = it->second;
    const size_t n = b.values.size();
    ASSERT_EQ(n % row.block_size, 0u) << dtype_name(row.type);
    ASSERT_EQ(b.bytes.size(), row_bytes(row, n)) << dtype_name(row.type);
    std::vector<float> out(n, -12345.0f);
    decode_row(row.type, b.bytes.data(), out.data(), n);
    for (size_t i = 0; i < n; ++i)
      EXPECT_EQ(out[i], b.values[i]) << dtype_name(row.type) << " element " << i;
  }
}

TEST(TypeTraits, EncodeWritesExactlyItsBytesAndDecodeItsFloats) {
  const std::vector<float> x = test_values();
  const size_t n = x.size(), guard = 16;
  for (const TypeTraits& row : all_type_traits()) {
    const size_t bytes = row_bytes(row, n);
    std::vector<uint8_t> encoded(bytes, 0);
    if (row.encode != nullptr) {
      // Two differently filled buffers give the same bytes: every byte is written, none past the
      // end.
      std::vector<uint8_t> a(bytes + guard, 0x00), b(bytes + guard, 0xFF);
      encode_row(row.type, x.data(), a.data(), n);
      encode_row(row.type, x.data(), b.data(), n);
      EXPECT_TRUE(std::equal(a.begin(), a.begin() + bytes, b.begin())) << dtype_name(row.type);
      EXPECT_TRUE(std::all_of(a.begin() + bytes, a.end(), [](uint8_t v) { return v == 0x00; }))
          << dtype_name(row.type);
      EXPECT_TRUE(std::all_of(b.begin() + bytes, b.end(), [](uint8_t v) { return v == 0xFF; }))
          << dtype_name(row.type);
      std::copy(a.begin(), a.begin() + bytes, encoded.begin());
    }
    std::vector<float> out(n + guard, 7.0f);
    decode_row(row.type, encoded.data(), out.data(), n);
    EXPECT_TRUE(std::all_of(out.begin() + n, out.end(), [](float v) { return v == 7.0f; }))
        << dtype_name(row.type);
  }
}

TEST(TypeTraits, RoundTripIsWithinEachTypesErrorBound) {
  const std::vector<float> x = test_values();
  const size_t n = x.size();
  for (const TypeTraits& row : all_type_traits()) {
    if (row.encode == nullptr) continue;
    std::vector<uint8_t> q(row_bytes(row, n));
    std::vector<float> y(n);
    encode_row(row.type, x.data(), q.data(), n);
    decode_row(row.type, q.data(), y.data(), n);
    for (size_t i = 0; i < n; ++i) {
      const size_t b0 = i / row.block_size * row.block_size;
      const auto bound = row.block_size == 256
                             ? kquant_max_error(row.type, x.data() + b0, i - b0)
                             : max_error(row.type, x.data() + b0, row.block_size, x[i]);
      if (!bound) {
        ADD_FAILURE() << dtype_name(row.type) << " has no error bound in this test";
        break;
      }
      EXPECT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), *bound)
          << dtype_name(row.type) << " element " << i;
    }
  }
}

TEST(TypeTraits, QuantizingLosesSomething) {
  // Guards the bounds above against a codec that stores nothing: quantizing must lose something.
  const std::vector<float> x = test_values();
  for (const TypeTraits& row : all_type_traits()) {
    if (row.encode == nullptr || row.block_size == 1) continue;
    std::vector<uint8_t> q(row_bytes(row, x.size()));
    std::vector<float> y(x.size());
    encode_row(row.type, x.data(), q.data(), x.size());
    decode_row(row.type, q.data(), y.data(), x.size());
    EXPECT_NE(x, y) << dtype_name(row.type);
  }
}

TEST(TypeTraits, LeadingF16ScaleIsTheBlocksScale) {
  const std::vector<float> x = test_values();
  const size_t n = x.size();
  for (const TypeTraits& row : all_type_traits()) {
    std::vector<uint8_t> q(row_bytes(row, n));
    if (row.encode != nullptr) {
      encode_row(row.type, x.data(), q.data(), n);
    } else {
      std::fill(q.begin(), q.end(), 0);
    }
    // A NaN f16 in the first two bytes of block 1.
    const uint16_t nan = 0x7E00;
    std::memcpy(q.data() + row.block_bytes, &nan, 2);
    std::vector<float> y(n);
    decode_row(row.type, q.data(), y.data(), n);
    const size_t first = row.block_size, count = std::max<size_t>(row.block_size, 32);
    const bool all_nan = std::all_of(y.begin() + first, y.begin() + first + count,
                                     [](float v) { return std::isnan(v); });
    EXPECT_EQ(all_nan, row.leading_f16_scale) << dtype_name(row.type);
    EXPECT_EQ(has_leading_f16_scale(row.type), row.leading_f16_scale) << dtype_name(row.type);
    if (row.leading_f16_scale) {
      EXPECT_EQ(find_nonfinite_block_scale(q.data(), n / row.block_size, row.block_bytes), 1)
          << dtype_name(row.type);
      EXPECT_FALSE(std::isnan(y[0])) << dtype_name(row.type);
    }
  }
}

TEST(TypeTraits, LlamaFileTypesAreLlamaCpps) {
  // llama.cpp's LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q4_1, MOSTLY_Q8_0,
  // MOSTLY_Q5_0, MOSTLY_Q5_1, MOSTLY_Q2_K, MOSTLY_Q3_K_M ("Q3_K"), MOSTLY_Q4_K_M (llama-quantize's "Q4_K"), MOSTLY_Q5_K_M ("Q5_K"),
  // MOSTLY_Q6_K, MOSTLY_BF16.
  const std::map<DType, uint32_t> expect = {
      {DType::F32, 0},  {DType::F16, 1},  {DType::Q4_0, 2}, {DType::Q4_1, 3},
      {DType::Q8_0, 7}, {DType::Q5_0, 8}, {DType::Q5_1, 9}, {DType::Q2_K, 10}, {DType::Q3_K, 12},
      {DType::Q4_K, 15}, {DType::Q5_K, 17},
      {DType::Q6_K, 18}, {DType::BF16, 32}};
  for (DType t : all_dtypes()) {
    const auto it = expect.find(t);
    EXPECT_EQ(llama_ftype(t),
              it == expect.end() ? std::nullopt : std::optional<uint32_t>(it->second))
        << dtype_name(t);
  }
}

TEST(TypeTraits, TypesWithoutARowHaveNoCodec) {
  float f[32] = {};
  uint8_t b[256] = {};
  for (DType t : all_dtypes()) {
    if (kDecodable.count(t)) continue;
    EXPECT_EQ(type_traits(t), nullptr) << dtype_name(t);
    EXPECT_FALSE(can_decode(t)) << dtype_name(t);
    EXPECT_FALSE(can_encode(t)) << dtype_name(t);
    EXPECT_FALSE(has_leading_f16_scale(t)) << dtype_name(t);
    EXPECT_THROW(decode_row(t, b, f, 0), Error) << dtype_name(t);
    EXPECT_THROW(encode_row(t, f, b, 0), Error) << dtype_name(t);
  }
  EXPECT_EQ(type_traits(DType::kCount), nullptr);
  // Decodable but read-only: encoding F64 is an internal error, not a silent no-op.
  EXPECT_THROW(encode_row(DType::F64, f, b, 1), Error);
}

}  // namespace
}  // namespace lmforge
