// LlamaEngine::set_observer: the fast engine shows the float input of every weight product,
// once per weight, with the weight's GGUF name and the batch's rows.
#include <cmath>
#include <map>

#include "engine/kv_cache.h"
#include "engine/llama_batch.h"
#include "engine/llama_engine.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

using test::TinySpec;
using ObserverTest = test::TinyModel;

struct Recorder final : ActivationObserver {
  struct Seen {
    size_t calls = 0, rows = 0, cols = 0;
    double sum_sq = 0;
  };
  std::map<std::string, Seen> seen;
  void observe(const std::string& weight, const float* x, size_t ld, size_t n, size_t cols) override {
    Seen& s = seen[weight];
    ++s.calls;
    s.rows += n;
    s.cols = cols;
    for (size_t r = 0; r < n; ++r)
      for (size_t j = 0; j < cols; ++j) s.sum_sq += double{x[r * ld + j]} * x[r * ld + j];
  }
};

std::vector<float> eval_tokens(LlamaEngine& engine, const LlamaModel& model, size_t n, bool all_logits) {
  KvCache cache(model, 32);
  LlamaBatch b;
  for (size_t i = 0; i < n; ++i) b.add(static_cast<int32_t>((i * 7) % 40), static_cast<int32_t>(i), 0, all_logits || i + 1 == n);
  return engine.eval(cache, b);
}

TEST_F(ObserverTest, EveryProductIsSeenOncePerWeightWithItsRowsAndWidth) {
  TinySpec s;
  const auto model = write(s);
  const auto engine = LlamaEngine::create(*model, {.n_threads = 2, .n_batch = 5});
  Recorder rec;
  engine->set_observer(&rec);
  eval_tokens(*engine, *model, 12, false);  // chunks of 5, 5 and 2 tokens; one row of logits
  ASSERT_EQ(rec.seen.size(), 7u * s.layers + 1);
  for (uint32_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      const auto& seen = rec.seen.at(p + w + ".weight");
      EXPECT_EQ(seen.calls, 3u) << w;
      EXPECT_EQ(seen.rows, 12u) << w;
      EXPECT_EQ(seen.cols, std::string(w) == "ffn_down" ? s.ff : s.embd) << w;
      EXPECT_GT(seen.sum_sq, 0) << w;
    }
    // Q, K and V share their input, as do gate and up.
    EXPECT_EQ(rec.seen.at(p + "attn_q.weight").sum_sq, rec.seen.at(p + "attn_v.weight").sum_sq);
    EXPECT_EQ(rec.seen.at(p + "ffn_gate.weight").sum_sq, rec.seen.at(p + "ffn_up.weight").sum_sq);
  }
  EXPECT_EQ(rec.seen.at("output.weight").rows, 1u);  // only the rows that want logits
}

TEST_F(ObserverTest, ObservingChangesNoLogitsAndCanBeTurnedOff) {
  const auto model = write(TinySpec{});
  const auto engine = LlamaEngine::create(*model, {.n_threads = 2});
  const auto plain = eval_tokens(*engine, *model, 9, true);
  Recorder rec;
  engine->set_observer(&rec);
  EXPECT_EQ(eval_tokens(*engine, *model, 9, true), plain);
  EXPECT_EQ(rec.seen.at("output.weight").rows, 9u);
  engine->set_observer(nullptr);
  const size_t calls = rec.seen.at("blk.0.attn_q.weight").calls;
  eval_tokens(*engine, *model, 9, true);
  EXPECT_EQ(rec.seen.at("blk.0.attn_q.weight").calls, calls);
}

TEST_F(ObserverTest, TiedHeadIsReportedUnderTheEmbeddingsName) {
  TinySpec s;
  s.tied = true;
  const auto model = write(s);
  const auto engine = LlamaEngine::create(*model, {.n_threads = 1});
  Recorder rec;
  engine->set_observer(&rec);
  eval_tokens(*engine, *model, 4, false);
  EXPECT_EQ(rec.seen.count("output.weight"), 0u);
  EXPECT_EQ(rec.seen.at("token_embd.weight").rows, 1u);
}

}  // namespace
}  // namespace lmforge
