// Interleaved Q8_0 / Q4_0 weights: the regrouping is exact (every original block comes back
// byte for byte), the scalar twin agrees with matmul_packed_scalar on the original matrix, and
// every compiled Highway target agrees with the twin within the float-summation bound.
#include "kernels/interleaved.h"

#include <cmath>

#include "kernel_test_util.h"
#include "kernels/matmul_ref.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::make_matrix;
using test::random_floats;

constexpr float kUnitRoundoff = 5.97e-8f;  // 2^-24

const std::vector<DType>& interleaved_types() {
  static const std::vector<DType> types = {DType::Q8_0, DType::Q4_0};
  return types;
}

// sum_c |W[r][c] * x~[c]| with x~ the packed (dequantized) activation: the scale of every
// rounding error of a dot product.
double abs_dot(const MatrixView& w, uint64_t r, const PackedActivations& p, size_t t) {
  std::vector<float> row(w.cols);
  matrix_row_ref(w, r, row.data());
  double s = 0;
  for (uint64_t c = 0; c < w.cols; ++c)
    s += std::fabs(static_cast<double>(row[c]) * p.block_scales(t)[c / 32] * p.quants(t)[c]);
  return s;
}

TEST(InterleavedTest, SupportsQ8_0AndQ4_0Only) {
  EXPECT_TRUE(InterleavedMatrix::supports(DType::Q8_0));
  EXPECT_TRUE(InterleavedMatrix::supports(DType::Q4_0));
  EXPECT_FALSE(InterleavedMatrix::supports(DType::F16));
  EXPECT_FALSE(InterleavedMatrix::supports(DType::F32));
}

TEST(InterleavedTest, RegroupingKeepsEveryBlock) {
  for (DType type : interleaved_types()) {
    for (uint64_t rows : {1u, 7u, 8u, 9u, 21u}) {
      auto m = make_matrix(type, rows, 96, 5 + static_cast<uint32_t>(rows));
      const InterleavedMatrix il(m.view);
      ASSERT_EQ(il.groups(), (rows + 7) / 8);
      const size_t bb = type == DType::Q8_0 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
      EXPECT_EQ(il.block_group_bytes(), 8 * bb) << "same size as the 8 original blocks";
      std::vector<uint8_t> got(bb);
      for (uint64_t r = 0; r < il.groups() * 8; ++r) {
        for (uint64_t b = 0; b < 3; ++b) {
          il.original_block(r, b, got.data());
          if (r < rows) {
            ASSERT_EQ(std::memcmp(got.data(), m.view.row(r) + b * bb, bb), 0) << "row " << r << " block " << b;
          } else {
            for (uint8_t v : got) ASSERT_EQ(v, 0) << "padding row " << r;
          }
        }
      }
    }
  }
  // The layout itself (kernels depend on it): Q4_0 row 3, block 0, bytes 4..7 sit in chunk 1.
  auto m = make_matrix(DType::Q4_0, 8, 32, 9);
  const InterleavedMatrix il(m.view);
  EXPECT_EQ(std::memcmp(il.block_group(0, 0) + 16 + (1 * 8 + 3) * 4, m.view.row(3) + 2 + 4, 4), 0);
  EXPECT_EQ(std::memcmp(il.block_group(0, 0) + 2 * 3, m.view.row(3), 2), 0);
}

