// LlamaEngine::eval with a KvCache and batches of several sequences, on tiny GGUF models, for
// both engines: sequences mixed in one batch give the logits each gives alone, freed cells are
// reused with unchanged results, and every refused batch leaves the cache as it was.
#include "engine/llama_engine.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/kv_cache.h"
#include "engine/llama_batch.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

using test::TinySpec;
using BatchedEval = test::TinyModel;

constexpr size_t kVocab = 40;  // TinySpec's

struct EngineCase {
  LlamaEngineOptions options;
  std::string name;
};

// The reference engine and the fast one at several thread counts and chunk sizes (n_batch 3
// and 1 split the batches below into chunks that cut through both sequences).
std::vector<EngineCase> engine_cases() {
  return {{{.reference = true}, "reference"},
          {{.n_threads = 1}, "fast 1 thread"},
          {{.n_threads = 2}, "fast 2 threads"},
          {{.n_threads = 3, .n_batch = 3}, "fast 3 threads, chunks of 3"},
          {{.n_threads = 2, .n_batch = 1}, "fast 2 threads, chunks of 1"}};
}

// The logits of every token of `ids`, evaluated alone as sequence 0 of a fresh cache (starting
// at position 0, in one batch).
std::vector<float> alone(LlamaEngine& engine, const LlamaModel& model, const std::vector<int32_t>& ids) {
  KvCache cache(model, 32);
  LlamaBatch b;
  for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], static_cast<int32_t>(i), 0, true);
  return engine.eval(cache, b);
}

// Expects logits row `got_row` of `got` to equal row `want_row` of `want`: bit for bit for the
// reference engine (each token's arithmetic is the same whatever shares its batch), within
// float reordering for the fast one (products of other batch shapes may group sums
// differently). A token that saw another sequence's cells, or missed one of its own, is off by
// far more (~0.1 and up at these scales).
void expect_same_row(const std::vector<float>& got, size_t got_row, const std::vector<float>& want, size_t want_row,
                     bool reference, const std::string& what) {
  for (size_t v = 0; v < kVocab; ++v) {
    const float g = got[got_row * kVocab + v], w = want[want_row * kVocab + v];
    if (reference) {
      ASSERT_EQ(g, w) << what << " vocab " << v;
    } else {
      ASSERT_NEAR(g, w, 1e-5 * (1 + std::fabs(w))) << what << " vocab " << v;
    }
  }
}

// A server's step: one decode token of each of n sequences. On the fast engine each row must be
// the same bits as that token decoded alone after the same history (the small-batch kernels
// keep each row's sums in the one-token order), so a request's greedy output cannot change
// with the load beside it. A wide feed-forward (TinyLlama's 5632) so that the down projection
// has the rows that prompt-sized tiles would split into column chunks.
TEST_F(BatchedEval, DecodeRowsAreTheBitsOfEachTokenAlone) {
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    TinySpec s;
    s.matrix_type = t;
    s.ff = 5632;
    auto m = write(s);
    auto engine = LlamaEngine::create(*m, {.n_threads = 2});
    const auto history = [](int32_t seq) {
      std::vector<int32_t> h;
      for (int32_t i = 0; i < 3 + seq % 4; ++i) h.push_back((5 * seq + 3 * i + 1) % static_cast<int32_t>(kVocab));
      return h;
    };
    const auto next = [](int32_t seq) { return (7 * seq + 2) % static_cast<int32_t>(kVocab); };
    const auto prefill = [&](KvCache& cache, int32_t seq, int32_t as) {
      LlamaBatch b;
      const auto h = history(seq);
      for (size_t i = 0; i < h.size(); ++i) b.add(h[i], static_cast<int32_t>(i), as, false);
      engine->eval(cache, b);
    };
    for (int32_t n = 1; n <= 8; ++n) {
      SCOPED_TRACE(std::string(dtype_name(t)) + ", " + std::to_string(n) + " rows");
      KvCache cache(*m, 64, 8);
      LlamaBatch step;
      for (int32_t seq = 0; seq < n; ++seq) {
        prefill(cache, seq, seq);
        step.add(next(seq), static_cast<int32_t>(history(seq).size()), seq, true);
      }
      const auto rows = engine->eval(cache, step);
      for (int32_t seq = 0; seq < n; ++seq) {
        KvCache own(*m, 16, 1);
        prefill(own, seq, 0);
        LlamaBatch one;
        one.add(next(seq), static_cast<int32_t>(history(seq).size()), 0, true);
        const auto want = engine->eval(own, one);
        for (size_t v = 0; v < kVocab; ++v)
          ASSERT_EQ(rows[static_cast<size_t>(seq) * kVocab + v], want[v]) << "sequence " << seq << " vocab " << v;
      }
    }
  }
}

