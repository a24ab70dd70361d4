// KvCache on its own: where place() puts a batch and what each entry may see (one sequence
// alone stays one contiguous run read without an index list: the fast path), removal, clear,
// and the size arithmetic.
#include "engine/kv_cache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

using test::TinySpec;
using KvCacheTest = test::TinyModel;

LlamaBatch one_sequence(int32_t seq, int32_t from, int32_t to) {
  LlamaBatch b;
  for (int32_t p = from; p < to; ++p) b.add(1, p, seq, false);
  return b;
}

TEST_F(KvCacheTest, OneSequenceStaysOneRunReadWithoutIndex) {
  auto m = write(TinySpec{});
  KvCache cache(*m, 16);
  EXPECT_EQ(cache.n_cells(), 16u);
  EXPECT_EQ(cache.kv_dim(), 16u);  // 2 KV heads of 8
  EXPECT_EQ(cache.n_layer(), 2u);
  for (auto [from, to] : {std::pair{0, 5}, std::pair{5, 6}, std::pair{6, 9}}) {
    const KvPlacement p = cache.place(one_sequence(0, from, to));
    for (int32_t i = 0; i < to - from; ++i) {
      EXPECT_EQ(p.cell[static_cast<size_t>(i)], static_cast<uint32_t>(from + i));
      const CellSpan& v = p.visible[static_cast<size_t>(i)];
      EXPECT_EQ(v.index, nullptr);  // the fast path: no list to read
      EXPECT_EQ(v.first, 0u);
      EXPECT_EQ(v.count, static_cast<uint32_t>(from + i + 1));  // causal: positions 0 .. its own
    }
  }
  EXPECT_EQ(cache.n_free(), 7u);
  EXPECT_EQ(cache.seq_pos_max(0), 8);
  EXPECT_EQ(cache.cell(4), (KvCache::Cell{.pos = 4, .seq = 0}));
  cache.remove(0, 3);  // rewind to 3 positions
  EXPECT_EQ(cache.n_free(), 13u);
  EXPECT_EQ(cache.seq_pos_max(0), 2);
  const KvPlacement again = cache.place(one_sequence(0, 3, 5));
  EXPECT_EQ(again.cell, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(again.visible[1].index, nullptr);
  EXPECT_EQ(again.visible[1].count, 5u);
  cache.clear();
  EXPECT_EQ(cache.n_free(), 16u);
  EXPECT_EQ(cache.seq_pos_max(0), std::nullopt);
  EXPECT_TRUE(cache.cell(0).is_free());
}

TEST_F(KvCacheTest, InterleavedSequencesSeeOnlyTheirOwnCellsByPosition) {
  auto m = write(TinySpec{});
  KvCache cache(*m, 16, 3);
  cache.place(one_sequence(1, 0, 2));  // cells 0, 1
  LlamaBatch b;
  b.add(1, 0, 2, true);  // cell 2
  b.add(1, 2, 1, true);  // cell 3
  b.add(1, 1, 2, true);  // cell 4
  b.add(1, 3, 1, true);  // cell 5
  const KvPlacement p = cache.place(b);
  EXPECT_EQ(p.cell, (std::vector<uint32_t>{2, 3, 4, 5}));
  auto cells_of = [](const CellSpan& s) {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < s.count; ++i) out.push_back(s[i]);
    return out;
  };
  EXPECT_EQ(cells_of(p.visible[0]), (std::vector<uint32_t>{2}));
  EXPECT_EQ(cells_of(p.visible[1]), (std::vector<uint32_t>{0, 1, 3}));
  EXPECT_EQ(cells_of(p.visible[2]), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(cells_of(p.visible[3]), (std::vector<uint32_t>{0, 1, 3, 5}));
  EXPECT_NE(p.visible[3].index, nullptr);

  // Removing sequence 1 frees its cells; a new batch takes the first run that fits.
  cache.remove(1);
  EXPECT_EQ(cache.n_free(), 14u);
  EXPECT_EQ(cache.place(one_sequence(0, 0, 2)).cell, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(cache.place(one_sequence(1, 0, 3)).cell, (std::vector<uint32_t>{5, 6, 7}));  // 3 alone is too short
  // A gap in positions is allowed; a later position inserted below a stored one sees only
  // what precedes it.
  const KvPlacement gap = cache.place(one_sequence(2, 5, 6));
  EXPECT_EQ(cells_of(gap.visible[0]), (std::vector<uint32_t>{2, 4, 3}));  // positions 0, 1, 5
  EXPECT_EQ(cache.seq_pos_max(2), 5);
}

TEST_F(KvCacheTest, UnplaceFreesWhatPlaceTook) {
  auto m = write(TinySpec{});
  KvCache cache(*m, 8, 2);
  cache.place(one_sequence(0, 0, 3));
  const KvPlacement p = cache.place(one_sequence(1, 0, 2));
  cache.unplace(p);
  EXPECT_EQ(cache.n_free(), 5u);
  EXPECT_EQ(cache.seq_pos_max(1), std::nullopt);
  EXPECT_EQ(cache.seq_pos_max(0), 2);
}

TEST_F(KvCacheTest, SizesAreCheckedAndRefused) {
  auto m = write(TinySpec{});
  // 2 layers x 16 floats x 2 (keys, values) x 4 bytes per cell.
  EXPECT_EQ(llama_kv_cache_bytes(m->config(), 10), 10u * 2 * 16 * 2 * 4);
  LlamaConfig huge = m->config();
  huge.num_hidden_layers = UINT32_MAX;
  huge.head_dim = UINT32_MAX;
  EXPECT_EQ(llama_kv_cache_bytes(huge, UINT32_MAX), std::nullopt);
  EXPECT_THROW(KvCache(*m, 0), Error);
  EXPECT_THROW(KvCache(*m, 4, 0), Error);
  EXPECT_THROW(KvCache(*m, UINT32_MAX), Error);
}

}  // namespace
}  // namespace lmforge
