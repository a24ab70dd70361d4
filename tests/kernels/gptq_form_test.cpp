// The GPTQ kernel form: the regrouped blocks plus offsets give back exactly the weights the
// checkpoint means (scale * (code - zero), per input through g_idx), the dispatched product
// agrees with its scalar twin on every compiled target, and both equal the dequantized
// weights times the 8-bit activations they read (and the float reference within the 8-bit
// activation rounding).
#include "kernels/gptq_form.h"

#include <cmath>
#include <numeric>
#include <random>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

constexpr float kUnitRoundoff = 5.97e-8f;  // 2^-24

// A random linear: codes, zero points (0 .. 2^bits, the v1 read of a stored -1 included),
// scales, and either consecutive groups or an act-order permutation.
GptqMatrix random_gptq(int bits, uint64_t out, uint64_t in, uint64_t group_size, bool act_order, uint32_t seed) {
  std::mt19937 rng(seed);
  GptqMatrix m;
  m.out = out;
  m.in = in;
  m.bits = bits;
  m.groups = static_cast<uint32_t>((in + group_size - 1) / group_size);
  const int top = (1 << bits) - 1;
  std::uniform_int_distribution<int> code(0, top), zero(0, top + 1);
  std::normal_distribution<float> scale(0.01f, 0.003f);
  m.codes.resize(out * in);
  for (auto& c : m.codes) c = static_cast<uint8_t>(code(rng));
  m.zeros.resize(m.groups * out);
  for (auto& z : m.zeros) z = static_cast<uint16_t>(zero(rng));
  m.scales.resize(m.groups * out);
  for (auto& s : m.scales) s = fp16_to_fp32(fp32_to_fp16(scale(rng)));  // fp16, as checkpoints store them
  std::vector<uint32_t> order(in);
  std::iota(order.begin(), order.end(), 0u);
  if (act_order) std::shuffle(order.begin(), order.end(), rng);
  m.g_idx.resize(in);
  for (uint64_t p = 0; p < in; ++p) m.g_idx[order[p]] = static_cast<uint32_t>(p / group_size);
  return m;
}

struct Case {
  int bits;
  uint64_t out, in, group_size;
  bool act_order;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  for (int bits : {2, 3, 4, 8}) {
    c.push_back({bits, 37, 256, 32, false});
    c.push_back({bits, 21, 256, 64, true});
    c.push_back({bits, 9, 160, 160, false});  // group size -1: one group
    c.push_back({bits, 16, 96, 48, true});    // groups of 48: padded to 64
  }
  c.push_back({4, 11, 2048, 128, false});
  c.push_back({4, 11, 2048, 128, true});
  return c;
}

std::string label(const Case& c) {
  return std::to_string(c.bits) + "-bit " + std::to_string(c.out) + "x" + std::to_string(c.in) + " g" +
         std::to_string(c.group_size) + (c.act_order ? " act-order" : "");
}

TEST(GptqFormTest, DequantizedRowsAreTheCheckpointWeights) {
  uint32_t seed = 1;
  for (const Case& c : cases()) {
    SCOPED_TRACE(label(c));
    const GptqMatrix m = random_gptq(c.bits, c.out, c.in, c.group_size, c.act_order, ++seed);
    const GptqForm f(m);
    EXPECT_EQ(f.gathers(), c.act_order || c.group_size % 32 != 0);
    EXPECT_EQ(f.padded_cols() % 32, 0u);
    std::vector<float> padded(f.padded_cols()), want(c.in);
    for (uint64_t r = 0; r < c.out; ++r) {
      f.dequantize_padded_row(r, padded.data());
      m.dequantize_row(r, want.data());
      std::vector<bool> seen(c.in, false);
      for (size_t j = 0; j < padded.size(); ++j) {
        const int32_t i = f.x_map()[j];
        if (i < 0) {
          ASSERT_EQ(padded[j], 0.0f);
          continue;
        }
        ASSERT_FALSE(seen[i]) << "input " << i << " twice";
        seen[i] = true;
        ASSERT_EQ(padded[j], want[i]) << "row " << r << " input " << i << ": exact, not approximately";
      }
      for (uint64_t i = 0; i < c.in; ++i) ASSERT_TRUE(seen[i]) << "input " << i << " missing";
    }
  }
}

// Packs x for the form as the engine does (gathered when needed).
PackedActivations pack(const GptqForm& f, const std::vector<float>& x, size_t n) {
  std::vector<float> g(n * f.padded_cols());
  gptq_gather_rows(f, x.data(), f.cols(), 0, n, g.data());
  PackedActivations p;
  p.reset(f.activation_type(), n, f.padded_cols());
  p.pack_rows_scalar(g.data(), f.padded_cols(), 0, n);
  return p;
}

