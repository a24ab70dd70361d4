// The K-quant AMX-INT8 product (kernels/amx_kquants.h): the activations' tile layout against
// the Q8_K form it is packed from, the scalar twin bit-identical to the integer kernels' scalar
// twin (matmul_packed_kquant_scalar, written without the hi/lo split), and the AMX tiles
// bit-identical to the twin, for Q4_K, Q5_K and Q6_K, on quantized random floats and on random
// block bytes (every code, scale and min, Q6_K's -128 scales included), with row ranges, token
// counts and input counts that are not multiples of the tile sizes. The tile comparisons skip
// on CPUs (or kernels) without AMX.
#include "kernels/amx_kquants.h"

#include <cstring>
#include <random>

#include "kernel_test_util.h"
#include "kernels/amx_support.h"
#include "kernels/kquant_blocks.h"
#include "kernels/matmul_kquants.h"

namespace lmforge {
namespace {

using test::make_matrix;
using test::random_floats;

const std::vector<DType>& int8_types() {
  static const std::vector<DType> types = {DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  return types;
}

// Random bytes in every block, with finite f16 d (and dmin) of moderate size, so that every
// code, scale and min occurs, extremes included.
test::TestMatrix random_block_matrix(DType type, uint64_t rows, uint64_t cols, uint32_t seed) {
  test::TestMatrix m = make_matrix(type, rows, cols, seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  uint8_t* data = const_cast<uint8_t*>(m.view.data);
  const size_t bytes = kquant_block_bytes(type);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t b = 0; b < cols / 256; ++b) {
      uint8_t* blk = data + r * m.view.row_bytes + b * bytes;
      for (size_t i = 0; i < bytes; ++i) blk[i] = static_cast<uint8_t>(byte(rng));
      const uint16_t d = fp32_to_fp16(scale(rng)), dmin = fp32_to_fp16(scale(rng));
      if (type == DType::Q6_K) {
        std::memcpy(blk + 208, &d, 2);
      } else if (type == DType::Q3_K) {
        std::memcpy(blk + 108, &d, 2);
      } else {
        std::memcpy(blk, &d, 2);
        std::memcpy(blk + 2, &dmin, 2);
      }
    }
  return m;
}

struct Packed {
  PackedActivations p;
  AmxKquantActivations a;
};

// n tokens of random floats (every third token's values all equal: its codes are all +-127,
// the largest sums), in the Q8_K form and its tile layout, packed in two ranges.
void pack(Packed& out, DType type, size_t n, uint64_t cols, uint32_t seed) {
  std::vector<float> x = random_floats(n * cols, seed);
  for (size_t t = 0; t < n; t += 3)
    for (uint64_t c = 0; c < cols; ++c) x[t * cols + c] = t % 2 ? -1.5f : 2.0f;
  out.p.reset(type, n, cols);
  out.p.pack_rows_scalar(x.data(), cols, 0, n);
  out.a.reset(n, cols);
  out.a.pack_from(out.p, 0, n / 2);
  out.a.pack_from(out.p, n / 2, n);
}

TEST(AmxKquantsTest, TakesTheKQuantsWithAFoldableScale) {
  for (DType t : int8_types()) EXPECT_TRUE(amx_kquant_int8(t)) << dtype_name(t);
  for (DType t : {DType::Q2_K, DType::Q4_0, DType::Q8_0, DType::F16}) EXPECT_FALSE(amx_kquant_int8(t));
}

TEST(AmxKquantsTest, ActivationsHoldTheCodesScalesAndSubBlockSums) {
  const size_t n = 37;  // a second tile pair, mostly padding
  const uint64_t cols = 512;
  Packed x;
  pack(x, DType::Q4_K, n, cols, 3);
  EXPECT_EQ(x.a.token_tiles(), 4u);
  EXPECT_EQ(x.a.super_blocks(), 2u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.a.codes()) % 64, 0u);
  for (size_t t = 0; t < 64; ++t) {
    for (uint64_t b = 0; b < 2; ++b) {
      EXPECT_EQ(x.a.scale(t, b), t < n ? x.p.block_scales(t)[b] : 0.0f) << t;
      for (size_t s = 0; s < 8; ++s) {
        const int want = t < n ? x.p.group_sums(t)[b * 16 + 2 * s] + x.p.group_sums(t)[b * 16 + 2 * s + 1] : 0;
        ASSERT_EQ(x.a.sum32(t, b, s), want) << "token " << t << " block " << b << " sub-block " << s;
      }
    }
    for (uint64_t k = 0; k < cols; ++k)
      ASSERT_EQ(x.a.code(t, k), t < n ? x.p.quants(t)[k] : 0) << "token " << t << " input " << k;
  }
  // The B tile of (token tile 1, super-block 1, step 2): row g holds inputs 128 + 4g .. + 3 of
  // each token 16 + c in bytes 4c .. 4c + 3.
  const int8_t* tile = x.a.codes() + (1 * 2 + 1) * AmxKquantActivations::kBlockCodes + 2 * 1024;
  for (size_t g = 0; g < 16; ++g)
    for (size_t c = 0; c < 16; ++c)
      for (size_t i = 0; i < 4; ++i) ASSERT_EQ(tile[g * 64 + c * 4 + i], x.p.quants(16 + c)[256 + 128 + 4 * g + i]);
}

// The twin against matmul_packed_kquant_scalar, bit for bit, rows [r0, r1) only.
void expect_twin_matches_integer_twin(const MatrixView& w, size_t n, uint64_t r0, uint64_t r1, uint32_t seed) {
  Packed x;
  pack(x, w.type, n, w.cols, seed);
  const float kUntouched = -7.0f;
  std::vector<float> want(n * w.rows, kUntouched), got(n * w.rows, kUntouched);
  matmul_packed_kquant_scalar(w, x.p, want.data(), w.rows, r0, r1);
  matmul_amx_kquants_scalar(w, x.a, got.data(), w.rows, r0, r1);
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &want[i], 4);
    std::memcpy(&b, &got[i], 4);
    ASSERT_EQ(a, b) << "token " << i / w.rows << " row " << i % w.rows << ": " << want[i] << " vs " << got[i];
  }
}

