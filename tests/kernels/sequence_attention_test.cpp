// Whole-sequence attention (two matrix products per head) against the double-precision
// reference, one query at a time: every SIMD target, lengths from 1 to past several register
// tiles, several heads, rows with padding between tokens and a sequence that does not start at
// the first token, so that every offset and stride is exercised.
#include "kernels/sequence_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

void check(size_t n_head, size_t head_dim, uint32_t first, uint32_t count, uint32_t seed) {
  const size_t stride = n_head * head_dim + 5;  // padding floats between tokens
  const size_t tokens = first + count + 2;      // tokens around the sequence must not be read
  const AttentionShape s{.n_head = n_head,
                         .n_head_kv = n_head,
                         .head_dim = head_dim,
                         .cell_stride = stride,
                         .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)))};
  const std::vector<float> q = random_floats(tokens * stride, seed, 2.0f);
  const std::vector<float> k = random_floats(tokens * stride, seed + 1, 2.0f);
  const std::vector<float> v = random_floats(tokens * stride, seed + 2);
  std::vector<float> want(tokens * stride, 0.0f), scores(count);
  for (uint32_t t = first; t < first + count; ++t)
    attention_ref(&q[t * stride], k.data(), v.data(), s, CellSpan{nullptr, first, count}, scores.data(),
                  &want[t * stride]);
  for_each_target([&](const std::string&) {
    std::vector<float> got(tokens * stride, 0.0f);
    SequenceAttentionScratch scratch;
    for (size_t h = 0; h < n_head; ++h)
      sequence_attention_head_f32(q.data(), k.data(), v.data(), s, h, first, count, scratch, got.data());
    for (size_t t = 0; t < tokens; ++t)
      for (size_t i = 0; i < stride; ++i) {
        const bool inside = t >= first && t < first + count && i < n_head * head_dim;
        if (!inside) {
          ASSERT_EQ(got[t * stride + i], 0.0f) << "wrote outside: token " << t << " float " << i;
          continue;
        }
        ASSERT_NEAR(got[t * stride + i], want[t * stride + i], 1e-5f)  // float sums, values ~1
            << "count " << count << " token " << t << " float " << i;
      }
  });
}

TEST(SequenceAttentionTest, OneToken) { check(2, 16, 0, 1, 1); }
TEST(SequenceAttentionTest, ShortAndOffset) { check(3, 16, 4, 7, 2); }
TEST(SequenceAttentionTest, BertHeadsPastTiles) { check(4, 64, 3, 67, 3); }
TEST(SequenceAttentionTest, LongerThanAPanel) { check(2, 32, 1, 200, 4); }

}  // namespace
}  // namespace lmforge
