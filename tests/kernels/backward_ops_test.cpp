// Backward kernels (kernels/backward_ops.h): every SIMD form against its scalar twin on every
// compiled target, and the gradients themselves against central finite differences of the
// forward kernels (the float64 PyTorch autograd check is tests/oracles/check_train_step.py).
#include "kernels/backward_ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/attention.h"
#include "kernels/interleaved.h"
#include "kernels/ops_ref.h"
#include "kernels/rope.h"
#include "kernels/vec_ops.h"
#include "quant/type_traits.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

// d/dx_i of sum_j w_j f(x)_j by central differences in double around float inputs.
std::vector<double> numeric_grad(std::vector<float> x, const std::function<double(const std::vector<float>&)>& f,
                                 double h = 1e-2) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float keep = x[i];
    x[i] = static_cast<float>(keep + h);
    const double up = f(x);
    x[i] = static_cast<float>(keep - h);
    const double down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel, const char* what) {
  double scale = 1e-3;  // a floor: gradients near zero compare absolutely
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], rel * scale) << what << " element " << i;
}

double weighted(const std::vector<float>& y, const std::vector<float>& dy) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * dy[i];
  return s;
}

// A column strip of a wider panel (rows ldp apart), as the LoRA gradients use it.
TEST(BackwardOpsTest, PanelAccumulateStridedMatchesTwin) {
  for_each_target([&](const std::string&) {
    for (size_t width : {1u, 33u, 64u, 128u}) {
      for (size_t rows : {1u, 9u, 100u}) {
        for (size_t n : {1u, 4u, 8u}) {
          const size_t ldp = width + 19;
          const auto panel = random_floats(rows * ldp, 21 + width), dy = random_floats(n * (rows + 1), 22 + rows);
          const auto dx0 = random_floats(n * (width + 3), 23 + n);
          auto a = dx0, b = dx0;
          panel_accumulate_strided_f32(panel.data(), ldp, rows, width, dy.data(), rows + 1, n, a.data(), width + 3);
          panel_accumulate_strided_f32_scalar(panel.data(), ldp, rows, width, dy.data(), rows + 1, n, b.data(),
                                              width + 3);
          for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(b[i]))) << width;
        }
      }
    }
  });
}

TEST(BackwardOpsTest, PanelAccumulateMatchesTwin) {
  for_each_target([&](const std::string&) {
    for (size_t width : {1u, 15u, 16u, 33u, 128u, 200u}) {
      for (size_t rows : {1u, 7u, 16u, 64u}) {
        for (size_t n : {1u, 3u, 4u, 9u}) {
          const auto panel = random_floats(rows * width, 11 + width), dy = random_floats(n * (rows + 2), 12 + rows);
          const auto dx0 = random_floats(n * (width + 5), 13 + n);
          auto a = dx0, b = dx0;
          panel_accumulate_f32(panel.data(), rows, width, dy.data(), rows + 2, n, a.data(), width + 5);
          panel_accumulate_f32_scalar(panel.data(), rows, width, dy.data(), rows + 2, n, b.data(), width + 5);
          for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5 * (1 + std::fabs(b[i]))) << width;
        }
      }
    }
  });
}

// dx += dy W for every weight type the engine runs: SIMD and twin agree with a float64 product
// of the exactly decoded rows, and splitting the columns into tiles changes no bit.
TEST(BackwardOpsTest, TransposedProductMatchesTwinAndReference) {
  std::vector<DType> types = test::kernel_types();
  types.push_back(DType::Q4_K);
  types.push_back(DType::Q6_K);
  for_each_target([&](const std::string&) {
    for (DType type : types) {
      const uint64_t rows = 37, cols = 512;
      auto m = test::make_matrix(type, rows, cols, 21);
      const size_t n = 6;
      const auto dy = random_floats(n * rows, 22);
      std::vector<float> fast(n * cols, 0.5f), twin = fast, tiled = fast;
      std::vector<float> panel(kTransposedPanelRows * cols);
      matmul_transposed_add(m.view, dy.data(), rows, n, fast.data(), cols, 0, cols, panel.data());
      matmul_transposed_add_scalar(m.view, dy.data(), rows, n, twin.data(), cols, 0, cols, panel.data());
      const uint64_t tile = transposed_tile_cols(type);
      for (uint64_t c0 = 0; c0 < cols; c0 += tile) {
        matmul_transposed_add(m.view, dy.data(), rows, n, tiled.data(), cols, c0, std::min(cols, c0 + tile),
                              panel.data());
      }
      EXPECT_EQ(fast, tiled) << dtype_name(type);
      std::vector<float> w(rows * cols);
      for (uint64_t r = 0; r < rows; ++r) decode_row(type, m.view.row(r), w.data() + r * cols, cols);
      for (size_t t = 0; t < n; ++t) {
        for (uint64_t c = 0; c < cols; ++c) {
          double exact = 0.5, mag = 0.5;
          for (uint64_t r = 0; r < rows; ++r) {
            exact += static_cast<double>(dy[t * rows + r]) * w[r * cols + c];
            mag += std::fabs(static_cast<double>(dy[t * rows + r]) * w[r * cols + c]);
          }
          ASSERT_NEAR(fast[t * cols + c], exact, 1e-6 * mag) << dtype_name(type);
          ASSERT_NEAR(twin[t * cols + c], exact, 1e-6 * mag) << dtype_name(type);
        }
      }
    }
  });
}

