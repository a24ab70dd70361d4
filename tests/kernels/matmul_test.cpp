// The Highway matmul (every compiled target) against its scalar twin, and the scalar twin
// against the double-precision reference matmul_ref.
#include "kernels/matmul.h"

#include <cmath>
#include <limits>

#include "kernel_test_util.h"
#include "kernels/matmul_ref.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::kernel_types;
using test::make_matrix;
using test::random_floats;

constexpr float kUnitRoundoff = 5.97e-8f;  // 2^-24

// The packed activation row t as floats (what the kernel effectively multiplies by).
std::vector<float> effective_activation(const PackedActivations& p, size_t t) {
  std::vector<float> v(p.cols());
  for (uint64_t c = 0; c < p.cols(); ++c) {
    v[c] = p.is_quantized() ? p.block_scales(t)[c / 32] * p.quants(t)[c] : p.floats(t)[c];
  }
  return v;
}

std::vector<float> decode_row(const MatrixView& w, uint64_t r) {
  std::vector<float> v(w.cols);
  matrix_row_ref(w, r, v.data());
  return v;
}

// sum_c |W[r][c] * x[c]|: the scale of every rounding error of a dot product.
double abs_dot(const std::vector<float>& w, const std::vector<float>& x) {
  double s = 0;
  for (size_t c = 0; c < w.size(); ++c) s += std::fabs(static_cast<double>(w[c]) * x[c]);
  return s;
}

TEST(MatmulTest, SupportsTheEngineWeightTypes) {
  for (DType t : kernel_types()) EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
  EXPECT_FALSE(matmul_supports(DType::Q8_K));
  EXPECT_FALSE(matmul_supports(DType::I32));
}

TEST(MatmulTest, PackedRowsAre64ByteAligned) {
  PackedActivations p;
  for (DType t : kernel_types()) {
    for (uint64_t cols : {32u, 96u, 4096u}) {
      p.reset(t, 5, cols);
      EXPECT_EQ(p.row_bytes() % 64, 0u);
      for (size_t r = 0; r < 5; ++r) EXPECT_EQ(reinterpret_cast<uintptr_t>(p.row(r)) % 64, 0u);
    }
  }
}

// The activation quantizer follows llama.cpp's Q8_0 activations: d = fp16(amax / 127),
// q = round-to-nearest-even(x * 127 / amax), and s is the exact block sum of q.
TEST(MatmulTest, ActivationQuantizationMatchesLlamaCppRule) {
  std::vector<float> x(64);
  for (size_t j = 0; j < 32; ++j) x[j] = static_cast<float>(j) - 10.0f;  // amax 21 (x[31])
  for (size_t j = 0; j < 32; ++j) x[32 + j] = 0.0f;                        // all-zero block
  x[0] = -21.0f;
  // Half steps: x * (127 / 21) is exactly 0.5 and 2.5 for these (checked below), which round
  // to the even neighbours 0 and 2, where rounding half away from zero would give 1 and 3.
  x[1] = 0.5f / (127.0f / 21.0f);
  x[2] = 2.5f / (127.0f / 21.0f);
  int8_t q[64];
  float d[2], s[2];
  quantize_activation_row_scalar(x.data(), 64, q, d, s);
  EXPECT_EQ(d[0], fp16_to_fp32(fp32_to_fp16(21.0f / 127.0f)));
  EXPECT_EQ(q[0], -127);
  EXPECT_EQ(q[1], 0);
  ASSERT_EQ(x[1] * (127.0f / 21.0f), 0.5f);
  ASSERT_EQ(x[2] * (127.0f / 21.0f), 2.5f);
  EXPECT_EQ(q[2], 2);
  int sum = 0;
  for (size_t j = 0; j < 32; ++j) sum += q[j];
  EXPECT_EQ(s[0], static_cast<float>(sum));
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_EQ(s[1], 0.0f);
  for (size_t j = 32; j < 64; ++j) EXPECT_EQ(q[j], 0);
}

