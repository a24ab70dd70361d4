// The AMX-BF16 product: bf16 rounding, the activation tile layout, the scalar twin against the
// float product (within bf16 rounding), and the AMX tiles against the twin on every weight
// form the engine holds (MatrixView of every runnable type, interleaved Q4_0/Q8_0, GPTQ, and
// Q4_1/Q5_1 on the int8 form), with
// row counts, token counts and input counts that are not multiples of the tile sizes. The AMX
// comparisons skip on CPUs (or kernels) without AMX.
#include "kernels/amx_matmul.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <tuple>

#include "kernel_test_util.h"
#include "kernels/amx_support.h"

namespace lmforge {
namespace {

using test::make_matrix;
using test::random_floats;

float bf16_float(uint16_t b) { return bf16_to_float(b); }

double pair_value(Bf16Pair p) { return double{bf16_float(p.hi)} + bf16_float(p.lo); }

TEST(AmxMatmulTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16_round(1.0f), 0x3F80);
  EXPECT_EQ(bf16_round(-2.0f), 0xC000);
  EXPECT_EQ(bf16_round(1.0f + 0x1p-8f), 0x3F80) << "tie goes to the even mantissa";
  EXPECT_EQ(bf16_round(1.0f + 3 * 0x1p-8f), 0x3F82) << "tie goes to the even mantissa";
  EXPECT_EQ(bf16_round(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81) << "above the tie rounds up";
  EXPECT_EQ(bf16_round(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_TRUE(std::isnan(bf16_float(bf16_round(std::numeric_limits<float>::quiet_NaN()))));
  uint32_t low_payload_nan = 0x7F800001u;
  float f;
  std::memcpy(&f, &low_payload_nan, 4);
  EXPECT_TRUE(std::isnan(bf16_float(bf16_round(f)))) << "a NaN whose payload is all in the dropped bits";
}

TEST(AmxMatmulTest, SplitKeepsSixteenBits) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int i = 0; i < 10000; ++i) {
    const float x = dist(rng);
    const Bf16Pair p = split_bf16(x);
    EXPECT_EQ(p.hi, bf16_round(x));
    ASSERT_LE(std::fabs(pair_value(p) - x), 0x1p-16 * std::fabs(x)) << x;
  }
  // A Q4_0 weight (fp16 scale times a code of -8..7) or a Q8_0 activation (fp16 scale times a
  // code of 7 bits) has at most 15 or 18 significant bits; the first is exact.
  const float d = fp16_to_fp32(fp32_to_fp16(0.0123f));
  for (int code = -8; code < 8; ++code) EXPECT_EQ(pair_value(split_bf16(d * code)), double{d * code}) << code;
}

TEST(AmxMatmulTest, ActivationsHoldTheRoundedInputsAndZeroPadding) {
  const size_t n = 37;
  const uint64_t cols = 80;  // 3 steps of 32, the last half padding
  const std::vector<float> x = random_floats(n * 100, 3);
  AmxActivations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), 100, 0, 20);
  a.pack_rows(x.data(), 100, 20, n);
  EXPECT_EQ(a.steps(), 3u);
  EXPECT_EQ(a.token_tiles(), 4u);
  for (size_t t = 0; t < 64; ++t)
    for (uint64_t k = 0; k < 96; ++k)
    for (uint64_t k = 0; k < 96; ++k) {
      const Bf16Pair want = t < n && k < cols ? split_bf16(x[t * 100 + k]) : Bf16Pair{0, 0};
      ASSERT_EQ(a.at(t, k).hi, want.hi) << "token " << t << " input " << k;
      ASSERT_EQ(a.at(t, k).lo, want.lo) << "token " << t << " input " << k;
    }
  // The B tile layout the hardware reads: row p of tile (j, s) is input pair p, 16 tokens x 2,
  // high parts, then the low parts 512 bf16 further.
  EXPECT_EQ(a.tile(1, 2)[3 * 32 + 5 * 2 + 1], split_bf16(x[(16 + 5) * 100 + 64 + 7]).hi);
  EXPECT_EQ(a.tile(1, 2)[512 + 3 * 32 + 5 * 2 + 1], split_bf16(x[(16 + 5) * 100 + 64 + 7]).lo);
}

