// The Q4_1 / Q5_0 / Q5_1 products: the scalar twins against a float64 reference built from the
// quant table's decoders (quant/type_traits decode_row), and the dispatched kernels against the
// twins on every compiled target, including blocks that stress the fifth bit, the largest codes
// and the largest activations. (matmul_test.cpp runs these types through its generic checks too.)
#include "kernels/matmul_q4_1_q5.h"

#include <cmath>
#include <cstring>

#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"
#include "quant/q5.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::make_matrix;
using test::random_floats;

constexpr double kUnitRoundoff = 5.97e-8;  // 2^-24
const DType kTypes[] = {DType::Q4_1, DType::Q5_0, DType::Q5_1};

// The float64 value the product must approximate: decode_row's weights times the activations
// the kernel sees (d_x * q, the packed row), summed in double. Also returns, in `magnitude`,
// sum_c (|w_c - m| + |m|) |d_x q_c| (m = the block's minimum, 0 for Q5_0): a bound on the sum of
// the absolute values of every partial sum the kernels form (the integer block sums are exact;
// the d n and m parts of a block are scaled and added in float). A float sum of nb block terms,
// each rounded a few times, is within (nb + 3) u * magnitude of the exact value. Q4_1/Q5_1
// multiply m by llama.cpp's Q8_1 sum fp16(d s) (d = amax / 127 unrounded; d_x = fp16(d)), which
// is within 2^-11 |d s| + 2^-25 of d s, and |d - d_x| <= 2^-11 |d_x| (1 + 2^-11): so a block moves
// by at most |m| (1.001 * 2^-10 |d_x s| + 2^-25) from m d_x s, summed over the blocks in `rounding`.
double reference(const MatrixView& w, uint64_t r, const PackedActivations& p, size_t t, double* magnitude,
                 double* rounding) {
  std::vector<float> row(w.cols);
  decode_row(w.type, w.row(r), row.data(), w.cols);
  const size_t block_bytes = w.row_bytes / (w.cols / 32);
  double exact = 0.0;
  *magnitude = 0.0;
  *rounding = 0.0;
  for (uint64_t b = 0; b < w.cols / 32; ++b) {
    double mw = 0.0;
    if (w.type != DType::Q5_0) {
      uint16_t h;
      std::memcpy(&h, w.row(r) + b * block_bytes + 2, 2);
      mw = fp16_to_fp32(h);
    }
    const double dx = p.block_scales(t)[b];
    int32_t sum_q = 0;
    for (size_t j = 0; j < 32; ++j) sum_q += p.quants(t)[b * 32 + j];
    *rounding += std::fabs(mw) * (std::fabs(dx * sum_q) * 1.001 * 0x1p-10 + 0x1p-25);
    for (size_t j = 0; j < 32; ++j) {
      const double wc = row[b * 32 + j], xc = dx * p.quants(t)[b * 32 + j];
      exact += wc * xc;
      *magnitude += (std::fabs(wc - mw) + std::fabs(mw)) * std::fabs(xc);
    }
  }
  return exact;
}

// Packs n rows of random activations (one all-zero block in row 0) for `type`.
PackedActivations packed(DType type, size_t n, uint64_t cols, uint32_t seed) {
  std::vector<float> x = random_floats(n * cols, seed);
  for (size_t j = 0; j < 32; ++j) x[j] = 0.0f;
  PackedActivations p;
  p.reset(type, n, cols);
  p.pack_rows_scalar(x.data(), cols, 0, n);
  return p;
}

