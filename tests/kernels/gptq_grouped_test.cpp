// The grouped GPTQ 4-bit form: which linears get it, its size (the point of it), that it gives
// back exactly the checkpoint's weights, and that its dispatched product agrees with its scalar
// twin on every compiled target and both with an exact double-precision product computed
// straight from the GptqMatrix (codes, scales, zeros) and the 8-bit activations, not from the
// form's own accessors.
#include "kernels/gptq_grouped.h"

#include <cmath>
#include <numeric>
#include <random>

#include "kernel_test_util.h"
#include "kernels/gptq_form.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

constexpr float kUnitRoundoff = 5.97e-8f;  // 2^-24

// A random 4-bit linear with groups in input order; zeros drawn from `zeros` (0 .. 16: 16 is
// the v1 reading of a stored 15, 0 of a stored -1).
GptqMatrix random_linear(uint64_t out, uint64_t in, uint64_t group_size, const std::vector<uint16_t>& zeros,
                         uint32_t seed) {
  std::mt19937 rng(seed);
  GptqMatrix m;
  m.out = out;
  m.in = in;
  m.bits = 4;
  m.groups = static_cast<uint32_t>(in / group_size);
  std::uniform_int_distribution<int> code(0, 15);
  std::uniform_int_distribution<size_t> pick(0, zeros.size() - 1);
  std::normal_distribution<float> scale(0.01f, 0.003f);
  m.codes.resize(out * in);
  for (auto& c : m.codes) c = static_cast<uint8_t>(code(rng));
  m.zeros.resize(m.groups * out);
  for (auto& z : m.zeros) z = zeros[pick(rng)];
  m.scales.resize(m.groups * out);
  for (auto& s : m.scales) s = fp16_to_fp32(fp32_to_fp16(scale(rng)));  // fp16, as checkpoints store them
  m.g_idx.resize(in);
  for (uint64_t i = 0; i < in; ++i) m.g_idx[i] = static_cast<uint32_t>(i / group_size);
  return m;
}

const std::vector<uint16_t> kAsym = {0, 1, 7, 8, 9, 15, 16};
const std::vector<uint16_t> kSym = {8};

TEST(GptqGroupedTest, SupportsFourBitGroupsInInputOrder) {
  EXPECT_TRUE(GptqGroupedMatrix::supports(random_linear(8, 256, 128, kAsym, 1)));
  EXPECT_TRUE(GptqGroupedMatrix::supports(random_linear(8, 256, 32, kAsym, 1)));
  EXPECT_TRUE(GptqGroupedMatrix::supports(random_linear(8, 160, 160, kAsym, 1)));  // one group per row
  GptqMatrix m = random_linear(8, 256, 64, kAsym, 2);
  m.bits = 3;
  EXPECT_FALSE(GptqGroupedMatrix::supports(m));
  m.bits = 8;
  EXPECT_FALSE(GptqGroupedMatrix::supports(m));
  GptqMatrix odd = random_linear(8, 96, 48, kAsym, 3);  // groups of 48: not whole blocks
  EXPECT_FALSE(GptqGroupedMatrix::supports(odd));
  EXPECT_FALSE(GptqForm(odd).grouped());
  GptqMatrix shuffled = random_linear(8, 256, 64, kAsym, 4);  // act-order that permutes
  std::swap(shuffled.g_idx[0], shuffled.g_idx[255]);
  EXPECT_FALSE(GptqGroupedMatrix::supports(shuffled));
  EXPECT_FALSE(GptqForm(shuffled).grouped());
  EXPECT_TRUE(GptqForm(random_linear(8, 256, 64, kAsym, 5)).grouped());
  EXPECT_THROW(GptqGroupedMatrix{shuffled}, std::invalid_argument);
}

// 4 bits, one fp16 scale and one 8-bit zero per 8 rows x 128 inputs: 4.1875 bits per weight,
// against Q4_0 blocks' 4.5 (+ 0.25 of float offsets for asymmetric checkpoints).
TEST(GptqGroupedTest, FourPointOneNineBitsPerWeightAtGroupSize128) {
  const GptqMatrix m = random_linear(2048, 2048, 128, kAsym, 6);
  const GptqGroupedMatrix w(m);
  EXPECT_EQ(w.bytes() * 8, 2048u * 2048u * 4u + 2048u * 16u * (16u + 8u));
  const GptqForm f(m);
  EXPECT_TRUE(f.grouped());
  EXPECT_FALSE(f.gathers());
  EXPECT_FALSE(f.has_offsets());
  EXPECT_EQ(f.bytes(), w.bytes() + 2048u * sizeof(int32_t));  // plus the (identity) input order
}