TEST(AmxMatmulTest, PackedActivationsGiveTheCodesTimesTheirScales) {
  for (DType type : {DType::Q8_0, DType::Q4_K, DType::F16}) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    const size_t n = 19;
    const uint64_t cols = 512;
    const std::vector<float> x = random_floats(n * cols, 8);
    PackedActivations p;
    p.reset(type, n, cols);
    p.pack_rows_scalar(x.data(), cols, 0, n);
    AmxActivations a;
    a.reset(n, cols);
    a.pack_from(p, 0, 7);
    a.pack_from(p, 7, n);
    for (size_t t = 0; t < n; ++t)
      for (uint64_t k = 0; k < cols; ++k) {
        const float want = !p.is_quantized() ? p.floats(t)[k]
                           : p.is_super_blocks() ? p.quants(t)[k] * p.block_scales(t)[k / 256]
                                                 : p.quants(t)[k] * p.block_scales(t)[k / 32];
        ASSERT_EQ(a.at(t, k).hi, split_bf16(want).hi) << "token " << t << " input " << k;
        ASSERT_EQ(a.at(t, k).lo, split_bf16(want).lo) << "token " << t << " input " << k;
      }
  }
}

// A random GPTQ linear (codes, zeros, fp16 scales; act-order shuffles the group of each input).
GptqMatrix random_gptq(int bits, uint64_t out, uint64_t in, uint64_t group_size, bool act_order, uint32_t seed) {
  std::mt19937 rng(seed);
  GptqMatrix m;
  m.out = out;
  m.in = in;
  m.bits = bits;
  m.groups = static_cast<uint32_t>((in + group_size - 1) / group_size);
  std::uniform_int_distribution<int> code(0, (1 << bits) - 1), zero(0, 1 << bits);
  std::normal_distribution<float> scale(0.01f, 0.003f);
  m.codes.resize(out * in);
  for (auto& c : m.codes) c = static_cast<uint8_t>(code(rng));
  m.zeros.resize(m.groups * out);
  for (auto& z : m.zeros) z = static_cast<uint16_t>(zero(rng));
  m.scales.resize(m.groups * out);
  for (auto& s : m.scales) s = fp16_to_fp32(fp32_to_fp16(scale(rng)));
  std::vector<uint32_t> order(in);
  std::iota(order.begin(), order.end(), 0u);
  if (act_order) std::shuffle(order.begin(), order.end(), rng);
  m.g_idx.resize(in);
  for (uint64_t p = 0; p < in; ++p) m.g_idx[order[p]] = static_cast<uint32_t>(p / group_size);
  return m;
}

// sum_c |bf16(W[r][c]) * bf16(x[t][c])|, the scale of the summation error, from the twin's own
// arithmetic on |W| and |x|.
double abs_dot(const std::vector<float>& w_row, const AmxActivations& x, size_t t) {
  double s = 0;
  for (uint64_t c = 0; c < x.cols(); ++c) s += std::fabs(pair_value(split_bf16(w_row[c])) * pair_value(x.at(t, c)));
  return s;
}

// Runs the AMX product and the twin on rows [r0, r1) of `w` (float rows `dense` for the error
// scale) and compares them; rows outside the range must stay untouched.
void expect_amx_matches_twin(const AmxWeights& w, const std::vector<float>& dense, size_t n, uint64_t r0, uint64_t r1,
                             uint32_t seed) {
  const uint64_t cols = w.cols();
  SCOPED_TRACE("rows " + std::to_string(w.rows()) + " cols " + std::to_string(cols) + " n " + std::to_string(n) +
               " r0 " + std::to_string(r0) + " r1 " + std::to_string(r1));
  const size_t ldx = cols + 3;
  const std::vector<float> x = random_floats(n * ldx, seed);
  AmxActivations a;
  a.reset(n, cols);
  a.pack_rows(x.data(), ldx, 0, n);
  const size_t ldy = w.rows() + 5;
  const float sentinel = 12345.0f;
  std::vector<float> want(n * ldy, sentinel), got(n * ldy, sentinel);
  matmul_amx_scalar(w, a, want.data(), ldy, r0, r1);
  matmul_amx(w, a, got.data(), ldy, r0, r1);
  for (size_t t = 0; t < n; ++t) {
    for (uint64_t r = 0; r < ldy; ++r) {
      const size_t i = t * ldy + r;
      if (r < r0 || r >= r1) {
        ASSERT_EQ(got[i], sentinel) << "wrote outside its rows: token " << t << " row " << r;
        continue;
      }
      const std::vector<float> row(dense.begin() + static_cast<ptrdiff_t>(r * cols),
                                   dense.begin() + static_cast<ptrdiff_t>((r + 1) * cols));
      // fp32 sums of 3 * cols exact products (in another order), plus the dropped lo * lo terms.
      const double bound = (3 * static_cast<double>(cols) + 4) * 0x1p-24 * abs_dot(row, a, t) + 1e-30;
      ASSERT_LE(std::fabs(double{got[i]} - want[i]), bound) << "token " << t << " row " << r;
    }
  }
}

