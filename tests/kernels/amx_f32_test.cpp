// F32 weights in the AMX float product (kernels/amx_f16.h, amx_f16_or_f32_supports): the scalar
// twin is the float product of the F32 weights (w_hi + w_lo + w_lo2) to float precision; the
// tiles give the twin's results within fp32 summation error, every one of the six part products
// included; and an F32 copy of an F16 matrix multiplies to the F16 product's results bit for bit
// (the BERT encoder's folder -> f32 GGUF round trip depends on it). Tile checks skip without AMX.
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "core/half.h"
#include "kernel_test_util.h"
#include "kernels/amx_f16.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"

namespace lmforge {
namespace {

using test::make_matrix;
using test::random_floats;

double triple_value(Bf16Triple p) {
  return double{bf16_to_float(p.hi)} + bf16_to_float(p.mid) + bf16_to_float(p.lo);
}

float f32_at(const MatrixView& w, uint64_t r, uint64_t c) {
  float v;
  std::memcpy(&v, w.row(r) + 4 * c, 4);
  return v;
}

// sum_c |W[r][c] x[t][c]| and sum_c W[r][c] x[t][c] in double, from the F32 weights and the
// packed activations.
std::pair<double, double> exact_dot(const MatrixView& w, const AmxF16Activations& x, uint64_t r, size_t t) {
  double abs = 0, sum = 0;
  for (uint64_t c = 0; c < w.cols; ++c) {
    const double p = double{f32_at(w, r, c)} * triple_value(x.at(t, c));
    abs += std::fabs(p);
    sum += p;
  }
  return {abs, sum};
}

TEST(AmxF32Test, Supports) {
  EXPECT_TRUE(amx_f16_or_f32_supports(DType::F32));
  EXPECT_TRUE(amx_f16_or_f32_supports(DType::F16));
  EXPECT_FALSE(amx_f16_or_f32_supports(DType::BF16));
  EXPECT_FALSE(amx_f16_supports(DType::F32));  // the LLaMA engine's choice is unchanged
}

// Dropped: w_lo x_lo and w_lo2 x_mid (about 2^-24 of a term each), w_lo2 x_lo, and w_lo2's own
// bf16 rounding: within 2^-22 of each term. Leaving out any kept product moves terms by 2^-17
// or more.
TEST(AmxF32Test, TwinIsTheExactProductToFloatPrecision) {
  for (uint64_t cols : {72u, 2048u}) {
    SCOPED_TRACE("cols " + std::to_string(cols));
    const uint64_t rows = 7;
    const size_t n = 5;
    auto m = make_matrix(DType::F32, rows, cols, 41);
    const std::vector<float> x = random_floats(n * cols, 42);
    AmxF16Activations a;
    a.reset(n, cols);
    a.pack_rows(x.data(), cols, 0, n);
    std::vector<float> y(n * rows);
    matmul_amx_f16_scalar(m.view, a, y.data(), rows, 0, rows);
    for (size_t t = 0; t < n; ++t)
      for (uint64_t r = 0; r < rows; ++r) {
        const auto [abs, sum] = exact_dot(m.view, a, r, t);
        ASSERT_LE(std::fabs(y[t * rows + r] - sum), 0x1p-22 * abs + 0x1p-24 * std::fabs(sum))
            << "token " << t << " row " << r;
      }
  }
}

TEST(AmxF32Test, TilesMatchTwin) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  uint32_t seed = 200;
  for (const auto& [rows, cols, n, r0, r1] : std::vector<std::tuple<uint64_t, uint64_t, size_t, uint64_t, uint64_t>>{
           {45, 72, 16, 0, 45},        // inputs not a multiple of 32
           {45, 80, 37, 0, 45},        // odd token count: a padded tile pair
           {45, 72, 21, 3, 14},        // one partial row tile, unaligned
           {70, 2100, 33, 5, 70},      // more than one slice of steps, a second panel
           {100, 3072, 200, 3, 100}}) {  // activations past 2 MiB: 64 rows per pass
    SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " n " + std::to_string(n));
    auto m = make_matrix(DType::F32, rows, cols, seed += 10);
    const size_t ldx = cols + 3, ldy = rows + 5;
    const std::vector<float> x = random_floats(n * ldx, seed + 1);
    AmxF16Activations a;
    a.reset(n, cols);
    a.pack_rows(x.data(), ldx, 0, n);
    const float sentinel = 12345.0f;
    std::vector<float> want(n * ldy, sentinel), got(n * ldy, sentinel);
    matmul_amx_f16_scalar(m.view, a, want.data(), ldy, r0, r1);
    matmul_amx_f16(m.view, a, got.data(), ldy, r0, r1);
    for (size_t t = 0; t < n; ++t)
      for (uint64_t r = 0; r < ldy; ++r) {
        const size_t i = t * ldy + r;
        if (r < r0 || r >= r1) {
          ASSERT_EQ(got[i], sentinel) << "wrote outside its rows: token " << t << " row " << r;
          continue;
        }
        const double bound = (6 * static_cast<double>(cols) + 4) * 0x1p-24 * exact_dot(m.view, a, r, t).first + 1e-30;
        ASSERT_LE(std::fabs(double{got[i]} - want[i]), bound) << "token " << t << " row " << r;
      }
  }
}

