// Unit checks of src/gptq/ that need no model: the min/max grid's corner cases, the
// calibration windows, the Cholesky wrappers, GPTQ's reduction to round-to-nearest when the
// Hessian is diagonal, dead columns, act-order's g_idx and the settings a shape refuses. The
// float64 comparison with an independent GPTQ is tests/oracles/check_gptq.py.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gptq/blas.h"
#include "gptq/calibration_windows.h"
#include "gptq/gptq_solver.h"
#include "gptq/min_max_quantizer.h"
#include "gptq/settings_check.h"

namespace lmforge {
namespace {

TEST(MinMaxGrid, AsymmetricRangeIncludesZero) {
  const float x[] = {0.5f, 1.0f, 2.0f};  // all positive: xmin is 0, so zero point 0
  const GridParams p = min_max_grid(x, 3, 1, 4, false);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 15.0f);
  EXPECT_EQ(p.zero, 0.0f);
  EXPECT_EQ(grid_code(2.0f, p, 15), 15);
  EXPECT_EQ(grid_code(0.0f, p, 15), 0);
}

TEST(MinMaxGrid, SymmetricUsesHalfTheCodesAsZero) {
  const float x[] = {-1.5f, 0.25f, 3.0f};
  const GridParams p = min_max_grid(x, 3, 1, 4, true);
  EXPECT_FLOAT_EQ(p.scale, 6.0f / 15.0f);  // [-3, 3]
  EXPECT_EQ(p.zero, 8.0f);
  EXPECT_EQ(grid_code(3.0f, p, 15), 15);  // 7.5 + 8 clamps at 15: the top is clipped to 7 * scale
  EXPECT_EQ(grid_code(-3.0f, p, 15), 0);
}

TEST(MinMaxGrid, AllZeroRowGetsUnitRange) {
  const float x[] = {0.0f, 0.0f};
  const GridParams p = min_max_grid(x, 2, 1, 2, false);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 3.0f);
  EXPECT_EQ(p.zero, 2.0f);  // round(1 / (2/3)) = round(1.5) = 2 (half to even)
}

TEST(MinMaxGrid, RoundsHalfToEven) {
  GridParams p;
  p.scale = 1.0f;
  p.zero = 0.0f;
  EXPECT_EQ(grid_code(2.5f, p, 15), 2);
  EXPECT_EQ(grid_code(3.5f, p, 15), 4);
}

TEST(CalibrationWindows, CutsDropsTailAndPutsBosFirst) {
  std::vector<int32_t> t = {1, 10, 11, 12, 13, 14, 15, 16, 17};
  const CalibrationWindows w = cut_calibration_windows(t, 1, 4, 10, "text");
  EXPECT_EQ(w.available, 2u);
  ASSERT_EQ(w.windows.size(), 2u);
  EXPECT_EQ(w.windows[0], (std::vector<int32_t>{1, 10, 11, 12}));
  EXPECT_EQ(w.windows[1], (std::vector<int32_t>{1, 14, 15, 16}));
  EXPECT_EQ(cut_calibration_windows(t, 1, 4, 1, "text").windows.size(), 1u);
  EXPECT_THROW(cut_calibration_windows(t, 1, 10, 1, "text"), Error);
}

TEST(Blas, CholeskyUpperAndInverse) {
  // H = [[4, 2], [2, 3]]: U = [[2, 1], [0, sqrt(2)]], H^-1 = [[3, -2], [-2, 4]] / 8
  double a[] = {4, 2, 2, 3};
  ASSERT_TRUE(cholesky_upper(a, 2));
  EXPECT_DOUBLE_EQ(a[0], 2.0);
  EXPECT_DOUBLE_EQ(a[1], 1.0);
  EXPECT_DOUBLE_EQ(a[2], 0.0);
  EXPECT_NEAR(a[3], std::sqrt(2.0), 1e-15);
  inverse_from_cholesky_upper(a, 2);
  EXPECT_NEAR(a[0], 3.0 / 8, 1e-15);
  EXPECT_NEAR(a[1], -2.0 / 8, 1e-15);
  EXPECT_NEAR(a[2], -2.0 / 8, 1e-15);
  EXPECT_NEAR(a[3], 4.0 / 8, 1e-15);
  double bad[] = {1, 2, 2, 1};
  EXPECT_FALSE(cholesky_upper(bad, 2));
}