std::vector<float> dense_rows(const AmxWeights& w) {
  std::vector<float> d(w.rows() * w.cols());
  for (uint64_t r = 0; r < w.rows(); ++r) {
    if (w.gptq) {
      w.gptq->dequantize_padded_row(r, &d[r * w.cols()]);
    } else {
      decode_row(w.matrix->type, w.matrix->row(r), &d[r * w.cols()], w.cols());
    }
  }
  return d;
}

std::vector<DType> all_types() {
  std::vector<DType> t = test::kernel_types();
  for (DType k : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) t.push_back(k);
  return t;
}

uint64_t test_cols(DType t) {
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) return 72;  // not a multiple of 32
  return dtype_info(t).block_size == 256 ? 512 : 96;  // 96: an odd number of 32-input steps
}

// The point of the split: on the activations the integer kernels read, the twin gives
// matmul_packed()'s results to about 2^-16 of the terms' magnitude, for every type the engine
// sends to AMX on bf16 pairs (Q4_1/Q5_1 go on the int8 form: MinimumTiles... below).
TEST(AmxMatmulTest, TwinIsThePackedProduct) {
  for (DType type : all_types()) {
    if (!amx_supports(type)) continue;
    auto probe = make_matrix(type, 1, 256, 1);
    if (amx_int8_form(AmxWeights{&probe.view})) continue;
    SCOPED_TRACE(std::string(dtype_name(type)));
    const uint64_t cols = test_cols(type) == 72 ? 96 : test_cols(type), rows = 5;
    auto m = make_matrix(type, rows, cols, 21);
    const size_t n = 3;
    const std::vector<float> x = random_floats(n * cols, 22);
    PackedActivations p;
    p.reset(type, n, cols);
    p.pack_rows_scalar(x.data(), cols, 0, n);
    AmxActivations a;
    a.reset(n, cols);
    a.pack_from(p, 0, n);
    std::vector<float> got(n * rows), want(n * rows), row(cols);
    matmul_amx_scalar(AmxWeights{&m.view}, a, got.data(), rows, 0, rows);
    matmul_packed_scalar(m.view, p, want.data(), rows, 0, rows);
    for (size_t t = 0; t < n; ++t) {
      for (uint64_t r = 0; r < rows; ++r) {
        decode_row(type, m.view.row(r), row.data(), cols);
        const double abs = abs_dot(row, a, t);
        EXPECT_NEAR(got[t * rows + r], want[t * rows + r], 0x1p-15 * abs) << "token " << t << " row " << r;
      }
    }
  }
  EXPECT_FALSE(amx_supports(DType::F32));
  EXPECT_FALSE(amx_supports(DType::F16));
  EXPECT_TRUE(amx_supports(DType::Q4_1));
  EXPECT_FALSE(amx_supports(DType::Q5_1));
  EXPECT_TRUE(amx_supports(DType::Q4_K));
}

// Which form of the activations each weight form reads.
TEST(AmxMatmulTest, Int8FormForInterleavedAndMinimumTypes) {
  for (DType type : all_types()) {
    auto m = make_matrix(type, 8, 256, 2);
    const bool want = type == DType::Q4_1 || type == DType::Q5_1;
    EXPECT_EQ(amx_int8_form(AmxWeights{&m.view}), want) << dtype_name(type);
  }
  auto q4 = make_matrix(DType::Q4_0, 8, 64, 3);
  const InterleavedMatrix il(q4.view);
  AmxWeights w;
  w.interleaved = &il;
  EXPECT_TRUE(amx_int8_form(w));
}