TEST(AmxKquantsTest, TwinIsTheIntegerKernelsArithmetic) {
  for (DType type : int8_types()) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    const test::TestMatrix q = make_matrix(type, 21, 768, 11);
    expect_twin_matches_integer_twin(q.view, 19, 0, 21, 12);
    const test::TestMatrix r = random_block_matrix(type, 13, 512, 13);
    expect_twin_matches_integer_twin(r.view, 7, 2, 11, 14);
  }
}

// The AMX tiles against the twin, bit for bit; rows outside [r0, r1) stay untouched.
void expect_tiles_match_twin(const MatrixView& w, size_t n, uint64_t r0, uint64_t r1, uint32_t seed) {
  SCOPED_TRACE("rows " + std::to_string(w.rows) + " cols " + std::to_string(w.cols) + " n " + std::to_string(n) +
               " range " + std::to_string(r0) + ".." + std::to_string(r1));
  Packed x;
  pack(x, w.type, n, w.cols, seed);
  const size_t ldy = w.rows + 3;
  const float kUntouched = -7.0f;
  std::vector<float> want(n * ldy, kUntouched), got(n * ldy, kUntouched);
  matmul_amx_kquants_scalar(w, x.a, want.data(), ldy, r0, r1);
  matmul_amx_kquants(w, x.a, got.data(), ldy, r0, r1);
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &want[i], 4);
    std::memcpy(&b, &got[i], 4);
    ASSERT_EQ(a, b) << "token " << i / ldy << " row " << i % ldy << ": " << want[i] << " vs " << got[i];
  }
}

TEST(AmxKquantsTest, TilesMatchTheTwinBitForBit) {
  if (!amx_usable()) GTEST_SKIP() << "twin checked; this CPU or kernel does not offer AMX for the tiles";
  for (DType type : int8_types()) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    const test::TestMatrix q = make_matrix(type, 77, 768, 21);
    expect_tiles_match_twin(q.view, 37, 0, 77, 22);  // 2 full panels, then 13 rows (one tile)
    expect_tiles_match_twin(q.view, 1, 0, 77, 23);
    expect_tiles_match_twin(q.view, 48, 5, 58, 24);  // a range that starts inside a panel
    const test::TestMatrix r = random_block_matrix(type, 40, 256, 25);
    expect_tiles_match_twin(r.view, 33, 0, 40, 26);  // 32 rows + 8, tokens 32 + 1
    expect_tiles_match_twin(r.view, 16, 17, 40, 27);
  }
}

}  // namespace
}  // namespace lmforge