TEST(GptqGroupedTest, DequantizedRowsAreTheCheckpointWeights) {
  for (uint64_t gs : {32u, 64u, 128u, 320u}) {
    SCOPED_TRACE("group size " + std::to_string(gs));
    const GptqMatrix m = random_linear(13, 640, gs, kAsym, 7 + static_cast<uint32_t>(gs));
    const GptqGroupedMatrix w(m);
    std::vector<float> got(m.in), want(m.in);
    for (uint64_t r = 0; r < m.out; ++r) {
      w.dequantize_row(r, got.data());
      m.dequantize_row(r, want.data());
      for (uint64_t i = 0; i < m.in; ++i) ASSERT_EQ(got[i], want[i]) << "row " << r << " input " << i;
      for (uint32_t g = 0; g < m.groups; ++g) {
        ASSERT_EQ(w.scale(r, g), m.scale(g, r));
        ASSERT_EQ(w.zero(r, g), m.zero(g, r));
      }
    }
  }
}

struct Case {
  uint64_t out, in, group_size;
  const std::vector<uint16_t>* zeros;
  uint64_t r0, r1;  // the row range computed (r1 0: all rows)
};

std::string label(const Case& c) {
  return std::to_string(c.out) + "x" + std::to_string(c.in) + " g" + std::to_string(c.group_size) +
         (c.zeros == &kSym ? " sym" : " asym") + " rows " + std::to_string(c.r0) + ".." + std::to_string(c.r1);
}

std::vector<Case> cases() {
  return {
      {37, 512, 64, &kAsym, 0, 0},     // rows not a multiple of 8, 8 groups
      {37, 512, 64, &kAsym, 3, 29},    // a range cutting row groups at both ends
      {16, 256, 32, &kAsym, 0, 0},     // group = block
      {11, 2048, 128, &kAsym, 0, 0},   // TinyLlama's group size, 16 groups
      {24, 2048, 128, &kSym, 8, 24},   // symmetric, a range of whole row groups
      {9, 320, 320, &kAsym, 0, 0},     // one group per row (group size -1)
      {203, 256, 128, &kAsym, 5, 203}, // 26 row groups: several lock-step rounds of the
                                       // AVX-512 generation streams, the last one partial
  };
}

void expect_products(const Case& c, size_t n, uint32_t seed) {
  SCOPED_TRACE(label(c) + " n " + std::to_string(n));
  const GptqMatrix m = random_linear(c.out, c.in, c.group_size, *c.zeros, seed);
  const GptqGroupedMatrix w(m);
  const std::vector<float> x = random_floats(n * c.in, seed + 7);
  PackedActivations p;
  p.reset(DType::Q4_0, n, c.in);
  p.pack_rows_scalar(x.data(), c.in, 0, n);
  const uint64_t r0 = c.r0, r1 = c.r1 ? c.r1 : c.out;
  const size_t ldy = c.out + 3;
  std::vector<float> got(n * ldy, -1.0f), twin(n * ldy, -1.0f);
  matmul_gptq_grouped(w, p, got.data(), ldy, r0, r1);
  matmul_gptq_grouped_scalar(w, p, twin.data(), ldy, r0, r1);
  for (size_t t = 0; t < n; ++t) {
    for (uint64_t r = 0; r < c.out; ++r) {
      const size_t at = t * ldy + r;
      if (r < r0 || r >= r1) {  // rows outside the range are left alone
        ASSERT_EQ(got[at], -1.0f) << "dispatched wrote row " << r;
        ASSERT_EQ(twin[at], -1.0f) << "twin wrote row " << r;
        continue;
      }
      // Exact: scale * (code - zero) times the 8-bit activation d_x * q, from the checkpoint.
      // The kernels compute s * (sum code a - z * sum a): bound by both terms' magnitudes.
      double exact = 0, mag = 0;
      for (uint64_t i = 0; i < c.in; ++i) {
        const uint32_t g = m.g_idx[i];
        const double a = double{p.block_scales(t)[i / 32]} * p.quants(t)[i];
        const double s = m.scale(g, r);
        exact += s * (m.code(r, i) - m.zero(g, r)) * a;
        mag += std::fabs(s * a) * (m.code(r, i) + m.zero(g, r));
      }
      const double bound = 4.0 * c.in * kUnitRoundoff * mag + 1e-30;
      ASSERT_NEAR(twin[at], exact, bound) << "twin t " << t << " r " << r;
      ASSERT_NEAR(got[at], exact, bound) << "dispatched t " << t << " r " << r;
      ASSERT_NEAR(got[at], twin[at], 2 * bound) << "dispatched vs twin t " << t << " r " << r;
    }
  }
}

TEST(GptqGroupedTest, ScalarTwinIsTheExactProduct) {
  uint32_t seed = 100;
  for (const Case& c : cases()) expect_products(c, 3, ++seed);
}

TEST(GptqGroupedTest, DispatchedMatchesScalarTwinOnEveryTarget) {
  for_each_target([&](const std::string&) {
    uint32_t seed = 300;
    for (const Case& c : cases())
      for (size_t n : {1u, 2u, 4u, 5u, 17u}) expect_products(c, n, ++seed);
  });
}

}  // namespace
}  // namespace lmforge