void expect_interleaved_matches(DType type, uint64_t rows, uint64_t cols, size_t n, uint64_t r0, uint64_t r1,
                                uint32_t seed, bool dispatched) {
  SCOPED_TRACE(std::string(dtype_name(type)) + " rows " + std::to_string(rows) + " cols " + std::to_string(cols) +
               " n " + std::to_string(n) + " r0 " + std::to_string(r0) + " r1 " + std::to_string(r1));
  auto m = make_matrix(type, rows, cols, seed);
  const InterleavedMatrix il(m.view);
  const std::vector<float> x = random_floats(n * cols, seed + 1);
  PackedActivations p;
  p.reset(type, n, cols);
  p.pack_rows_scalar(x.data(), cols, 0, n);
  const size_t ldy = rows + 5;
  const float sentinel = -12345.0f;
  std::vector<float> got(n * ldy, sentinel), want(n * ldy, sentinel);
  if (dispatched) {
    matmul_interleaved(il, p, got.data(), ldy, r0, r1);
    matmul_interleaved_scalar(il, p, want.data(), ldy, r0, r1);
  } else {  // the twin against the original layout's twin
    matmul_interleaved_scalar(il, p, got.data(), ldy, r0, r1);
    matmul_packed_scalar(m.view, p, want.data(), ldy, r0, r1);
  }
  for (size_t t = 0; t < n; ++t) {
    for (uint64_t r = 0; r < ldy; ++r) {
      const size_t i = t * ldy + r;
      if (r < r0 || r >= r1) {
        ASSERT_EQ(got[i], sentinel) << "wrote outside its range: t " << t << " r " << r;
        continue;
      }
      // The same exact integer block sums, scaled and summed in float in different orders.
      const double bound = 2.0 * cols * kUnitRoundoff * abs_dot(m.view, r, p, t) + 1e-30;
      ASSERT_NEAR(got[i], want[i], bound) << "t " << t << " r " << r;
    }
  }
}

TEST(InterleavedTest, ScalarTwinMatchesOriginalLayoutTwin) {
  for (DType type : interleaved_types()) {
    expect_interleaved_matches(type, 19, 256, 3, 0, 19, 21, false);
    expect_interleaved_matches(type, 19, 256, 2, 5, 13, 22, false);
  }
}

TEST(InterleavedTest, DispatchedMatchesScalarTwin) {
  for_each_target([&](const std::string&) {
    for (DType type : interleaved_types()) {
      uint32_t seed = 100;
      for (uint64_t cols : {32u, 96u, 512u, 5632u}) {
        for (size_t n : {1u, 2u, 3u, 4u, 5u, 8u, 9u, 17u}) {
          const uint64_t rows = cols >= 4096 ? 11 : 37;
          expect_interleaved_matches(type, rows, cols, n, 0, rows, ++seed, true);
          expect_interleaved_matches(type, rows, cols, n, 3, rows - 1, ++seed, true);
          expect_interleaved_matches(type, rows, cols, n, 8, rows >= 24 ? 24 : rows, ++seed, true);
        }
      }
      expect_interleaved_matches(type, 1, 64, 1, 0, 1, 90, true);
      expect_interleaved_matches(type, 9, 128, 5, 5, 7, 91, true);
      expect_interleaved_matches(type, 9, 128, 17, 2, 2, 92, true);
      // A prompt-sized batch: several token blocks and column chunks.
      expect_interleaved_matches(type, 16, 4096, 150, 0, 16, 93, true);
    }
  });
}

// Generation (1-3 tokens) takes several groups at once on AVX-512 (8, then 2, then 1): row
// counts and ranges that leave every kind of remainder, on every target and, separately, under
// normal dispatch, which on AVX-512 VNNI CPUs picks a target for_each_target does not list
// (interleaved_matmul.cpp alone compiles AVX3_DL).
TEST(InterleavedTest, GenerationOverManyGroups) {
  auto cases = [](bool) {
    for (DType type : interleaved_types()) {
      uint32_t seed = 300;
      for (size_t n : {1u, 2u, 3u}) {
        expect_interleaved_matches(type, 203, 256, n, 0, 203, ++seed, true);   // 25 groups + 3 rows
        expect_interleaved_matches(type, 203, 256, n, 5, 197, ++seed, true);   // both ends cut
        expect_interleaved_matches(type, 160, 96, n, 16, 160, ++seed, true);   // 18 groups
        expect_interleaved_matches(type, 88, 2048, n, 8, 88, ++seed, true);    // 10 groups
      }
    }
  };
  for_each_target([&](const std::string&) { cases(true); });
  cases(false);
}