// Q4_1/Q5_1 activations carry llama.cpp's Q8_1 sums (quantize_row_q8_1: s = fp16(d * sum q)
// with d = amax / 127 before its own fp16 rounding); Q5_0's are the exact sums, as Q4_0's.
TEST(MatmulQ41Q5Test, ActivationSumsFollowLlamaCppQ8_1) {
  std::vector<float> x(64);
  for (size_t j = 0; j < 64; ++j) x[j] = 0.37f * static_cast<float>(j % 11) - 0.9f;
  for (DType type : kTypes) {
    PackedActivations p;
    p.reset(type, 1, 64);
    p.pack_rows_scalar(x.data(), 64, 0, 1);
    EXPECT_EQ(p.scaled_sums(), type != DType::Q5_0);
    for (size_t b = 0; b < 2; ++b) {
      float amax = 0.0f;
      int32_t sum = 0;
      for (size_t j = 0; j < 32; ++j) {
        amax = std::max(amax, std::fabs(x[32 * b + j]));
        sum += p.quants(0)[32 * b + j];
      }
      const float want = type == DType::Q5_0 ? static_cast<float>(sum)
                                              : fp16_to_fp32(fp32_to_fp16(amax / 127.0f * static_cast<float>(sum)));
      EXPECT_EQ(p.block_sums(0)[b], want) << dtype_name(type) << " block " << b;
      EXPECT_EQ(p.block_scales(0)[b], fp16_to_fp32(fp32_to_fp16(amax / 127.0f)));
    }
  }
}

TEST(MatmulQ41Q5Test, ScalarTwinMatchesFloat64Reference) {
  for (DType type : kTypes) {
    for (uint64_t cols : {32u, 96u, 2048u}) {
      SCOPED_TRACE(std::string(dtype_name(type)) + " cols " + std::to_string(cols));
      const uint64_t rows = 9;
      const size_t n = 3;
      auto m = make_matrix(type, rows, cols, 17 + static_cast<uint32_t>(cols));
      const PackedActivations p = packed(type, n, cols, 5);
      std::vector<float> y(n * rows);
      matmul_packed_scalar(m.view, p, y.data(), rows, 0, rows);
      for (size_t t = 0; t < n; ++t) {
        for (uint64_t r = 0; r < rows; ++r) {
          double magnitude = 0.0, rounding = 0.0;
          const double want = reference(m.view, r, p, t, &magnitude, &rounding);
          EXPECT_NEAR(y[t * rows + r], want, (cols / 32 + 3) * kUnitRoundoff * magnitude + rounding + 1e-30)
              << "t " << t << " r " << r;
        }
      }
    }
  }
}

// Blocks built by hand: every code at its largest (15 or 31, all fifth bits set), every code 0
// with the fifth bit alone, alternating bits, negative and positive minimums, against
// activations at +-127 (the largest pair sums vpmaddubsw sees: 2 * 31 * 127).
void fill_extreme_blocks(DType type, MatrixView& w, uint8_t* data) {
  const size_t bb = w.row_bytes / (w.cols / 32);
  for (uint64_t r = 0; r < w.rows; ++r) {
    for (uint64_t b = 0; b < w.cols / 32; ++b) {
      uint8_t* blk = data + r * w.row_bytes + b * bb;
      const uint16_t d = fp32_to_fp16(0.01f * static_cast<float>(1 + (r + b) % 5));
      const uint16_t m = fp32_to_fp16((r + b) % 2 ? -0.3f : 0.2f);
      std::memcpy(blk, &d, 2);
      size_t at = 2;
      if (type != DType::Q5_0) {
        std::memcpy(blk + 2, &m, 2);
        at = 4;
      }
      const uint32_t pattern = (r + b) % 3;
      const uint8_t nib = pattern == 0 ? 0xFF : pattern == 1 ? 0x00 : 0x5A;
      if (type != DType::Q4_1) {
        const uint32_t qh = pattern == 0 ? 0xFFFFFFFFu : pattern == 1 ? 0xFFFF0000u : 0x5A5AA5A5u;
        for (size_t k = 0; k < 4; ++k) blk[at + k] = static_cast<uint8_t>(qh >> (8 * k));
        at += 4;
      }
      std::memset(blk + at, nib, 16);
    }
  }
}