TEST_F(BatchedEval, TwoSequencesInOneBatchGiveTheLogitsEachGivesAlone) {
  const std::vector<int32_t> a = {1, 5, 39, 0, 7, 7, 12, 30}, b = {3, 1, 4, 1, 5, 9};
  for (DType t : {DType::F32, DType::Q4_0}) {
    TinySpec s;
    s.matrix_type = t;
    auto m = write(s);
    for (const EngineCase& e : engine_cases()) {
      SCOPED_TRACE(std::string(dtype_name(t)) + ", " + e.name);
      auto engine = LlamaEngine::create(*m, e.options);
      const auto want_a = alone(*engine, *m, a), want_b = alone(*engine, *m, b);

      // Sequence 2 (a) gets a head start of 3 tokens; then its other 5 tokens and all of
      // sequence 0 (b) alternate in one batch, at different positions. Only some entries ask
      // for logits: rows come back in batch order.
      KvCache cache(*m, 32, 4);
      LlamaBatch first;
      for (int32_t i = 0; i < 3; ++i) first.add(a[i], i, 2, i == 2);
      const auto l0 = engine->eval(cache, first);
      ASSERT_EQ(l0.size(), kVocab);
      expect_same_row(l0, 0, want_a, 2, e.options.reference, "a[2]");

      LlamaBatch mixed;
      struct Origin {
        char seq;
        size_t i;
      };
      std::vector<Origin> rows;
      for (size_t k = 0; k < 6; ++k) {
        if (3 + k < a.size()) {
          const bool want = k % 2 == 0 || 3 + k + 1 == a.size();
          mixed.add(a[3 + k], static_cast<int32_t>(3 + k), 2, want);
          if (want) rows.push_back({'a', 3 + k});
        }
        mixed.add(b[k], static_cast<int32_t>(k), 0, true);
        rows.push_back({'b', k});
      }
      const auto l1 = engine->eval(cache, mixed);
      ASSERT_EQ(l1.size(), rows.size() * kVocab);
      for (size_t r = 0; r < rows.size(); ++r)
        expect_same_row(l1, r, rows[r].seq == 'a' ? want_a : want_b, rows[r].i, e.options.reference,
                        std::string(1, rows[r].seq) + "[" + std::to_string(rows[r].i) + "]");
      EXPECT_EQ(cache.n_free(), 32u - a.size() - b.size());
      EXPECT_EQ(cache.seq_pos_max(2), 7);
      EXPECT_EQ(cache.seq_pos_max(0), 5);
      EXPECT_EQ(cache.seq_pos_max(1), std::nullopt);
    }
  }
}

TEST_F(BatchedEval, RemovedSequenceFreesItsCellsForAnother) {
  const std::vector<int32_t> a = {2, 4, 6, 8}, b = {1, 3, 5, 7, 9, 11}, c = {10, 20, 30, 31, 32, 33, 34};
  auto m = write(TinySpec{});
  for (const EngineCase& e : engine_cases()) {
    SCOPED_TRACE(e.name);
    auto engine = LlamaEngine::create(*m, e.options);
    const auto want_b = alone(*engine, *m, b), want_c = alone(*engine, *m, c);
    auto eval_seq = [&](KvCache& cache, const std::vector<int32_t>& ids, size_t from, size_t to, int32_t seq) {
      LlamaBatch batch;
      for (size_t i = from; i < to; ++i) batch.add(ids[i], static_cast<int32_t>(i), seq, true);
      return engine->eval(cache, batch);
    };

    // a in cells 0-3, b's first 4 tokens in cells 4-7, 8-11 free.
    KvCache cache(*m, 12, 3);
    eval_seq(cache, a, 0, 4, 0);
    eval_seq(cache, b, 0, 4, 1);
    EXPECT_EQ(cache.n_free(), 4u);
    cache.remove(0);
    EXPECT_EQ(cache.n_free(), 8u);
    EXPECT_EQ(cache.seq_pos_max(0), std::nullopt);
    for (uint32_t cell = 0; cell < 4; ++cell) EXPECT_TRUE(cache.cell(cell).is_free()) << cell;

    // c's 6 tokens find no run of 6 free cells: they take a's old cells 0-3 and then 8, 9.
    const auto lc = eval_seq(cache, c, 0, 6, 2);
    for (size_t i = 0; i < 6; ++i) expect_same_row(lc, i, want_c, i, e.options.reference, "c[" + std::to_string(i) + "]");
    for (uint32_t cell : {0u, 1u, 2u, 3u, 8u, 9u}) EXPECT_EQ(cache.cell(cell).seq, 2) << cell;
    // b goes on in cells 10-11, beside c, unchanged.
    const auto lb = eval_seq(cache, b, 4, 6, 1);
    for (size_t i = 0; i < 2; ++i) expect_same_row(lb, i, want_b, 4 + i, e.options.reference, "b[" + std::to_string(4 + i) + "]");
    EXPECT_EQ(cache.n_free(), 0u);

    // Freeing b's positions >= 2 (what rewind does) lets c's last token land in cell 6, out
    // of order among c's cells.
    cache.remove(1, 2);
    EXPECT_EQ(cache.n_free(), 4u);
    EXPECT_EQ(cache.seq_pos_max(1), 1);
    const auto lc6 = eval_seq(cache, c, 6, 7, 2);
    EXPECT_EQ(cache.cell(6), (KvCache::Cell{.pos = 6, .seq = 2}));
    expect_same_row(lc6, 0, want_c, 6, e.options.reference, "c[6]");
  }
}

