// dot_rows_f32 and dot_rows_f16 on every compiled SIMD target against their scalar twins, and
// the twins against a double-precision sum (of the f16 values widened by core/half, an
// independent conversion): row counts odd and even, dimensions below, at and above every vector
// width, rows not aligned, f16 subnormals among the values.
#include "kernels/similarity.h"

#include <cmath>
#include <vector>

#include "core/half.h"
#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

constexpr double kU = 5.97e-8;  // float unit roundoff 2^-24

TEST(SimilarityTest, DotRowsMatchesTwinAndDoubleSums) {
  for_each_target([&](const std::string&) {
    for (size_t dim : {1, 3, 8, 15, 16, 17, 31, 33, 64, 100, 384, 385, 768}) {
      for (size_t n_rows : {1, 2, 3, 7, 10}) {
        // One float of offset so that no row starts on a vector boundary.
        const auto storage = random_floats(n_rows * dim + 1, static_cast<uint32_t>(dim * 31 + n_rows));
        const float* rows = storage.data() + 1;
        const auto query = random_floats(dim, static_cast<uint32_t>(dim + 7));
        std::vector<float> fast(n_rows, -1.0f), twin(n_rows, -2.0f);
        dot_rows_f32(rows, n_rows, dim, query.data(), fast.data());
        dot_rows_f32_scalar(rows, n_rows, dim, query.data(), twin.data());
        for (size_t r = 0; r < n_rows; ++r) {
          double exact = 0, magnitude = 0;
          for (size_t i = 0; i < dim; ++i) {
            exact += static_cast<double>(rows[r * dim + i]) * query[i];
            magnitude += std::fabs(static_cast<double>(rows[r * dim + i]) * query[i]);
          }
          const double bound = 2.0 * dim * kU * magnitude + 1e-30;
          EXPECT_NEAR(fast[r], twin[r], 2 * bound) << "dim " << dim << " row " << r;
          EXPECT_NEAR(twin[r], exact, bound) << "dim " << dim << " row " << r;
        }
      }
    }
  });
}

TEST(SimilarityTest, DotRowsF16MatchesTwinAndDoubleSums) {
  for_each_target([&](const std::string&) {
    for (size_t dim : {1, 3, 8, 15, 16, 17, 31, 33, 64, 100, 384, 385, 768}) {
      for (size_t n_rows : {1, 2, 3, 7, 10}) {
        const auto values = random_floats(n_rows * dim + 1, static_cast<uint32_t>(dim * 37 + n_rows));
        std::vector<uint16_t> storage(values.size());
        for (size_t i = 0; i < values.size(); ++i) {
          // Every fifth value tiny, so that f16 subnormals (below 6.1e-5) are in every row.
          storage[i] = fp32_to_fp16(i % 5 == 0 ? values[i] * 1e-5f : values[i]);
        }
        const uint16_t* rows = storage.data() + 1;  // not on a vector boundary
        const auto query = random_floats(dim, static_cast<uint32_t>(dim + 11));
        std::vector<float> fast(n_rows, -1.0f), twin(n_rows, -2.0f);
        dot_rows_f16(rows, n_rows, dim, query.data(), fast.data());
        dot_rows_f16_scalar(rows, n_rows, dim, query.data(), twin.data());
        for (size_t r = 0; r < n_rows; ++r) {
          double exact = 0, magnitude = 0;
          for (size_t i = 0; i < dim; ++i) {
            const double x = fp16_to_fp32(rows[r * dim + i]);
            exact += x * query[i];
            magnitude += std::fabs(x * query[i]);
          }
          const double bound = 2.0 * dim * kU * magnitude + 1e-30;
          EXPECT_NEAR(fast[r], twin[r], 2 * bound) << "dim " << dim << " row " << r;
          EXPECT_NEAR(twin[r], exact, bound) << "dim " << dim << " row " << r;
        }
      }
    }
  });
}

TEST(SimilarityTest, NoRowsWritesNothing) {
  float score = 7.0f;
  const float q = 1.0f;
  dot_rows_f32(&q, 0, 1, &q, &score);
  EXPECT_EQ(score, 7.0f);
}

}  // namespace
}  // namespace lmforge