// Scalar twin vs matmul_ref. Float weights: both multiply the same floats; the twin's float
// running sum may be off by at most cols * u * sum|w x| (the classic bound for recursive
// summation). Q8_0/Q4_0: the twin multiplies by the 8-bit activation d~ * q instead of x; per
// element |d~ q - x| <= d/2 (rounding q) + 127 * d * 2^-11 (d~ = fp16(d)) < 0.57 d with
// d = amax_block / 127, so the product moves by at most sum_c |w_c| * 0.57 * d_block(c).
TEST(MatmulTest, ScalarTwinTracksReference) {
  PackedActivations p;
  for (DType type : kernel_types()) {
    for (uint64_t cols : {32u, 160u, 4096u}) {
      SCOPED_TRACE(std::string(dtype_name(type)) + " cols " + std::to_string(cols));
      const uint64_t rows = 13;
      const size_t n = 3;
      auto m = make_matrix(type, rows, cols, 7 + static_cast<uint32_t>(cols));
      const std::vector<float> x = random_floats(n * cols, 99);
      p.reset(type, n, cols);
      p.pack_rows_scalar(x.data(), cols, 0, n);
      std::vector<float> y(n * rows);
      matmul_packed_scalar(m.view, p, y.data(), rows, 0, rows);
      std::vector<float> ref(rows);
      for (size_t t = 0; t < n; ++t) {
        matmul_ref(m.view, x.data() + t * cols, ref.data());
        const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
        for (uint64_t r = 0; r < rows; ++r) {
          const std::vector<float> wr = decode_row(m.view, r);
          double bound = 2.0 * cols * kUnitRoundoff * abs_dot(wr, xt) + 1e-30;
          if (p.is_quantized()) {
            for (uint64_t c = 0; c < cols; ++c) {
              float amax = 0;
              for (uint64_t j = c / 32 * 32; j < c / 32 * 32 + 32; ++j) amax = std::max(amax, std::fabs(xt[j]));
              bound += std::fabs(wr[c]) * 0.57 * amax / 127.0;
            }
          }
          EXPECT_NEAR(y[t * rows + r], ref[r], bound) << "t " << t << " r " << r;
        }
      }
    }
  }
}

// The quantization bound above is not vacuous: it is far below the product's own size.
TEST(MatmulTest, QuantizedErrorIsSmallComparedToTheProduct) {
  const uint64_t rows = 8, cols = 4096;
  auto m = make_matrix(DType::Q8_0, rows, cols, 5);
  const std::vector<float> x = random_floats(cols, 6);
  PackedActivations p;
  p.reset(DType::Q8_0, 1, cols);
  p.pack_rows_scalar(x.data(), cols, 0, 1);
  std::vector<float> y(rows), ref(rows);
  matmul_packed_scalar(m.view, p, y.data(), rows, 0, rows);
  matmul_ref(m.view, x.data(), ref.data());
  for (uint64_t r = 0; r < rows; ++r) {
    EXPECT_LT(std::fabs(y[r] - ref[r]), 0.01 * abs_dot(decode_row(m.view, r), x));
  }
}

// Dispatched pack_rows must give the very bytes of pack_rows_scalar (llama.cpp numerics).
TEST(MatmulTest, DispatchedPackingEqualsScalar) {
  for_each_target([&](const std::string&) {
    PackedActivations a, b;
    for (DType type : kernel_types()) {
      for (uint64_t cols : {32u, 64u, 96u, 2080u, 4096u}) {
        const size_t n = 5;
        std::vector<float> x = random_floats(n * (cols + 3), 11 + static_cast<uint32_t>(cols), 3.0f);
        x[7] = 0.0f;
        for (size_t j = 0; j < 32 && j < cols; ++j) x[cols + 3 + j] = 0.0f;  // an all-zero block
        a.reset(type, n, cols);
        b.reset(type, n, cols);
        std::memset(a.row(0), 0, a.row_bytes() * n);
        std::memset(b.row(0), 0, b.row_bytes() * n);
        a.pack_rows(x.data(), cols + 3, 0, 2);
        a.pack_rows(x.data(), cols + 3, 2, n);
        b.pack_rows_scalar(x.data(), cols + 3, 0, n);
        for (size_t t = 0; t < n; ++t) {
          ASSERT_EQ(std::memcmp(a.row(t), b.row(t), a.row_bytes()), 0)
              << dtype_name(type) << " cols " << cols << " row " << t;
        }
      }
    }
  });
}

void expect_dispatched_matches_scalar(DType type, uint64_t rows, uint64_t cols, size_t n, uint64_t r0, uint64_t r1,
                                      uint32_t seed) {
  SCOPED_TRACE(std::string(dtype_name(type)) + " rows " + std::to_string(rows) + " cols " + std::to_string(cols) +
               " n " + std::to_string(n) + " r0 " + std::to_string(r0) + " r1 " + std::to_string(r1));
  auto m = make_matrix(type, rows, cols, seed);
  const std::vector<float> x = random_floats(n * cols, seed + 1);
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
      // Both sum the same exact products (or exact integer block sums) in float, in different
      // orders: each is within cols * u * sum|w x~| of the exact value.
      const double bound = 2.0 * cols * kUnitRoundoff * abs_dot(decode_row(m.view, r), xt) + 1e-30;
      ASSERT_NEAR(got[i], want[i], bound) << "t " << t << " r " << r;
    }
  }
}

