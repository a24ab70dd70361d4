// The K-quant products (Q2_K ... Q6_K): the Q8_K-style activation packing against llama.cpp's
// rule, the super-block decoder against the quant layer's reference dequantizers, the scalar
// twin against the double-precision matmul_ref, and the Highway kernels (every compiled target)
// against the scalar twin.
#include <algorithm>
#include <cmath>

#include "kernel_test_util.h"
#include "kernels/kquant_blocks.h"
#include "kernels/matmul_kquants.h"
#include "kernels/matmul_ref.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::make_matrix;
using test::random_floats;

constexpr double kUnitRoundoff = 5.97e-8;  // 2^-24

const std::vector<DType>& kquant_types() {
  static const std::vector<DType> types = {DType::Q4_K, DType::Q6_K, DType::Q5_K, DType::Q3_K, DType::Q2_K};
  return types;
}

// Packed row t as floats: d * q per super-block (what the kernels multiply by).
std::vector<float> effective_activation(const PackedActivations& p, size_t t) {
  std::vector<float> v(p.cols());
  for (uint64_t c = 0; c < p.cols(); ++c) v[c] = p.block_scales(t)[c / 256] * p.quants(t)[c];
  return v;
}

// Per element, |d * scale * q| + |dmin * min| of row r: the size of each term the kernels add
// (the mins may cancel against the codes, so |w| alone would understate the rounding scale).
std::vector<double> term_sizes(const MatrixView& w, uint64_t r) {
  std::vector<double> out(w.cols);
  KQuantBlock blk;
  for (uint64_t k = 0; k < w.cols / 256; ++k) {
    decode_kquant_block(w.type, w.row(r) + k * kquant_block_bytes(w.type), blk);
    for (size_t j = 0; j < 256; ++j) {
      out[256 * k + j] = std::fabs(double{blk.d} * blk.scale[j / 16] * blk.q[j]) +
                         std::fabs(double{blk.dmin} * blk.min[j / 16]);
    }
  }
  return out;
}

double weighted(const std::vector<double>& size, const std::vector<float>& x) {
  double s = 0;
  for (size_t c = 0; c < size.size(); ++c) s += size[c] * std::fabs(x[c]);
  return s;
}

TEST(MatmulKQuantsTest, EngineRunsEveryKType) {
  for (DType t : kquant_types()) {
    EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
    EXPECT_TRUE(matmul_ref_supports(t)) << dtype_name(t);
    EXPECT_TRUE(is_kquant_weight(t)) << dtype_name(t);
  }
  EXPECT_FALSE(is_kquant_weight(DType::Q4_0));
  EXPECT_FALSE(matmul_supports(DType::Q8_K));  // an activation type, never a weight here
}

TEST(MatmulKQuantsTest, PackedRowsAreAlignedAndHoldEverything) {
  PackedActivations p;
  for (uint64_t cols : {256u, 2816u}) {
    p.reset(DType::Q6_K, 3, cols);
    EXPECT_TRUE(p.is_quantized());
    EXPECT_TRUE(p.is_super_blocks());
    EXPECT_EQ(p.row_bytes() % 64, 0u);
    // q, then d, then the sums end inside the row.
    const auto end = reinterpret_cast<const uint8_t*>(p.group_sums(0) + cols / 16);
    EXPECT_LE(end, p.row(0) + p.row_bytes());
    EXPECT_GE(reinterpret_cast<const uint8_t*>(p.block_scales(0)), p.row(0) + cols);
    for (size_t r = 0; r < 3; ++r) EXPECT_EQ(reinterpret_cast<uintptr_t>(p.row(r)) % 64, 0u);
  }
  p.reset(DType::Q4_0, 2, 256);
  EXPECT_FALSE(p.is_super_blocks());
}

