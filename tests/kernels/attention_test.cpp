// Attention over cached cells: the reference against hand computation, the fast form (every
// SIMD target of the vector operations it calls) against the reference, and the cell spans:
// an index list reads exactly the listed cells in the listed order, and nothing else.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

// Keys and values of n_cells cells, each `stride` floats apart (>= n_head_kv * head_dim, the
// rest padding), random.
struct Cache {
  AttentionShape shape;
  std::vector<float> k, v;
  Cache(size_t n_head, size_t n_head_kv, size_t head_dim, size_t n_cells, uint32_t seed) {
    shape = AttentionShape{.n_head = n_head,
                           .n_head_kv = n_head_kv,
                           .head_dim = head_dim,
                           .cell_stride = n_head_kv * head_dim + 3,
                           .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)))};
    k = random_floats(n_cells * shape.cell_stride, seed);
    v = random_floats(n_cells * shape.cell_stride, seed + 1);
  }
  // Cell `from` of `other` copied into cell `to` of this one.
  void copy_cell(const Cache& other, size_t from, size_t to) {
    const size_t s = shape.cell_stride;
    std::copy(other.k.begin() + from * s, other.k.begin() + (from + 1) * s, k.begin() + to * s);
    std::copy(other.v.begin() + from * s, other.v.begin() + (from + 1) * s, v.begin() + to * s);
  }
};

std::vector<float> run_ref(const Cache& c, const std::vector<float>& q, CellSpan cells) {
  std::vector<float> out(q.size()), scores(cells.count);
  attention_ref(q.data(), c.k.data(), c.v.data(), c.shape, cells, scores.data(), out.data());
  return out;
}

std::vector<float> run_fast(const Cache& c, const std::vector<float>& q, CellSpan cells) {
  std::vector<float> out(q.size()), scores(cells.count);
  attention_f32(q.data(), c.k.data(), c.v.data(), c.shape, cells, scores.data(), out.data());
  return out;
}

TEST(AttentionTest, ReferenceByHand) {
  // One head of 2, scale 1: scores q·k = 0 and ln 3, softmax 1/4 and 3/4.
  const float q[2] = {1, 0};
  const float k[4] = {0, 0, std::log(3.0f), 5};
  const float v[4] = {4, -8, 8, 4};
  const AttentionShape s{.n_head = 1, .n_head_kv = 1, .head_dim = 2, .cell_stride = 2, .scale = 1};
  float scores[2], out[2];
  attention_ref(q, k, v, s, CellSpan{.first = 0, .count = 2}, scores, out);
  EXPECT_NEAR(out[0], 0.25 * 4 + 0.75 * 8, 1e-6);
  EXPECT_NEAR(out[1], 0.25 * -8 + 0.75 * 4, 1e-6);
  // The span's first cell only: softmax of one score is 1, the output its value.
  attention_ref(q, k, v, s, CellSpan{.first = 1, .count = 1}, scores, out);
  EXPECT_EQ(out[0], 8.0f);
  EXPECT_EQ(out[1], 4.0f);
}

TEST(AttentionTest, QueryHeadsReadTheirKvGroup) {
  // 4 query heads over 2 KV heads and one cell: head h's output is KV head h / 2's value.
  for_each_target([&](const std::string&) {
    Cache c(4, 2, 8, 1, 7);
    const auto q = random_floats(4 * 8, 8);
    for (const auto& out : {run_ref(c, q, CellSpan{.count = 1}), run_fast(c, q, CellSpan{.count = 1})})
      for (size_t h = 0; h < 4; ++h)
        for (size_t i = 0; i < 8; ++i) ASSERT_EQ(out[h * 8 + i], c.v[(h / 2) * 8 + i]) << h << " " << i;
  });
}

TEST(AttentionTest, OneHeadWritesOnlyItsSlice) {
  Cache c(4, 2, 8, 5, 9);
  const auto q = random_floats(4 * 8, 10);
  std::vector<float> out(4 * 8, -7.0f), scores(5);
  attention_head_f32(q.data(), c.k.data(), c.v.data(), c.shape, 2, CellSpan{.count = 5}, scores.data(), out.data());
  const auto all = run_fast(c, q, CellSpan{.count = 5});
  for (size_t i = 0; i < out.size(); ++i) {
    if (i / 8 == 2) {
      EXPECT_EQ(out[i], all[i]) << i;
    } else {
      EXPECT_EQ(out[i], -7.0f) << i;
    }
  }
}

// Float sums of head_dim products and of the weighted values against double ones: scores of
// about unit size, values of about unit size; measured differences stay below 1e-6.
TEST(AttentionTest, FastMatchesTheReference) {
  struct Heads {
    size_t n_head, n_head_kv, head_dim;
  };
  for_each_target([&](const std::string&) {
    for (const Heads& h : {Heads{4, 4, 8}, Heads{4, 2, 64}, Heads{8, 1, 100}, Heads{2, 2, 128}}) {
      for (uint32_t n : {1u, 5u, 33u, 300u}) {
        Cache c(h.n_head, h.n_head_kv, h.head_dim, n + 4, n);
        const auto q = random_floats(h.n_head * h.head_dim, n + 1);
        // A contiguous span starting at cell 3, and an index list of every other cell.
        std::vector<uint32_t> every_other;
        for (uint32_t i = 0; i < n + 4 && every_other.size() < n; i += 2) every_other.push_back(i);
        for (const CellSpan span : {CellSpan{.first = 3, .count = n},
                                    CellSpan{.index = every_other.data(), .count = static_cast<uint32_t>(every_other.size())}}) {
          const auto want = run_ref(c, q, span), got = run_fast(c, q, span);
          double worst = 0;
          for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
          EXPECT_LT(worst, 2e-5) << h.n_head << "/" << h.n_head_kv << "x" << h.head_dim << " cells " << n;
        }
      }
    }
  });
}

// The same keys and values stored in shuffled cells, read through an index list in the
// original order, give bit-identical outputs; cells outside the span (NaN here) are never read.
TEST(AttentionTest, IndexListReadsExactlyTheListedCellsInOrder) {
  const uint32_t n = 37, n_cells = 2 * n;
  Cache ordered(4, 2, 16, n, 21);
  Cache shuffled(4, 2, 16, n_cells, 0);
  std::fill(shuffled.k.begin(), shuffled.k.end(), std::numeric_limits<float>::quiet_NaN());
  std::fill(shuffled.v.begin(), shuffled.v.end(), std::numeric_limits<float>::quiet_NaN());
  std::vector<uint32_t> where(n_cells);
  std::iota(where.begin(), where.end(), 0u);
  std::shuffle(where.begin(), where.end(), std::mt19937(5));
  where.resize(n);
  for (uint32_t i = 0; i < n; ++i) shuffled.copy_cell(ordered, i, where[i]);
  const auto q = random_floats(4 * 16, 22);
  for_each_target([&](const std::string&) {
    for (uint32_t count : {1u, 2u, n}) {
      const CellSpan contiguous{.count = count}, listed{.index = where.data(), .count = count};
      EXPECT_EQ(run_ref(shuffled, q, listed), run_ref(ordered, q, contiguous)) << count;
      const auto fast = run_fast(shuffled, q, listed);
      EXPECT_EQ(fast, run_fast(ordered, q, contiguous)) << count;
      for (float x : fast) ASSERT_TRUE(std::isfinite(x));
    }
  });
}

}  // namespace
}  // namespace lmforge