// The int8 form keeps the packed rows' scaled sums (llama.cpp's Q8_1 "s") per token and block,
// and zeros where the packing has none.
TEST(AmxMatmulTest, Int8FormCarriesTheScaledSums) {
  const size_t n = 21;
  const uint64_t cols = 96;
  const std::vector<float> x = random_floats(n * cols, 9);
  for (DType type : {DType::Q4_1, DType::Q4_0}) {
    PackedActivations p;
    p.reset(type, n, cols);
    p.pack_rows_scalar(x.data(), cols, 0, n);
    AmxActivations a;
    a.reset(n, cols, true);
    a.pack_from(p, 0, 5);
    a.pack_from(p, 5, n);
    for (size_t t = 0; t < n; ++t)
      for (uint64_t b = 0; b < cols / 32; ++b) {
        ASSERT_EQ(a.int8_scale(t, b), p.block_scales(t)[b]);
        ASSERT_EQ(a.int8_sum(t, b), type == DType::Q4_1 ? p.block_sums(t)[b] : 0.0f) << dtype_name(type);
        for (uint64_t k = b * 32; k < b * 32 + 32; ++k) ASSERT_EQ(a.int8_code(t, k), p.quants(t)[k]);
      }
    for (size_t t = n; t < a.token_tiles() * 16; ++t) ASSERT_EQ(a.int8_sum(t, 0), 0.0f) << "padding token " << t;
  }
}

TEST(AmxMatmulTest, TilesMatchTwinOnEveryType) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  uint32_t seed = 100;
  for (DType type : all_types()) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    auto m = make_matrix(type, 45, test_cols(type), ++seed);
    const AmxWeights w{&m.view};
    const std::vector<float> dense = dense_rows(w);
    expect_amx_matches_twin(w, dense, 16, 0, 45, ++seed);
    expect_amx_matches_twin(w, dense, 37, 0, 45, ++seed);
    expect_amx_matches_twin(w, dense, 50, 16, 45, ++seed);  // a 29-row range: two tiles, one partial
    expect_amx_matches_twin(w, dense, 21, 3, 14, ++seed);   // one partial tile, unaligned
  }
}

TEST(AmxMatmulTest, TilesMatchTwinOnInterleavedWeights) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  uint32_t seed = 200;
  for (DType type : {DType::Q4_0, DType::Q8_0}) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    auto m = make_matrix(type, 45, 160, ++seed);
    const InterleavedMatrix il(m.view);
    AmxWeights w;
    w.interleaved = &il;
    const std::vector<float> dense = dense_rows(AmxWeights{&m.view});
    expect_amx_matches_twin(w, dense, 33, 0, 45, ++seed);
    expect_amx_matches_twin(w, dense, 17, 8, 40, ++seed);
    expect_amx_matches_twin(w, dense, 40, 13, 19, ++seed);  // rows inside one group of 8
  }
}

// Interleaved Q4_0/Q8_0 on the int8 form: the tiles give the twin's floats bit for bit (same
// exact block dots, same float steps in the same order), and the twin is the integer kernels'
// product (within their own float reordering).
TEST(AmxMatmulTest, Int8TilesAreTheIntegerKernelsProduct) {
  uint32_t seed = 400;
  for (DType type : {DType::Q4_0, DType::Q8_0}) {
    for (const auto& [n, r0, r1] : std::vector<std::tuple<size_t, uint64_t, uint64_t>>{
             {16, 0, 45}, {37, 0, 45}, {50, 16, 45}, {21, 3, 14}, {33, 8, 40}, {18, 13, 19}}) {
      SCOPED_TRACE(std::string(dtype_name(type)) + " n " + std::to_string(n) + " rows " + std::to_string(r0) + ".." +
                   std::to_string(r1));
      const uint64_t rows = 45, cols = 160;
      auto m = make_matrix(type, rows, cols, ++seed);
      const InterleavedMatrix il(m.view);
      const std::vector<float> x = random_floats(n * cols, ++seed);
      PackedActivations p;
      p.reset(type, n, cols);
      p.pack_rows_scalar(x.data(), cols, 0, n);
      AmxActivations a;
      a.reset(n, cols, true);
      a.pack_from(p, 0, n / 2);
      a.pack_from(p, n / 2, n);
      AmxWeights w;
      w.interleaved = &il;
      const size_t ldy = rows + 3;
      std::vector<float> twin(n * ldy, -1.0f), packed(n * ldy, -1.0f), tiles(n * ldy, -1.0f);
      matmul_amx_scalar(w, a, twin.data(), ldy, r0, r1);
      matmul_interleaved_scalar(il, p, packed.data(), ldy, r0, r1);
      const bool amx = amx_usable();
      if (amx) matmul_amx(w, a, tiles.data(), ldy, r0, r1);
      for (size_t t = 0; t < n; ++t)
        for (uint64_t r = 0; r < ldy; ++r) {
          const size_t i = t * ldy + r;
          if (amx) {
            ASSERT_EQ(tiles[i], twin[i]) << "token " << t << " row " << r;
          }
          ASSERT_NEAR(twin[i], packed[i], 1e-5 * (1 + std::fabs(packed[i]))) << "token " << t << " row " << r;
        }
    }
  }
  if (!amx_usable()) GTEST_SKIP() << "twin checked; this CPU or kernel does not offer AMX for the tiles";
}

