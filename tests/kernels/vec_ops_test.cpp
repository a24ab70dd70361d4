// Highway vector operations (every compiled target) against their scalar twins, and the
// twins against the double-precision references of ops_ref.h.
#include "kernels/vec_ops.h"

#include <cmath>
#include <limits>

#include "kernel_test_util.h"
#include "kernels/ops_ref.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

constexpr double kU = 5.97e-8;  // float unit roundoff 2^-24
const std::vector<size_t> kSizes = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 257, 4096, 4099};

double abs_dot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(a[i]) * b[i]);
  return s;
}

// Float sums of n products, in any order, are within n * u * sum|a b| of the exact sum.
TEST(VecOpsTest, DotMatchesTwinAndReference) {
  for_each_target([&](const std::string&) {
    for (size_t n : kSizes) {
      const auto a = random_floats(n, 1 + n), b = random_floats(n, 2 + n);
      const double bound = 2.0 * n * kU * abs_dot(a.data(), b.data(), n) + 1e-30;
      EXPECT_NEAR(dot_f32(a.data(), b.data(), n), dot_f32_scalar(a.data(), b.data(), n), bound) << n;
      EXPECT_NEAR(dot_f32_scalar(a.data(), b.data(), n), dot_ref(a.data(), b.data(), n), bound) << n;
    }
  });
}

// axpy and add round each element once; with FMA contraction (SIMD) or without (scalar) the
// results differ by at most one rounding of a * x.
TEST(VecOpsTest, AxpyAndAddMatchTwin) {
  for_each_target([&](const std::string&) {
    for (size_t n : kSizes) {
      const auto x = random_floats(n, 3 + n), y0 = random_floats(n, 4 + n);
      auto y1 = y0, y2 = y0;
      axpy_f32(0.37f, x.data(), y1.data(), n);
      axpy_f32_scalar(0.37f, x.data(), y2.data(), n);
      for (size_t i = 0; i < n; ++i) {
        const double exact = y0[i] + 0.37 * x[i];
        EXPECT_NEAR(y1[i], exact, 2 * kU * (std::fabs(y0[i]) + std::fabs(0.37 * x[i]))) << i;
        EXPECT_NEAR(y2[i], exact, 3 * kU * (std::fabs(y0[i]) + std::fabs(0.37 * x[i]))) << i;
      }
      auto z1 = y0, z2 = y0;
      add_f32(x.data(), z1.data(), n);
      add_f32_scalar(x.data(), z2.data(), n);
      EXPECT_EQ(z1, z2);
    }
  });
}

TEST(VecOpsTest, RmsNormMatchesTwinAndReference) {
  for_each_target([&](const std::string&) {
    for (size_t n : kSizes) {
      const auto x = random_floats(n, 5 + n, 4.0f), w = random_floats(n, 6 + n);
      std::vector<float> a(n), b(n), r(n);
      rms_norm_f32(x.data(), w.data(), a.data(), n, 1e-5f);
      rms_norm_f32_scalar(x.data(), w.data(), b.data(), n, 1e-5f);
      rms_norm_ref(x.data(), w.data(), r.data(), n, 1e-5f);
      // The mean square has relative error <= n u; the scale then <= n u / 2 + a few u.
      const double rel = (n + 8) * kU;
      for (size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(a[i], b[i], 2 * rel * std::fabs(r[i]) + 1e-30) << n << " " << i;
        EXPECT_NEAR(b[i], r[i], rel * std::fabs(r[i]) + 1e-30) << n << " " << i;
      }
      // In place.
      auto y = x;
      rms_norm_f32(y.data(), w.data(), y.data(), n, 1e-5f);
      EXPECT_EQ(y, a);
    }
  });
}

// Softmax: the vector exp is accurate to about 1e-6 relative (Highway's Exp: a few ulp), the
// sum to n u relative.
TEST(VecOpsTest, SoftmaxMatchesReference) {
  for_each_target([&](const std::string&) {
    for (size_t n : kSizes) {
      auto x = random_floats(n, 7 + n, 5.0f);
      auto a = x, b = x, r = x;
      softmax_f32(a.data(), n);
      softmax_f32_scalar(b.data(), n);
      softmax_ref(r.data(), n);
      for (size_t i = 0; i < n; ++i) {
        const double tol = (1e-6 + 2 * n * kU) * r[i] + 1e-37;
        EXPECT_NEAR(a[i], r[i], tol) << n << " " << i;
        EXPECT_NEAR(b[i], r[i], tol) << n << " " << i;
      }
    }
  });
}

// Attention masks use -inf; very negative logits must give exactly or nearly 0, never NaN.
TEST(VecOpsTest, SoftmaxHandlesMaskedAndExtremeEntries) {
  for_each_target([&](const std::string&) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = {0.0f, -inf, 1.0f, -1e30f, -200.0f, 3.0f, -inf, 2.0f, -inf, 0.5f, -90.0f};
    auto r = x;
    softmax_f32(x.data(), x.size());
    softmax_ref(r.data(), r.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], r[i], 1e-6 * r[i] + 1e-37) << i;
    std::vector<float> one = {-3.0f};
    softmax_f32(one.data(), 1);
    EXPECT_EQ(one[0], 1.0f);
  });
}

TEST(VecOpsTest, SwigluMatchesReference) {
  for_each_target([&](const std::string&) {
    for (size_t n : kSizes) {
      auto g = random_floats(n, 8 + n, 4.0f), u = random_floats(n, 9 + n);
      if (n > 4) {
        g[0] = -100.0f;  // exp(-g) overflows
        g[1] = 100.0f;
        g[2] = 0.0f;
        g[3] = -87.5f;
      }
      std::vector<float> a(n), b(n), r(n);
      swiglu_f32(g.data(), u.data(), a.data(), n);
      swiglu_f32_scalar(g.data(), u.data(), b.data(), n);
      swiglu_ref(g.data(), u.data(), r.data(), n);
      // Absolute slack 1e-30: silu of g = -100 is -4e-42 exactly, the clamped vector exp gives
      // about -1e-36 (the scalar twin clamps alike); both are zero for every purpose.
      for (size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(a[i], r[i], 2e-6 * std::fabs(r[i]) + 1e-30) << n << " " << i;
        EXPECT_NEAR(b[i], r[i], 2e-6 * std::fabs(r[i]) + 1e-30) << n << " " << i;
      }
      // out may alias g or u.
      auto g2 = g;
      swiglu_f32(g2.data(), u.data(), g2.data(), n);
      EXPECT_EQ(g2, a);
      auto u2 = u;
      swiglu_f32(g.data(), u2.data(), u2.data(), n);
      EXPECT_EQ(u2, a);
    }
  });
}

}  // namespace
}  // namespace lmforge
