// The fast row encoders (kernels/quantize_rows.h) against their scalar twins, the reference
// encoders of quant/ (which oracle.quantize holds to llama-quantize's bytes): byte-identical
// blocks on every compiled SIMD target, for rows built to reach every branch of the scale
// searches (flat groups, all-zero groups, outliers, ties, subnormal scales, the f16 range).
#include "kernels/quantize_rows.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

struct Row {
  std::string what;
  std::vector<float> x;
};

// Values as they reach the encoder from an F16 model: rounded to f16.
std::vector<float> as_f16(std::vector<float> v) {
  for (auto& x : v) x = fp16_to_fp32(fp32_to_fp16(x));
  return v;
}

// Rows of n elements (n a multiple of 256) that stress the searches.
std::vector<Row> test_rows(size_t n, uint32_t seed) {
  std::vector<Row> rows;
  std::mt19937 rng(seed);
  for (float scale : {1e-6f, 1e-3f, 0.02f, 1.0f, 300.0f}) {
    rows.push_back({"normal*" + std::to_string(scale), random_floats(n, seed + 1, scale)});
    rows.push_back({"f16 normal*" + std::to_string(scale), as_f16(random_floats(n, seed + 2, scale))});
  }
  rows.push_back({"zeros", std::vector<float>(n, 0.0f)});
  rows.push_back({"negative zeros", std::vector<float>(n, -0.0f)});
  {
    // Every 16 elements one constant (positive, negative, zero), so both group sizes see flat
    // groups; every fourth block of 16 random.
    std::vector<float> v = random_floats(n, seed + 3, 0.1f);
    std::uniform_int_distribution<int> k(-20, 20);
    for (size_t g = 0; g < n / 16; ++g)
      if (g % 4 != 3) {
        const float c = static_cast<float>(k(rng)) * 0.125f;
        for (size_t i = 0; i < 16; ++i) v[16 * g + i] = c;
      }
    rows.push_back({"constant groups", v});
  }
  {
    std::vector<float> v = random_floats(n, seed + 4, 0.01f);
    v[n / 3] = 1e4f;
    v[n / 2 + 7] = -65504.0f;
    rows.push_back({"outliers", v});
  }
  {
    // Subnormal and near-subnormal magnitudes: scales that underflow in f16 and in float.
    rows.push_back({"subnormal", random_floats(n, seed + 5, 1e-39f)});
    rows.push_back({"tiny", random_floats(n, seed + 6, 1e-30f)});
    rows.push_back({"f16 subnormal", as_f16(random_floats(n, seed + 7, 1e-6f))});
  }
  {
    // Multiples of small powers of two: quantized values land exactly on .5 (ties), and equal
    // magnitudes of both signs compete for the largest.
    std::vector<float> a(n), b(n), c(n);
    std::uniform_int_distribution<int> k(-16, 16), m(-3, 3);
    for (size_t i = 0; i < n; ++i) {
      a[i] = static_cast<float>(k(rng)) * 0.5f;
      b[i] = static_cast<float>(m(rng));
      c[i] = static_cast<float>(k(rng)) / 64.0f;
    }
    rows.push_back({"halves", a});
    rows.push_back({"small integers", b});
    rows.push_back({"sixty-fourths", c});
  }
  {
    std::vector<float> v(n);
    std::uniform_int_distribution<int> pick(0, 4);
    const float choices[] = {65504.0f, -65504.0f, 1.0f, -1.0f, 0.0f};
    for (auto& x : v) x = choices[pick(rng)];
    rows.push_back({"f16 extremes", v});
    rows.push_back({"f16 max", std::vector<float>(n, 65504.0f)});
  }
  {
    // Non-finite values go to the reference: same bytes, whatever they are.
    std::vector<float> v = random_floats(n, seed + 8, 1.0f);
    v[5] = std::numeric_limits<float>::quiet_NaN();
    rows.push_back({"nan", v});
    v[5] = std::numeric_limits<float>::infinity();
    rows.push_back({"inf", v});
  }
  return rows;
}

void expect_same_bytes(DType type, const std::vector<float>& x, const std::string& what) {
  const size_t bytes = *dtype_nbytes(type, x.size());
  // One byte of slack on each side, to catch a write past the end.
  std::vector<uint8_t> fast(bytes + 2, 0xA5), ref(bytes + 2, 0xA5);
  encode_row_fast(type, x.data(), fast.data() + 1, x.size());
  encode_row(type, x.data(), ref.data() + 1, x.size());
  ASSERT_EQ(fast, ref) << dtype_name(type) << " " << what << " n=" << x.size();
}

const std::vector<DType> kFastTypes = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_0, DType::Q4_0};

TEST(QuantizeRowsTest, FastTypesAreTheListedOnes) {
  for (DType t : kFastTypes) EXPECT_TRUE(has_fast_encoder(t)) << dtype_name(t);
  EXPECT_FALSE(has_fast_encoder(DType::F16));
  EXPECT_FALSE(has_fast_encoder(DType::Q4_1));
}

// 256 (one super-block: half an AVX-512 batch of Q4_K groups), 768 (odd count), 2304.
TEST(QuantizeRowsTest, FastEqualsReferenceOnEveryTarget) {
  for_each_target([&](const std::string&) {
    for (DType t : kFastTypes)
      for (size_t n : {256u, 768u, 2304u})
        for (const Row& row : test_rows(n, static_cast<uint32_t>(n))) expect_same_bytes(t, row.x, row.what);
  });
}

// Q8_0 and Q4_0 rows need only be whole 32-element blocks.
TEST(QuantizeRowsTest, ShortBlockRowsEqualReference) {
  for_each_target([&](const std::string&) {
    for (DType t : {DType::Q8_0, DType::Q4_0})
      for (size_t n : {32u, 96u})
        for (const Row& row : test_rows(256, static_cast<uint32_t>(n))) {
          const std::vector<float> x(row.x.begin(), row.x.begin() + static_cast<std::ptrdiff_t>(n));
          expect_same_bytes(t, x, row.what);
        }
  });
}

// Many random super-blocks: the scale searches' near-ties between candidates are rare, so
// byte identity needs volume to mean something.
TEST(QuantizeRowsTest, ManyRandomBlocksEqualReference) {
  for_each_target([&](const std::string&) {
    for (DType t : kFastTypes) {
      const auto x = as_f16(random_floats(256 * 64, 99, 0.03f));
      expect_same_bytes(t, x, "64 super-blocks");
    }
  });
}

}  // namespace
}  // namespace lmforge
