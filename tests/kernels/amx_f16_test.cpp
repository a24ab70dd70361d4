// The exact F16 product on AMX tiles (kernels/amx_f16.h): the three-part split is exact, the
// activation tiles hold it in the layout the hardware reads, the scalar twin is the float
// product of the F16 weights to float precision (its one dropped term, w_lo x_lo, is below
// 2^-26 of each product), and the tiles give the twin's results within fp32 summation error on
// row, token and input counts that are not multiples of the tile sizes. The tile comparisons
// skip on CPUs (or kernels) without AMX.
#include "kernels/amx_f16.h"

#include <cmath>
#include <limits>
#include <random>
#include <tuple>

#include "kernel_test_util.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"

namespace lmforge {
namespace {

using test::make_matrix;
using test::random_floats;

double triple_value(Bf16Triple p) {
  return double{bf16_to_float(p.hi)} + bf16_to_float(p.mid) + bf16_to_float(p.lo);
}

float f16_at(const MatrixView& w, uint64_t r, uint64_t c) {
  uint16_t h;
  std::memcpy(&h, w.row(r) + 2 * c, 2);
  return fp16_to_fp32(h);
}

TEST(AmxF16Test, ThreePartsAreExact) {
  std::mt19937 rng(7);
  for (float scale : {1e-20f, 1e-3f, 1.0f, 3e4f, 1e30f}) {  // rests stay normal floats
    std::normal_distribution<float> dist(0.0f, scale);
    for (int i = 0; i < 20000; ++i) {
      const float x = dist(rng);
      const Bf16Triple p = split_bf16_3(x);
      EXPECT_EQ(p.hi, bf16_round(x));
      ASSERT_EQ(triple_value(p), double{x}) << x;
    }
  }
  // Every finite F16 value is hi + mid exactly: its third part is zero.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float w = fp16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isfinite(w)) continue;
    const Bf16Triple p = split_bf16_3(w);
    ASSERT_EQ(p.lo, 0) << std::hex << h;
    ASSERT_EQ(double{bf16_to_float(p.hi)} + bf16_to_float(p.mid), double{w}) << std::hex << h;
  }
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(split_bf16_3(inf).hi, 0x7F80);
  EXPECT_EQ(split_bf16_3(-inf).mid, 0);
  EXPECT_EQ(split_bf16_3(std::numeric_limits<float>::max()).lo, 0) << "rounds up to infinity: no rest";
}

TEST(AmxF16Test, ActivationsHoldTheSplitInputsAndZeroPadding) {
  const size_t n = 37;
  const uint64_t cols = 80;  // 3 steps of 32, the last half padding
  const std::vector<float> x = random_floats(n * 100, 3);
  AmxF16Activations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), 100, 0, 20);  // through the AVX-512 split where AMX is usable
  a.pack_rows(x.data(), 100, 20, n);
  EXPECT_EQ(a.steps(), 3u);
  EXPECT_EQ(a.token_tiles(), 4u);
  for (size_t t = 0; t < 64; ++t)
    for (uint64_t k = 0; k < 96; ++k) {
      const Bf16Triple want = t < n && k < cols ? split_bf16_3(x[t * 100 + k]) : Bf16Triple{0, 0, 0};
      const Bf16Triple got = a.at(t, k);
      ASSERT_EQ(got.hi, want.hi) << "token " << t << " input " << k;
      ASSERT_EQ(got.mid, want.mid) << "token " << t << " input " << k;
      ASSERT_EQ(got.lo, want.lo) << "token " << t << " input " << k;
    }
  // The B tile layout the hardware reads: row p of tile (j, s) is input pair p, 16 tokens x 2;
  // x_hi, then x_mid 512 bf16 further, then x_lo.
  const Bf16Triple v = split_bf16_3(x[(16 + 5) * 100 + 64 + 7]);
  EXPECT_EQ(a.tile(1, 2)[3 * 32 + 5 * 2 + 1], v.hi);
  EXPECT_EQ(a.tile(1, 2)[512 + 3 * 32 + 5 * 2 + 1], v.mid);
  EXPECT_EQ(a.tile(1, 2)[1024 + 3 * 32 + 5 * 2 + 1], v.lo);
}

// sum_c |W[r][c] x[t][c]| (the scale of every error) and sum_c W[r][c] x[t][c], in double, from
// the F16 weights and the packed activations (which are the inputs exactly).
std::pair<double, double> exact_dot(const MatrixView& w, const AmxF16Activations& x, uint64_t r, size_t t) {
  double abs = 0, sum = 0;
  for (uint64_t c = 0; c < w.cols; ++c) {
    const double p = double{f16_at(w, r, c)} * triple_value(x.at(t, c));
    abs += std::fabs(p);
    sum += p;
  }
  return {abs, sum};
}