// sym: every zero point 2^bits / 2 (no offsets for 4 bits).
void expect_products(const Case& c, size_t n, uint32_t seed, bool dispatched, bool sym = false) {
  SCOPED_TRACE(label(c) + " n " + std::to_string(n) + (sym ? " sym" : ""));
  GptqMatrix m = random_gptq(c.bits, c.out, c.in, c.group_size, c.act_order, seed);
  if (sym) std::fill(m.zeros.begin(), m.zeros.end(), static_cast<uint16_t>(1 << (c.bits - 1)));
  const GptqForm f(m);
  const std::vector<float> x = random_floats(n * c.in, seed + 7);
  const PackedActivations p = pack(f, x, n);
  const size_t ldy = c.out + 3;
  std::vector<float> got(n * ldy, -1.0f), twin(n * ldy, -1.0f);
  if (dispatched) matmul_gptq(f, p, got.data(), ldy, 0, c.out);
  matmul_gptq_scalar(f, p, twin.data(), ldy, 0, c.out);
  std::vector<float> w(f.padded_cols()), xf(c.in), yref(c.out);
  for (size_t t = 0; t < n; ++t) {
    for (uint64_t i = 0; i < c.in; ++i) xf[i] = x[t * c.in + i];
    matmul_gptq_ref(f, xf.data(), yref.data());
    for (uint64_t r = 0; r < c.out; ++r) {
      // The exact product of the dequantized weights and the 8-bit activations the kernels read.
      f.dequantize_padded_row(r, w.data());
      double exact = 0, mag = 0;
      for (size_t j = 0; j < w.size(); ++j) {
        const double a = double{p.block_scales(t)[j / 32]} * p.quants(t)[j];
        exact += w[j] * a;
        const uint32_t g = static_cast<uint32_t>(j / 32 / f.blocks_per_group());
        // The block form adds offset * a, the grouped form subtracts scale * zero * a.
        const double shift = f.has_offsets() ? f.offsets(r)[g]
                             : f.grouped()   ? double{f.grouped_matrix().scale(r, g)} * f.grouped_matrix().zero(r, g)
                                             : 0.0;
        mag += std::fabs(w[j] * a) + std::fabs(shift * a);
      }
      const double bound = 4.0 * f.padded_cols() * kUnitRoundoff * mag + 1e-30;
      ASSERT_NEAR(twin[t * ldy + r], exact, bound) << "twin t " << t << " r " << r;
      if (dispatched) {
        ASSERT_NEAR(got[t * ldy + r], twin[t * ldy + r], 2 * bound) << "dispatched t " << t << " r " << r;
      }
      // Against float activations: only the 8-bit rounding of x separates them.
      ASSERT_NEAR(twin[t * ldy + r], yref[r], 0.02 * mag + 1e-6) << "float reference t " << t << " r " << r;
    }
  }
}

TEST(GptqFormTest, ScalarTwinIsTheDequantizedProduct) {
  uint32_t seed = 50;
  for (const Case& c : cases()) expect_products(c, 3, ++seed, false);
}

TEST(GptqFormTest, DispatchedMatchesScalarTwin) {
  for_each_target([&](const std::string&) {
    uint32_t seed = 200;
    for (const Case& c : cases())
      for (size_t n : {1u, 2u, 5u, 17u}) expect_products(c, n, ++seed, true);
  });
}

// Symmetric 4-bit (every zero 8): no offsets stored, the same products.
TEST(GptqFormTest, SymmetricFourBitHasNoOffsets) {
  GptqMatrix m = random_gptq(4, 16, 256, 64, true, 11);
  std::fill(m.zeros.begin(), m.zeros.end(), uint16_t{8});
  const GptqForm f(m);
  EXPECT_FALSE(f.has_offsets());
  std::vector<float> padded(f.padded_cols()), want(m.in);
  for (uint64_t r = 0; r < m.out; ++r) {
    f.dequantize_padded_row(r, padded.data());
    m.dequantize_row(r, want.data());
    for (size_t j = 0; j < padded.size(); ++j)
      if (f.x_map()[j] >= 0) {
        ASSERT_EQ(padded[j], want[f.x_map()[j]]);
      }
  }
  EXPECT_TRUE(GptqForm(random_gptq(4, 16, 256, 64, true, 12)).has_offsets());
  for_each_target([&](const std::string&) {
    expect_products({4, 16, 256, 64, true}, 3, 13, true, true);
    expect_products({4, 11, 2048, 128, false}, 1, 14, true, true);
  });
}

// A group whose inputs are all in one place of the padded order, whatever g_idx says.
TEST(GptqFormTest, ActOrderGroupsAreContiguous) {
  const GptqMatrix m = random_gptq(4, 8, 128, 32, true, 9);
  const GptqForm f(m);
  ASSERT_EQ(f.padded_cols(), 128u);
  for (size_t j = 0; j < 128; ++j) EXPECT_EQ(m.g_idx[f.x_map()[j]], j / 32) << "position " << j;
}

}  // namespace
}  // namespace lmforge