TEST(BackwardOpsTest, TransposedProductRefusesColumnsOffTheBlocks) {
  auto m = test::make_matrix(DType::Q4_0, 4, 64, 1);
  std::vector<float> dy(4), dx(64), panel(kTransposedPanelRows * 64);
  EXPECT_THROW(matmul_transposed_add(m.view, dy.data(), 4, 1, dx.data(), 64, 16, 64, panel.data()), Error);
}

// The regrouped Q8_0/Q4_0 copy (kernels/interleaved.h, which the forward pass reads) gives the
// very bits of the product from the original matrix, whole and in tiles, rows past a group of 8
// included; the scalar twin agrees too.
TEST(BackwardOpsTest, TransposedProductFromTheRegroupedCopyIsBitIdentical) {
  for_each_target([&](const std::string&) {
    for (DType type : {DType::Q8_0, DType::Q4_0}) {
      // 77 rows: two panels and a partial last group of 8; 320 columns: tiles of 128 and a short one.
      const uint64_t rows = 77, cols = 320;
      auto m = test::make_matrix(type, rows, cols, 31);
      const InterleavedMatrix regrouped(m.view);
      const size_t n = 5;
      const auto dy = random_floats(n * rows, 32);
      std::vector<float> mapped(n * cols, 0.25f), copy = mapped, twin = mapped;
      std::vector<float> panel(kTransposedPanelRows * cols);
      const uint64_t tile = transposed_tile_cols(type);
      for (uint64_t c0 = 0; c0 < cols; c0 += tile) {
        const uint64_t c1 = std::min(cols, c0 + tile);
        matmul_transposed_add(m.view, dy.data(), rows, n, mapped.data(), cols, c0, c1, panel.data());
        matmul_transposed_add(regrouped, dy.data(), rows, n, copy.data(), cols, c0, c1, panel.data());
        matmul_transposed_add_scalar(regrouped, dy.data(), rows, n, twin.data(), cols, c0, c1, panel.data());
      }
      EXPECT_EQ(mapped, copy) << dtype_name(type);
      for (size_t i = 0; i < twin.size(); ++i) ASSERT_NEAR(twin[i], mapped[i], 1e-5 * (1 + std::fabs(mapped[i])));
      std::vector<float> dx(n * cols);
      EXPECT_THROW(matmul_transposed_add(regrouped, dy.data(), rows, n, dx.data(), cols, 16, 64, panel.data()), Error);
    }
  });
}

TEST(BackwardOpsTest, RmsNormBackwardMatchesTwinAndFiniteDifferences) {
  for_each_target([&](const std::string&) {
    for (size_t n : {1u, 7u, 16u, 67u, 256u}) {
      const auto x = random_floats(n, 31 + n), w = random_floats(n, 32), dy = random_floats(n, 33);
      std::vector<float> a(n, 0.25f), b = a;
      rms_norm_backward_f32(x.data(), w.data(), dy.data(), a.data(), n, 1e-5f);
      rms_norm_backward_f32_scalar(x.data(), w.data(), dy.data(), b.data(), n, 1e-5f);
      for (size_t i = 0; i < n; ++i) ASSERT_NEAR(a[i], b[i], 1e-5 * (1 + std::fabs(b[i])));
      const auto num = numeric_grad(x, [&](const std::vector<float>& xs) {
        std::vector<float> y(n);
        rms_norm_ref(xs.data(), w.data(), y.data(), n, 1e-5f);
        return weighted(y, dy);
      }, 1e-3);
      std::vector<float> g(n);
      for (size_t i = 0; i < n; ++i) g[i] = a[i] - 0.25f;
      expect_close(g, num, 2e-2, "rms");
    }
  });
}