std::vector<float> random_matrix(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(GptqSolver, DiagonalHessianIsRoundToNearest) {
  // With H diagonal, U is diagonal: no error reaches another column, so GPTQ is RTN.
  const uint64_t rows = 8, cols = 256;
  const auto w = random_matrix(rows * cols, 1);
  std::vector<float> h(cols * cols, 0.0f);
  for (uint64_t i = 0; i < cols; ++i) h[i * cols + i] = 1.0f + static_cast<float>(i % 7);
  ThreadPool pool(2);
  for (int64_t gs : {int64_t{32}, int64_t{128}, int64_t{-1}}) {
    GptqSettings s;
    s.group_size = gs;
    const QuantizedMatrix g = gptq_quantize(w.data(), rows, cols, h.data(), s, pool);
    const QuantizedMatrix r = rtn_quantize(w.data(), rows, cols, s, pool);
    EXPECT_EQ(g.codes, r.codes) << "group size " << gs;
    EXPECT_EQ(g.g_idx, r.g_idx);
  }
}

TEST(GptqSolver, DeadColumnsAreZeroedAndCounted) {
  const uint64_t rows = 4, cols = 64;
  const auto w = random_matrix(rows * cols, 2);
  auto x = random_matrix(200 * cols, 3);
  for (size_t t = 0; t < 200; ++t) x[t * cols + 9] = 0.0f;
  std::vector<float> h(cols * cols, 0.0f);
  syrk_add_upper(cols, 200, x.data(), h.data());
  symmetrize_from_upper(h.data(), cols);
  ThreadPool pool(1);
  GptqSettings s;
  s.group_size = 32;
  const QuantizedMatrix q = gptq_quantize(w.data(), rows, cols, h.data(), s, pool);
  EXPECT_EQ(q.dead_columns, 1u);
  for (uint64_t r = 0; r < rows; ++r) EXPECT_EQ(q.dequantized[r * cols + 9], 0.0f);
  EXPECT_LT(relative_reconstruction_error(w.data(), q.dequantized.data(), rows, cols, h.data()),
            relative_reconstruction_error(w.data(), rtn_quantize(w.data(), rows, cols, s, pool).dequantized.data(), rows,
                                          cols, h.data()));
}

TEST(GptqSolver, ActOrderGroupsFollowTheDiagonal) {
  const uint64_t rows = 4, cols = 64;
  const auto w = random_matrix(rows * cols, 4);
  std::vector<float> h(cols * cols, 0.0f);
  for (uint64_t i = 0; i < cols; ++i) h[i * cols + i] = static_cast<float>(i);  // column 0 dead, 63 first
  ThreadPool pool(1);
  GptqSettings s;
  s.group_size = 16;
  s.act_order = true;
  const QuantizedMatrix q = gptq_quantize(w.data(), rows, cols, h.data(), s, pool);
  // processing order 63, 62, ..., 2, then the ties 0 (dead: H_ii = 1) and 1 by column index
  EXPECT_EQ(q.g_idx[63], 0);
  EXPECT_EQ(q.g_idx[48], 0);
  EXPECT_EQ(q.g_idx[47], 1);
  EXPECT_EQ(q.g_idx[0], 3);
  EXPECT_EQ(q.g_idx[1], 3);
}

TEST(GptqSolver, NotPositiveDefiniteIsAnError) {
  const uint64_t rows = 2, cols = 2;
  const float w[] = {1, 2, 3, 4};
  const float h[] = {1, 5, 5, 1};
  ThreadPool pool(1);
  GptqSettings s;
  s.group_size = -1;
  EXPECT_THROW(gptq_quantize(w, rows, cols, h, s, pool), Error);
}

TEST(SettingsCheck, RefusesWhatTheShapesCannotHold) {
  LlamaConfig c;
  c.hidden_size = 256;
  c.intermediate_size = 704;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  GptqSettings s;
  s.group_size = 64;
  EXPECT_NO_THROW(check_gptq_settings(c, s));
  s.group_size = 128;  // 704 = 5.5 * 128
  EXPECT_THROW(check_gptq_settings(c, s), UsageError);
  s.group_size = -1;
  s.bits = 5;
  EXPECT_THROW(check_gptq_settings(c, s), UsageError);
  s.bits = 3;
  c.intermediate_size = 720;  // 720 * 3 bits is not whole words (720 % 32 != 0)
  EXPECT_THROW(check_gptq_settings(c, s), UsageError);
}

}  // namespace
}  // namespace lmforge