// Q8_0 files may hold -128: the sign trick must stay exact.
TEST(InterleavedTest, Q8_0WeightMinus128) {
  const uint64_t rows = 10, cols = 256;
  auto m = make_matrix(DType::Q8_0, rows, cols, 3);
  for (uint64_t r = 0; r < rows; ++r) {
    uint8_t* row = const_cast<uint8_t*>(m.view.row(r));
    for (size_t b = 0; b < cols / 32; ++b) row[b * 34 + 2 + (r + b) % 32] = 0x80;
  }
  const InterleavedMatrix il(m.view);
  const std::vector<float> x = random_floats(5 * cols, 4);
  PackedActivations p;
  p.reset(DType::Q8_0, 5, cols);
  p.pack_rows_scalar(x.data(), cols, 0, 5);
  for_each_target([&](const std::string&) {
    std::vector<float> got(5 * rows), want(5 * rows);
    matmul_interleaved(il, p, got.data(), rows, 0, rows);
    matmul_packed_scalar(m.view, p, want.data(), rows, 0, rows);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4f * (1 + std::fabs(want[i])));
  });
}


// A token's products must not depend on the tokens that share its pass (a server batches its
// slots' tokens): each row of a small batch against the same row packed alone, bit for bit.
void expect_rows_independent(DType type, uint64_t rows, uint64_t cols, size_t n, uint64_t r0, uint64_t r1, uint32_t seed) {
  SCOPED_TRACE(std::string(dtype_name(type)) + " rows " + std::to_string(rows) + " cols " + std::to_string(cols) +
               " n " + std::to_string(n) + " r0 " + std::to_string(r0) + " r1 " + std::to_string(r1));
  auto m = make_matrix(type, rows, cols, seed);
  if (type == DType::Q8_0) {  // -128 too: the VNNI form biases the weights by 128
    for (uint64_t r = 0; r < rows; r += 3) const_cast<uint8_t*>(m.view.row(r))[2 + r % 32] = 0x80;
  }
  const InterleavedMatrix il(m.view);
  const std::vector<float> x = random_floats(n * cols, seed + 1);
  PackedActivations batch, one;
  batch.reset(type, n, cols);
  batch.pack_rows_scalar(x.data(), cols, 0, n);
  std::vector<float> got(n * rows), alone(rows);
  matmul_interleaved(il, batch, got.data(), rows, r0, r1);
  for (size_t t = 0; t < n; ++t) {
    one.reset(type, 1, cols);
    one.pack_rows_scalar(x.data() + t * cols, cols, 0, 1);
    matmul_interleaved(il, one, alone.data(), rows, r0, r1);
    for (uint64_t r = r0; r < r1; ++r) {
      uint32_t a, b;
      std::memcpy(&a, &got[t * rows + r], 4);
      std::memcpy(&b, &alone[r], 4);
      ASSERT_EQ(a, b) << "t " << t << " r " << r << ": " << got[t * rows + r] << " batched, " << alone[r] << " alone";
    }
  }
}

// Small batches (2-16 tokens) take their own tiles on AVX-512 (several groups streamed, each
// block decoded once for up to 8 tokens): every remainder of groups, tokens and ranges, against
// the twin on every target and under normal dispatch (which on VNNI CPUs is AVX3_DL), and each
// row bit for bit equal to its product alone wherever no column chunks are taken (up to 2048
// columns on every target; any width on AVX-512, where chunked tiles start at 17 tokens).
TEST(InterleavedTest, SmallBatchesMatchTheTwinAndEachRowAlone) {
  const bool avx512 = (hwy::SupportedTargets() & (HWY_AVX3 | HWY_AVX3_DL)) != 0;
  auto cases = [&](const std::string& target) {
    const bool any_width = target.empty() ? avx512 : target.rfind("AVX3", 0) == 0;
    for (DType type : interleaved_types()) {
      uint32_t seed = 500;
      for (size_t n = 2; n <= 16; ++n) {
        expect_interleaved_matches(type, 203, 256, n, 0, 203, ++seed, true);  // 25 groups + 3 rows
        expect_interleaved_matches(type, 203, 256, n, 5, 197, ++seed, true);  // both ends cut
        expect_rows_independent(type, 203, 256, n, 5, 197, ++seed);
        if (n % 4 == 0 || n % 4 == 1) {  // the wide ones for some remainders: they take longer
          expect_interleaved_matches(type, 40, 2048, n, 8, 40, ++seed, true);
          expect_rows_independent(type, 56, 2048, n, 0, 56, ++seed);
          if (any_width) expect_rows_independent(type, 24, 5632, n, 0, 24, ++seed);
        }
      }
    }
  };
  for_each_target([&](const std::string& name) { cases(name); });
  cases("");
}

}  // namespace
}  // namespace lmforge