// The twin is the float product: the dropped w_lo x_lo is below 2^-26 of each term, the double
// sum adds nothing visible, and the result is rounded to float once. (Dropping any other of
// the five products moves terms by 2^-17 or more: far outside this bound.)
TEST(AmxF16Test, TwinIsTheExactProductToFloatPrecision) {
  for (uint64_t cols : {72u, 2048u}) {
    SCOPED_TRACE("cols " + std::to_string(cols));
    const uint64_t rows = 7;
    const size_t n = 5;
    auto m = make_matrix(DType::F16, rows, cols, 31);
    const std::vector<float> x = random_floats(n * cols, 32);
    AmxF16Activations a;
    a.reset(n, cols);
    a.pack_rows(x.data(), cols, 0, n);
    std::vector<float> y(n * rows);
    matmul_amx_f16_scalar(m.view, a, y.data(), rows, 0, rows);
    for (size_t t = 0; t < n; ++t)
      for (uint64_t r = 0; r < rows; ++r) {
        const auto [abs, sum] = exact_dot(m.view, a, r, t);
        ASSERT_LE(std::fabs(y[t * rows + r] - sum), 0x1p-25 * abs + 0x1p-24 * std::fabs(sum))
            << "token " << t << " row " << r;
      }
  }
}

// Runs the tiles and the twin on rows [r0, r1) of an F16 matrix and compares them: fp32 sums of
// 5 * cols exact products in another order. Rows outside the range must stay untouched.
void expect_tiles_match_twin(uint64_t rows, uint64_t cols, size_t n, uint64_t r0, uint64_t r1, uint32_t seed) {
  SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " n " + std::to_string(n) +
               " r0 " + std::to_string(r0) + " r1 " + std::to_string(r1));
  auto m = make_matrix(DType::F16, rows, cols, seed);
  const size_t ldx = cols + 3;
  const std::vector<float> x = random_floats(n * ldx, seed + 1);
  AmxF16Activations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), ldx, 0, n);
  const size_t ldy = rows + 5;
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
      const double bound = (5 * static_cast<double>(cols) + 4) * 0x1p-24 * exact_dot(m.view, a, r, t).first + 1e-30;
      ASSERT_LE(std::fabs(double{got[i]} - want[i]), bound) << "token " << t << " row " << r;
    }
}

// One nonzero weight per row: each output is one product w x, which the tiles sum from its five
// parts in fp32 (within 2 ulp of the exact value) and the twin rounds once. Leaving out any part
// but w_lo x_lo moves it by 2^-17 of w x or more: 32 ulp. (The random matrices above cannot
// see that: their fp32 summation bound is wider.)
TEST(AmxF16Test, TilesKeepEveryPartOfEachProduct) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  const uint64_t rows = 40, cols = 200;
  const size_t n = 35;
  std::vector<uint16_t> bytes(rows * cols, 0);  // +0 in F16
  std::mt19937 rng(9);
  std::uniform_int_distribution<uint64_t> column(0, cols - 1);
  std::normal_distribution<float> value(0.0f, 1.0f);
  for (uint64_t r = 0; r < rows; ++r) {
    // A weight with all 11 significant bits, so that its low bf16 part is not zero.
    uint16_t h = fp32_to_fp16(value(rng));
    h = static_cast<uint16_t>(h | 0x0007);
    bytes[r * cols + column(rng)] = h;
  }
  const MatrixView w{DType::F16, reinterpret_cast<const uint8_t*>(bytes.data()), rows, cols, cols * 2};
  const std::vector<float> x = random_floats(n * cols, 10);
  AmxF16Activations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), cols, 0, n);
  std::vector<float> want(n * rows), got(n * rows);
  matmul_amx_f16_scalar(w, a, want.data(), rows, 0, rows);
  matmul_amx_f16(w, a, got.data(), rows, 0, rows);
  for (size_t t = 0; t < n; ++t)
    for (uint64_t r = 0; r < rows; ++r) {
      const size_t i = t * rows + r;
      ASSERT_LE(std::fabs(got[i] - want[i]), 0x1p-22 * std::fabs(want[i])) << "token " << t << " row " << r;
    }
}

TEST(AmxF16Test, TilesMatchTwin) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  uint32_t seed = 100;
  for (const auto& [rows, cols, n, r0, r1] : std::vector<std::tuple<uint64_t, uint64_t, size_t, uint64_t, uint64_t>>{
           {45, 72, 16, 0, 45},     // inputs not a multiple of 32
           {45, 80, 37, 0, 45},     // odd token count: a padded tile pair
           {45, 96, 50, 16, 45},    // a 29-row range: two row tiles, one partial
           {45, 72, 21, 3, 14},     // one partial row tile, unaligned
           {70, 2100, 33, 5, 70},   // more than one slice of steps, a second panel
           {64, 4096, 64, 0, 64},     // two full panels, four token tiles
           {100, 5632, 40, 3, 100}}) {  // activations past 2 MiB: 64 rows per pass, then 32 + 1
    expect_tiles_match_twin(rows, cols, n, r0, r1, seed += 10);
  }
}

}  // namespace
}  // namespace lmforge