TEST(BackwardOpsTest, RmsNormWeightGradMatchesFiniteDifferences) {
  const size_t n = 33;
  const auto x = random_floats(n, 41), w = random_floats(n, 42), dy = random_floats(n, 43);
  std::vector<float> dw(n, 0.0f);
  rms_norm_weight_grad_f32(x.data(), dy.data(), dw.data(), n, 1e-5f);
  const auto num = numeric_grad(w, [&](const std::vector<float>& ws) {
    std::vector<float> y(n);
    rms_norm_ref(x.data(), ws.data(), y.data(), n, 1e-5f);
    return weighted(y, dy);
  });
  expect_close(dw, num, 1e-2, "rms weight");
}

TEST(BackwardOpsTest, RopeUnapplyIsTheTransposeAndTheInverse) {
  const size_t heads = 3, hd = 16;
  std::vector<float> cs(hd / 2), sn(hd / 2);
  rope_angles(37.0, hd, 10000.0f, 1.0f, cs.data(), sn.data());
  const auto x = random_floats(heads * hd, 51), y = random_floats(heads * hd, 52);
  auto rx = x, ry = y;
  rope_apply_f32(rx.data(), heads, hd, cs.data(), sn.data());
  rope_unapply_f32(ry.data(), heads, hd, cs.data(), sn.data());
  EXPECT_NEAR(weighted(rx, y), weighted(x, ry), 1e-4);  // <R x, y> = <x, R^T y>
  auto twin = y;
  rope_norm_ref(twin.data(), heads, hd, -37.0, 10000.0f, 1.0f);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(ry[i], twin[i], 1e-5);
  rope_unapply_f32(rx.data(), heads, hd, cs.data(), sn.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(rx[i], x[i], 1e-5);
}

// NEOX (Qwen2) rotation: the backward is the transpose and the inverse of rope_apply_neox_f32,
// equals the reference rotation at -pos, and the SIMD form equals its twin on every target
// (head_dim 16 and 40: halves of whole vectors and with a tail).
TEST(BackwardOpsTest, RopeUnapplyNeoxIsTheTransposeAndTheInverse) {
  for_each_target([&](const std::string&) {
    for (size_t hd : {16u, 40u}) {
      const size_t heads = 3;
      std::vector<float> cs(hd / 2), sn(hd / 2);
      rope_angles(37.0, hd, 1000000.0f, 1.0f, cs.data(), sn.data());
      const auto x = random_floats(heads * hd, 53), y = random_floats(heads * hd, 54);
      auto rx = x, ry = y, scalar = y;
      rope_apply_neox_f32(rx.data(), heads, hd, cs.data(), sn.data());
      rope_unapply_neox_f32(ry.data(), heads, hd, cs.data(), sn.data());
      rope_unapply_neox_f32_scalar(scalar.data(), heads, hd, cs.data(), sn.data());
      EXPECT_NEAR(weighted(rx, y), weighted(x, ry), 1e-4);  // <R x, y> = <x, R^T y>
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(ry[i], scalar[i], 1e-6) << hd;
      auto twin = y;
      rope_neox_ref(twin.data(), heads, hd, -37.0, 1000000.0f, 1.0f);
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(ry[i], twin[i], 1e-5);
      rope_unapply_neox_f32(rx.data(), heads, hd, cs.data(), sn.data());
      for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(rx[i], x[i], 1e-5);
    }
  });
}

// Causal GQA attention of `n` tokens of one sequence: every query's backward against finite
// differences of attention_ref (double sums) in q, k and v, and SIMD against the twin.
TEST(BackwardOpsTest, AttentionBackwardMatchesTwinAndFiniteDifferences) {
  AttentionShape s;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 8;
  s.cell_stride = s.n_head_kv * s.head_dim;
  s.scale = 1.0f / std::sqrt(8.0f);
  const size_t n = 5, qdim = s.n_head * s.head_dim, kvdim = s.cell_stride;
  const auto q = random_floats(n * qdim, 61), k = random_floats(n * kvdim, 62), v = random_floats(n * kvdim, 63);
  const auto dout = random_floats(n * qdim, 64);
  auto loss = [&](const std::vector<float>& qs, const std::vector<float>& ks, const std::vector<float>& vs) {
    std::vector<float> out(qdim), scores(n);
    double l = 0;
    for (size_t t = 0; t < n; ++t) {
      CellSpan cells{nullptr, 0, static_cast<uint32_t>(t + 1)};
      attention_ref(&qs[t * qdim], ks.data(), vs.data(), s, cells, scores.data(), out.data());
      for (size_t i = 0; i < qdim; ++i) l += static_cast<double>(out[i]) * dout[t * qdim + i];
    }
    return l;
  };
  for_each_target([&](const std::string&) {
    std::vector<float> dq(n * qdim), dk(n * kvdim, 0.0f), dv(n * kvdim, 0.0f);
    std::vector<float> dq2 = dq, dk2 = dk, dv2 = dv, scratch(2 * n);
    for (size_t t = 0; t < n; ++t) {
      CellSpan cells{nullptr, 0, static_cast<uint32_t>(t + 1)};
      for (size_t h = 0; h < s.n_head; ++h) {
        attention_head_backward_f32(&q[t * qdim], k.data(), v.data(), s, h, cells, &dout[t * qdim], scratch.data(),
                                    &dq[t * qdim], dk.data(), dv.data());
        attention_head_backward_f32_scalar(&q[t * qdim], k.data(), v.data(), s, h, cells, &dout[t * qdim],
                                           scratch.data(), &dq2[t * qdim], dk2.data(), dv2.data());
      }
    }
    for (size_t i = 0; i < dq.size(); ++i) ASSERT_NEAR(dq[i], dq2[i], 1e-5);
    for (size_t i = 0; i < dk.size(); ++i) ASSERT_NEAR(dk[i], dk2[i], 1e-5);
    for (size_t i = 0; i < dv.size(); ++i) ASSERT_NEAR(dv[i], dv2[i], 1e-5);
    expect_close(dq, numeric_grad(q, [&](const std::vector<float>& x) { return loss(x, k, v); }, 1e-3), 1e-2, "dq");
    expect_close(dk, numeric_grad(k, [&](const std::vector<float>& x) { return loss(q, x, v); }, 1e-3), 1e-2, "dk");
    expect_close(dv, numeric_grad(v, [&](const std::vector<float>& x) { return loss(q, k, x); }, 1e-3), 1e-2, "dv");
  });
}

TEST(BackwardOpsTest, SwigluBackwardMatchesFiniteDifferences) {
  const size_t n = 40;
  auto g = random_floats(n, 71, 3.0f);
  g[0] = -120.0f;  // far into the clamped region: no NaN
  const auto u = random_floats(n, 72), dout = random_floats(n, 73);
  std::vector<float> dg(n), du(n);
  swiglu_backward_f32(g.data(), u.data(), dout.data(), dg.data(), du.data(), n);
  auto f = [&](const std::vector<float>& gs, const std::vector<float>& us) {
    std::vector<float> y(n);
    swiglu_ref(gs.data(), us.data(), y.data(), n);
    return weighted(y, dout);
  };
  expect_close(dg, numeric_grad(g, [&](const std::vector<float>& x) { return f(x, u); }, 1e-3), 1e-2, "dg");
  expect_close(du, numeric_grad(u, [&](const std::vector<float>& x) { return f(g, x); }, 1e-3), 1e-2, "du");
  EXPECT_TRUE(std::isfinite(dg[0]));
}

TEST(BackwardOpsTest, CrossEntropyLossAndGradient) {
  const size_t n = 50;
  const auto logits = random_floats(n, 81, 4.0f);
  const uint32_t target = 17;
  std::vector<float> d(n);
  const float loss = cross_entropy_f32(logits.data(), n, target, 0.5f, d.data());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l));
  EXPECT_NEAR(loss, std::log(sum) - logits[target], 1e-5);
  const auto num = numeric_grad(logits, [&](const std::vector<float>& x) {
    std::vector<float> scratch(n);
    return 0.5 * cross_entropy_f32(x.data(), n, target, 1.0f, scratch.data());
  }, 1e-3);
  expect_close(d, num, 1e-2, "dlogits");
  // In place gives the same bits.
  auto inplace = logits;
  cross_entropy_f32(inplace.data(), n, target, 0.5f, inplace.data());
  EXPECT_EQ(inplace, d);
}

TEST(BackwardOpsTest, EmbeddingScatterAddSumsRepeatedTokens) {
  const int32_t tokens[3] = {2, 0, 2};
  const std::vector<float> dx = {1, 2, 3, 4, 5, 6};
  std::vector<float> table(3 * 2, 0.0f);
  embedding_scatter_add_f32(tokens, 3, dx.data(), 2, table.data(), 2);
  EXPECT_EQ(table, (std::vector<float>{3, 4, 0, 0, 6, 8}));
  EXPECT_GT(max_abs(table), 0);
}

}  // namespace
}  // namespace lmforge