// Everything the cache shows of itself: the tag of every cell and the free count.
std::vector<KvCache::Cell> snapshot(const KvCache& cache) {
  std::vector<KvCache::Cell> cells(cache.n_cells());
  for (uint32_t c = 0; c < cache.n_cells(); ++c) cells[c] = cache.cell(c);
  return cells;
}

TEST_F(BatchedEval, EveryRefusalLeavesTheCacheUnchanged) {
  TinySpec other_shape;
  other_shape.kv_heads = 4;
  auto other = write(other_shape);  // replaces the file; m keeps its mapping
  auto m = write(TinySpec{});
  for (const EngineCase& e : engine_cases()) {
    SCOPED_TRACE(e.name);
    auto engine = LlamaEngine::create(*m, e.options);
    KvCache cache(*m, 8, 2);
    LlamaBatch start;
    for (int32_t i = 0; i < 3; ++i) start.add(i + 1, i, 0, false);
    start.add(9, 0, 1, false);
    start.add(10, 1, 1, false);
    engine->eval(cache, start);
    const auto before = snapshot(cache);
    ASSERT_EQ(cache.n_free(), 3u);

    auto batch_of = [](std::vector<std::array<int32_t, 3>> entries) {
      LlamaBatch b;
      for (const auto& [token, pos, seq] : entries) b.add(token, pos, seq, true);
      return b;
    };
    LlamaBatch uneven = batch_of({{1, 3, 0}});
    uneven.pos.push_back(4);
    const std::vector<std::pair<std::string, LlamaBatch>> refused = {
        {"does not fit", batch_of({{1, 3, 0}, {2, 4, 0}, {3, 2, 1}, {4, 3, 1}})},
        {"token id = n_vocab", batch_of({{1, 3, 0}, {40, 4, 0}})},
        {"negative token id", batch_of({{-1, 3, 0}})},
        {"position already stored", batch_of({{5, 3, 0}, {5, 1, 1}})},
        {"position repeated in the batch", batch_of({{5, 3, 0}, {6, 3, 0}})},
        {"positions not increasing in the batch", batch_of({{5, 4, 0}, {6, 3, 0}})},
        {"negative position", batch_of({{5, -1, 0}})},
        {"sequence id = n_seq_max", batch_of({{5, 0, 2}})},
        {"negative sequence id", batch_of({{5, 0, -1}})},
        {"lists of different lengths", uneven},
        {"empty batch", LlamaBatch{}},
    };
    for (const auto& [why, batch] : refused) {
      EXPECT_THROW(engine->eval(cache, batch), Error) << why;
      EXPECT_EQ(snapshot(cache), before) << why;
      EXPECT_EQ(cache.n_free(), 3u) << why;
    }
    EXPECT_THROW(cache.remove(2), Error);
    EXPECT_THROW(cache.remove(-1, 0), Error);
    EXPECT_EQ(snapshot(cache), before);
    KvCache wrong(*other, 8);
    EXPECT_THROW(engine->eval(wrong, batch_of({{1, 0, 0}})), Error);
    EXPECT_EQ(wrong.n_free(), 8u);

    // The keys and values survived: both sequences go on as if nothing had been refused.
    const auto got = engine->eval(cache, batch_of({{4, 3, 0}, {11, 2, 1}}));
    const auto want_0 = alone(*engine, *m, {1, 2, 3, 4}), want_1 = alone(*engine, *m, {9, 10, 11});
    expect_same_row(got, 0, want_0, 3, e.options.reference, "sequence 0");
    expect_same_row(got, 1, want_1, 2, e.options.reference, "sequence 1");
  }
}

}  // namespace
}  // namespace lmforge