TEST(MatmulTest, DispatchedMatchesScalarTwin) {
  for_each_target([&](const std::string&) {
    for (DType type : kernel_types()) {
      uint32_t seed = 1;
      for (uint64_t cols : {32u, 64u, 96u, 512u, 4096u}) {
        for (size_t n : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 17u}) {
          const uint64_t rows = cols >= 4096 ? 11 : 37;
          expect_dispatched_matches_scalar(type, rows, cols, n, 0, rows, ++seed);
          expect_dispatched_matches_scalar(type, rows, cols, n, 3, rows - 1, ++seed);
        }
      }
      // One row, and ranges shorter than any tile.
      expect_dispatched_matches_scalar(type, 1, 64, 1, 0, 1, 90);
      expect_dispatched_matches_scalar(type, 9, 128, 5, 5, 7, 91);
      expect_dispatched_matches_scalar(type, 9, 128, 17, 2, 2, 92);
    }
  });
}

// A token's products must not depend on the tokens that share its pass (a server batches its
// slots' tokens): float weights against 2-8 tokens take their own strided tiles on AVX-512;
// every row of such a batch must be the bits of the same row multiplied alone, and within the
// twin's bound. Wide rows too on AVX-512 (5632 columns: the prompt tiles, which other targets
// take from 5 tokens on, split those into column chunks).
TEST(MatmulTest, SmallFloatBatchesMatchTheTwinAndEachRowAlone) {
  const bool avx512 = (hwy::SupportedTargets() & (HWY_AVX3 | HWY_AVX3_DL)) != 0;
  auto cases = [&](const std::string& target) {
    const bool any_width = target.empty() ? avx512 : target.rfind("AVX3", 0) == 0;
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
      uint32_t seed = 700;
      for (size_t n = 2; n <= 8; ++n) {
        expect_dispatched_matches_scalar(type, 45, 256, n, 0, 45, ++seed);  // 5 strided tiles + 5 rows
        expect_dispatched_matches_scalar(type, 45, 256, n, 3, 40, ++seed);
        for (const uint64_t cols : {256u, 5632u}) {
          if (cols > 256 && !any_width) continue;
          const uint64_t rows = cols > 256 ? 19 : 45;
          SCOPED_TRACE(std::string(dtype_name(type)) + " cols " + std::to_string(cols) + " n " + std::to_string(n));
          auto m = make_matrix(type, rows, cols, ++seed);
          const std::vector<float> x = random_floats(n * cols, ++seed);
          PackedActivations batch, one;
          batch.reset(type, n, cols);
          batch.pack_rows_scalar(x.data(), cols, 0, n);
          std::vector<float> got(n * rows), alone(rows);
          matmul_packed(m.view, batch, got.data(), rows, 0, rows);
          for (size_t t = 0; t < n; ++t) {
            one.reset(type, 1, cols);
            one.pack_rows_scalar(x.data() + t * cols, cols, 0, 1);
            matmul_packed(m.view, one, alone.data(), rows, 0, rows);
            for (uint64_t r = 0; r < rows; ++r) {
              uint32_t a, b;
              std::memcpy(&a, &got[t * rows + r], 4);
              std::memcpy(&b, &alone[r], 4);
              ASSERT_EQ(a, b) << "t " << t << " r " << r << ": " << got[t * rows + r] << " batched, " << alone[r] << " alone";
            }
          }
        }
      }
    }
  };
  for_each_target([&](const std::string& name) { cases(name); });
  cases("");
}

// Q8_0 files may hold -128 (ggml's quantizer never writes it, other tools may): the sign tricks
// of 8-bit dot products must still be exact.
TEST(MatmulTest, Q8_0WeightMinus128) {
  const uint64_t rows = 6, cols = 256;
  auto m = make_matrix(DType::Q8_0, rows, cols, 3);
  for (uint64_t r = 0; r < rows; ++r) {
    uint8_t* row = const_cast<uint8_t*>(m.view.row(r));
    for (size_t b = 0; b < cols / 32; ++b) row[b * 34 + 2 + (r + b) % 32] = 0x80;
  }
  const std::vector<float> x = random_floats(4 * cols, 4);
  PackedActivations p;
  p.reset(DType::Q8_0, 4, cols);
  p.pack_rows_scalar(x.data(), cols, 0, 4);
  for_each_target([&](const std::string&) {
    std::vector<float> got(4 * rows), want(4 * rows);
    matmul_packed(m.view, p, got.data(), rows, 0, rows);
    matmul_packed_scalar(m.view, p, want.data(), rows, 0, rows);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4f * (1 + std::fabs(want[i])));
  });
}

TEST(MatmulTest, TargetNameFollowsDispatch) {
  for_each_target([&](const std::string& name) { EXPECT_EQ(std::string(matmul_target_name()), name); });
  EXPECT_NE(std::string(matmul_target_name()), "");
}

}  // namespace
}  // namespace lmforge