// llama.cpp's Q8_K (quantize_row_q8_K_ref): the signed value of largest magnitude m sets
// iscale = -127 / m, q = nearest(iscale * x) (ties to even), d = 1 / iscale; sums of 16 codes.
TEST(MatmulKQuantsTest, ActivationQuantizationMatchesLlamaCppRule) {
  std::vector<float> x(512, 0.0f);
  for (size_t j = 0; j < 256; ++j) x[j] = static_cast<float>(j % 37) * 0.25f - 3.0f;
  x[5] = 20.0f;    // the maximum, positive: its code is -127
  x[6] = -20.0f;   // same magnitude, later: not the one that sets the sign
  const float iscale = -127.0f / 20.0f;
  x[7] = 0.5f / iscale;  // exactly 0.5 after scaling: ties to even give 0 (not 1)
  x[8] = 2.5f / iscale;  // 2.5: gives 2 (not 3)
  // x[256 .. 511] all zero: d = 0, codes and sums 0.
  std::vector<int8_t> q(512);
  float d[2];
  int16_t sums[32];
  quantize_activation_row_k_scalar(x.data(), 512, q.data(), d, sums);
  EXPECT_EQ(d[0], 1.0f / iscale);
  EXPECT_LT(d[0], 0.0f);
  EXPECT_EQ(q[5], -127);
  EXPECT_EQ(q[6], 127);
  ASSERT_EQ(x[7] * iscale, 0.5f);
  ASSERT_EQ(x[8] * iscale, 2.5f);
  EXPECT_EQ(q[7], 0);
  EXPECT_EQ(q[8], 2);
  for (size_t j = 0; j < 256; ++j) {
    if (j >= 5 && j <= 8) continue;
    EXPECT_EQ(q[j], static_cast<int8_t>(std::nearbyint(iscale * x[j]))) << j;
  }
  for (size_t g = 0; g < 16; ++g) {
    int s = 0;
    for (size_t j = 0; j < 16; ++j) s += q[16 * g + j];
    EXPECT_EQ(sums[g], s) << g;
  }
  EXPECT_EQ(d[1], 0.0f);
  for (size_t g = 16; g < 32; ++g) EXPECT_EQ(sums[g], 0);
  for (size_t j = 256; j < 512; ++j) EXPECT_EQ(q[j], 0);
}

TEST(MatmulKQuantsTest, DispatchedPackingEqualsScalar) {
  for_each_target([&](const std::string&) {
    PackedActivations a, b;
    for (uint64_t cols : {256u, 768u, 5632u}) {
      const size_t n = 5, ld = cols + 3;
      std::vector<float> x = random_floats(n * ld, 17 + static_cast<uint32_t>(cols), 3.0f);
      for (size_t j = 0; j < 256; ++j) x[ld + j] = 0.0f;  // an all-zero super-block
      x[2 * ld + 9] = 50.0f;                              // equal magnitudes, opposite signs
      x[2 * ld + 3] = -50.0f;
      a.reset(DType::Q4_K, n, cols);
      b.reset(DType::Q4_K, n, cols);
      std::memset(a.row(0), 0, a.row_bytes() * n);
      std::memset(b.row(0), 0, b.row_bytes() * n);
      a.pack_rows(x.data(), ld, 0, 2);
      a.pack_rows(x.data(), ld, 2, n);
      b.pack_rows_scalar(x.data(), ld, 0, n);
      for (size_t t = 0; t < n; ++t)
        ASSERT_EQ(std::memcmp(a.row(t), b.row(t), a.row_bytes()), 0) << "cols " << cols << " row " << t;
    }
  });
}

// The kernels' common block form decodes every element exactly as the quant layer's
// dequantizers (bit-exact with ggml's) do, with the same float operations.
TEST(MatmulKQuantsTest, BlockDecoderMatchesReferenceDequantizer) {
  for (DType type : kquant_types()) {
    SCOPED_TRACE(dtype_name(type));
    auto m = make_matrix(type, 3, 512, 41);
    KQuantBlock blk;
    std::vector<float> ref(512);
    for (uint64_t r = 0; r < 3; ++r) {
      matrix_row_ref(m.view, r, ref.data());
      for (uint64_t k = 0; k < 2; ++k) {
        decode_kquant_block(type, m.view.row(r) + k * kquant_block_bytes(type), blk);
        for (size_t j = 0; j < 256; ++j) {
          // (d * scale) * q - dmin * min; for the types without a min this is x - 0, exact.
          const float v = blk.d * static_cast<float>(blk.scale[j / 16]) * static_cast<float>(blk.q[j]) -
                          blk.dmin * static_cast<float>(blk.min[j / 16]);
          const float want = ref[256 * k + j];
          ASSERT_EQ(v, want) << "r " << r << " element " << 256 * k + j;
        }
      }
    }
  }
}