// One nonzero weight per row whose third part is not zero: each output is one product, which
// the tiles sum from its six parts; leaving out w_lo2 x_hi moves it by 2^-18 of w x or more.
TEST(AmxF32Test, TilesKeepEveryPartOfEachProduct) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  const uint64_t rows = 40, cols = 200;
  const size_t n = 35;
  std::vector<float> weights(rows * cols, 0.0f);
  std::mt19937 rng(19);
  std::uniform_int_distribution<uint64_t> column(0, cols - 1);
  std::uniform_int_distribution<uint32_t> bits7(0, 127), exponent(120, 130), sign(0, 1);
  for (uint64_t r = 0; r < rows; ++r) {
    // Mantissa bits 22-16 (w_hi; bit 15 clear, so it rounds down), bits 14-7 (w_lo, led by bit
    // 14; bit 6 clear, so it rounds down too) and bits 5-0 (w_lo2, bit 5 set): w_lo2 is
    // 2^-18 to 2^-17 of w, sixteen times the bound below.
    const uint32_t mantissa = bits7(rng) << 16 | 1u << 14 | bits7(rng) << 7 | 1u << 5 | (bits7(rng) & 31);
    const uint32_t bits = sign(rng) << 31 | exponent(rng) << 23 | mantissa;
    float w;
    std::memcpy(&w, &bits, 4);
    weights[r * cols + column(rng)] = w;
  }
  const MatrixView w{DType::F32, reinterpret_cast<const uint8_t*>(weights.data()), rows, cols, cols * 4};
  const std::vector<float> x = random_floats(n * cols, 20);
  AmxF16Activations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), cols, 0, n);
  std::vector<float> want(n * rows), got(n * rows);
  matmul_amx_f16_scalar(w, a, want.data(), rows, 0, rows);
  matmul_amx_f16(w, a, got.data(), rows, 0, rows);
  for (size_t t = 0; t < n; ++t)
    for (uint64_t r = 0; r < rows; ++r) {
      const size_t i = t * rows + r;
      ASSERT_LE(std::fabs(got[i] - want[i]), 0x1p-21 * std::fabs(want[i])) << "token " << t << " row " << r;
    }
}

TEST(AmxF32Test, F32CopyOfF16MatrixGivesTheSameBits) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  const uint64_t rows = 70, cols = 2100;
  const size_t n = 45;
  auto h = make_matrix(DType::F16, rows, cols, 77);
  std::vector<float> copy(rows * cols);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t c = 0; c < cols; ++c) {
      uint16_t bits;
      std::memcpy(&bits, h.view.row(r) + 2 * c, 2);
      copy[r * cols + c] = fp16_to_fp32(bits);
    }
  const MatrixView f{DType::F32, reinterpret_cast<const uint8_t*>(copy.data()), rows, cols, cols * 4};
  const std::vector<float> x = random_floats(n * cols, 78);
  AmxF16Activations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), cols, 0, n);
  std::vector<float> from_f16(n * rows), from_f32(n * rows);
  matmul_amx_f16(h.view, a, from_f16.data(), rows, 0, rows);
  matmul_amx_f16(f, a, from_f32.data(), rows, 0, rows);
  ASSERT_EQ(0, std::memcmp(from_f16.data(), from_f32.data(), from_f16.size() * sizeof(float)));
}

}  // namespace
}  // namespace lmforge