void expect_dispatched_matches_scalar(const MatrixView& w, const PackedActivations& p) {
  const size_t n = p.n();
  for_each_target([&](const std::string&) {
    std::vector<float> got(n * w.rows), want(n * w.rows);
    matmul_packed(w, p, got.data(), w.rows, 0, w.rows);
    matmul_packed_scalar(w, p, want.data(), w.rows, 0, w.rows);
    for (size_t t = 0; t < n; ++t) {
      for (uint64_t r = 0; r < w.rows; ++r) {
        double magnitude = 0.0, rounding = 0.0;
        reference(w, r, p, t, &magnitude, &rounding);
        // Both are within (nb + 3) u * magnitude of the same value (they round d_x s alike).
        ASSERT_NEAR(got[t * w.rows + r], want[t * w.rows + r], 2 * (w.cols / 32 + 3) * kUnitRoundoff * magnitude + 1e-30)
            << dtype_name(w.type) << " t " << t << " r " << r;
      }
    }
  });
}

TEST(MatmulQ41Q5Test, DispatchedMatchesScalarOnExtremeBlocks) {
  for (DType type : kTypes) {
    const uint64_t rows = 7, cols = 256;
    auto m = make_matrix(type, rows, cols, 3);
    fill_extreme_blocks(type, m.view, const_cast<uint8_t*>(m.view.data));
    for (size_t n : {1u, 5u}) {
      // Activations whose blocks quantize to +-127 everywhere: equal magnitudes, mixed signs.
      std::vector<float> x(n * cols);
      for (size_t c = 0; c < x.size(); ++c) x[c] = (c * 7 + c / 5) % 3 ? 1.0f : -1.0f;
      PackedActivations p;
      p.reset(type, n, cols);
      p.pack_rows_scalar(x.data(), cols, 0, n);
      ASSERT_EQ(std::abs(p.quants(0)[0]), 127);
      expect_dispatched_matches_scalar(m.view, p);
    }
  }
}

TEST(MatmulQ41Q5Test, DispatchedMatchesScalarOnRandomBlocks) {
  for (DType type : kTypes) {
    for (size_t n : {1u, 2u, 4u, 7u, 33u}) {
      auto m = make_matrix(type, 19, 512, 40 + static_cast<uint32_t>(n));
      expect_dispatched_matches_scalar(m.view, packed(type, n, 512, 41));
    }
    // Generation reads rows in 8 strided streams plus a remainder: 67 = 8 * 8 + 3 rows.
    auto m = make_matrix(type, 67, 256, 50);
    expect_dispatched_matches_scalar(m.view, packed(type, 1, 256, 51));
  }
}

// The product really depends on the fifth bits and the minimum: clearing them changes it.
TEST(MatmulQ41Q5Test, FifthBitAndMinimumMatter) {
  for (DType type : kTypes) {
    const uint64_t rows = 4, cols = 128;
    auto m = make_matrix(type, rows, cols, 8);
    fill_extreme_blocks(type, m.view, const_cast<uint8_t*>(m.view.data));
    const PackedActivations p = packed(type, 1, cols, 9);
    std::vector<float> before(rows), after(rows);
    matmul_packed(m.view, p, before.data(), rows, 0, rows);
    uint8_t* data = const_cast<uint8_t*>(m.view.data);
    const size_t bb = m.view.row_bytes / (cols / 32);
    for (uint64_t b = 0; b < rows * cols / 32; ++b) {
      uint8_t* blk = data + b * bb;
      if (type == DType::Q4_1) std::memset(blk + 2, 0, 2);                // m = 0
      if (type == DType::Q5_0) std::memset(blk + 2, 0, 4);                // qh = 0
      if (type == DType::Q5_1) std::memset(blk + 4, 0, 4);                // qh = 0
    }
    matmul_packed(m.view, p, after.data(), rows, 0, rows);
    for (uint64_t r = 0; r < rows; ++r) EXPECT_NE(before[r], after[r]) << dtype_name(type) << " r " << r;
  }
}

}  // namespace
}  // namespace lmforge