// Scalar twin vs matmul_ref (decode_row, double dot). The twin multiplies by d * q instead of
// x: per element |d q - x| <= |d| / 2 (q rounded, d = amax / 127 unrounded), so the product
// moves by at most sum_c |w_c| * 0.5 * amax(c) / 127; then float rounding of a few operations
// per super-block on terms no larger than term_sizes.
TEST(MatmulKQuantsTest, ScalarTwinTracksReference) {
  PackedActivations p;
  for (DType type : kquant_types()) {
    for (uint64_t cols : {256u, 2816u}) {
      SCOPED_TRACE(std::string(dtype_name(type)) + " cols " + std::to_string(cols));
      const uint64_t rows = 7;
      const size_t n = 2;
      auto m = make_matrix(type, rows, cols, 3 + static_cast<uint32_t>(cols));
      const std::vector<float> x = random_floats(n * cols, 77);
      p.reset(type, n, cols);
      p.pack_rows_scalar(x.data(), cols, 0, n);
      std::vector<float> y(n * rows), ref(rows), wr(cols);
      matmul_packed_scalar(m.view, p, y.data(), rows, 0, rows);
      for (size_t t = 0; t < n; ++t) {
        const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
        matmul_ref(m.view, xt.data(), ref.data());
        double quant_bound = 0, plain = 0;
        for (uint64_t r = 0; r < rows; ++r) {
          matrix_row_ref(m.view, r, wr.data());
          double bound = (16.0 * cols / 256 + 32) * kUnitRoundoff * weighted(term_sizes(m.view, r), xt) + 1e-30;
          double q = 0;
          for (uint64_t c = 0; c < cols; ++c) {
            float amax = 0;
            for (uint64_t j = c / 256 * 256; j < c / 256 * 256 + 256; ++j) amax = std::max(amax, std::fabs(xt[j]));
            q += std::fabs(wr[c]) * 0.5 * amax / 127.0 * (1 + 1e-6);
          }
          bound += q;
          quant_bound = std::max(quant_bound, q);
          double p = 0;
          for (uint64_t c = 0; c < cols; ++c) p += std::fabs(double{wr[c]} * xt[c]);
          plain = std::max(plain, p);
          EXPECT_NEAR(y[t * rows + r], ref[r], bound) << "t " << t << " r " << r;
        }
        // The bound is not vacuous: a few percent of sum |w x|, the scale of the products.
        EXPECT_LT(quant_bound, 0.03 * plain);
      }
    }
  }
}

void expect_dispatched_matches_scalar(DType type, uint64_t rows, uint64_t cols, size_t n, uint64_t r0, uint64_t r1,
                                      uint32_t seed) {
  SCOPED_TRACE(std::string(dtype_name(type)) + " rows " + std::to_string(rows) + " cols " + std::to_string(cols) +
               " n " + std::to_string(n) + " r0 " + std::to_string(r0) + " r1 " + std::to_string(r1));
  auto m = make_matrix(type, rows, cols, seed);
  std::vector<float> x = random_floats(n * cols, seed + 1);
  if (n > 1)
    for (size_t j = 0; j < 256; ++j) x[cols + j] = 0.0f;  // token 1 starts with an all-zero block
  PackedActivations p;
  p.reset(type, n, cols);
  p.pack_rows_scalar(x.data(), cols, 0, n);
  const size_t ldy = rows + 5;
  const float sentinel = -12345.0f;
  std::vector<float> got(n * ldy, sentinel), want(n * ldy, sentinel);
  matmul_packed(m.view, p, got.data(), ldy, r0, r1);
  matmul_packed_scalar(m.view, p, want.data(), ldy, r0, r1);
  for (size_t t = 0; t < n; ++t) {
    const std::vector<float> xt = effective_activation(p, t);
    for (uint64_t r = 0; r < ldy; ++r) {
      const size_t i = t * ldy + r;
      if (r < r0 || r >= r1) {
        ASSERT_EQ(got[i], sentinel) << "wrote outside its range: t " << t << " r " << r;
        continue;
      }
      // Exact integer sums in both; float rounding of a few operations per super-block (and
      // per vector lane) on terms no larger than term_sizes.
      const double bound = (16.0 * cols / 256 + 32) * kUnitRoundoff * weighted(term_sizes(m.view, r), xt) + 1e-30;
      ASSERT_NEAR(got[i], want[i], bound) << "t " << t << " r " << r;
    }
  }
}

TEST(MatmulKQuantsTest, DispatchedMatchesScalarTwin) {
  for_each_target([&](const std::string&) {
    for (DType type : kquant_types()) {
      expect_dispatched_matches_scalar(type, 13, 256, 1, 0, 13, 5);      // generation, leftover rows
      expect_dispatched_matches_scalar(type, 9, 2816, 3, 0, 9, 6);       // 11 super-blocks
      expect_dispatched_matches_scalar(type, 21, 512, 9, 3, 19, 7);      // prompt tiles + leftovers
      expect_dispatched_matches_scalar(type, 8, 1024, 70, 0, 8, 8);      // several token tiles
    }
  });
}

}  // namespace
}  // namespace lmforge