// Q4_1/Q5_1 rows in place on the int8 form: the tiles give the twin's floats bit for bit (the
// same exact block dots, the same two fma per block in the same order), and the twin is the
// minimum types' integer kernels' product, scalar and dispatched (within float reordering:
// those sum the blocks in lanes), with row ranges that cut panels and token counts that are
// not multiples of 16.
TEST(AmxMatmulTest, MinimumTypesOnInt8TilesAreTheIntegerKernelsProduct) {
  uint32_t seed = 500;
  for (DType type : {DType::Q4_1, DType::Q5_1}) {
    for (const auto& [n, r0, r1] : std::vector<std::tuple<size_t, uint64_t, uint64_t>>{
             {16, 0, 45}, {37, 0, 45}, {50, 16, 45}, {21, 3, 14}, {33, 8, 40}, {18, 13, 19}, {1, 0, 45}}) {
      SCOPED_TRACE(std::string(dtype_name(type)) + " n " + std::to_string(n) + " rows " + std::to_string(r0) + ".." +
                   std::to_string(r1));
      const uint64_t rows = 45, cols = 160;
      auto m = make_matrix(type, rows, cols, ++seed);
      const std::vector<float> x = random_floats(n * cols, ++seed);
      PackedActivations p;
      p.reset(type, n, cols);
      p.pack_rows_scalar(x.data(), cols, 0, n);
      ASSERT_TRUE(p.scaled_sums());
      AmxActivations a;
      a.reset(n, cols, true);
      a.pack_from(p, 0, n / 2);
      a.pack_from(p, n / 2, n);
      const AmxWeights w{&m.view};
      const size_t ldy = rows + 3;
      const float sentinel = -1.0f;
      std::vector<float> twin(n * ldy, sentinel), scalar(n * ldy, sentinel), simd(n * ldy, sentinel),
          tiles(n * ldy, sentinel);
      matmul_amx_scalar(w, a, twin.data(), ldy, r0, r1);
      matmul_packed_scalar(m.view, p, scalar.data(), ldy, r0, r1);
      matmul_packed(m.view, p, simd.data(), ldy, r0, r1);
      const bool amx = amx_usable();
      if (amx) matmul_amx(w, a, tiles.data(), ldy, r0, r1);
      for (size_t t = 0; t < n; ++t)
        for (uint64_t r = 0; r < ldy; ++r) {
          const size_t i = t * ldy + r;
          if (r < r0 || r >= r1) {
            ASSERT_EQ(twin[i], sentinel) << "twin wrote outside its rows: token " << t << " row " << r;
            if (amx) {
              ASSERT_EQ(tiles[i], sentinel) << "tiles wrote outside their rows: token " << t << " row " << r;
            }
            continue;
          }
          if (amx) {
            ASSERT_EQ(tiles[i], twin[i]) << "token " << t << " row " << r;
          }
          ASSERT_NEAR(twin[i], scalar[i], 1e-5 * (1 + std::fabs(scalar[i]))) << "token " << t << " row " << r;
          ASSERT_NEAR(twin[i], simd[i], 1e-5 * (1 + std::fabs(simd[i]))) << "token " << t << " row " << r;
        }
    }
  }
  if (!amx_usable()) GTEST_SKIP() << "twin checked; this CPU or kernel does not offer AMX for the tiles";
}

TEST(AmxMatmulTest, TilesMatchTwinOnGptqWeights) {
  if (!amx_usable()) GTEST_SKIP() << "this CPU or kernel does not offer AMX-BF16";
  uint32_t seed = 300;
  for (int bits : {4, 8, 3}) {
    for (bool act_order : {false, true}) {
      SCOPED_TRACE(std::to_string(bits) + " bits" + (act_order ? " act-order" : ""));
      const GptqMatrix g = random_gptq(bits, 37, 192, 48, act_order, ++seed);
      const GptqForm form(g);
      AmxWeights w;
      w.gptq = &form;
      const std::vector<float> dense = dense_rows(w);
      expect_amx_matches_twin(w, dense, 19, 0, 37, ++seed);
      expect_amx_matches_twin(w, dense, 48, 32, 37, ++seed);
    }
  }
}

}  // namespace
}  // namespace lmforge
