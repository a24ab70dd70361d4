// LlamaEngine::eval_hidden: the final hidden states (after the output norm) that embeddings are
// pooled from. On a tiny random GGUF, for both engines: the output head applied to them gives
// eval's logits, the fast engine's agree with the reference's, and only flagged entries return.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/llama_batch.h"
#include "engine/llama_engine.h"
#include "kernels/matmul_ref.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

using test::TinySpec;
using EvalHidden = test::TinyModel;

LlamaBatch two_sequences(bool all) {
  LlamaBatch b;
  const std::vector<int32_t> a = {1, 5, 9, 3}, c = {2, 7, 11};
  for (size_t i = 0; i < a.size(); ++i) b.add(a[i], static_cast<int32_t>(i), 0, all || i + 1 == a.size());
  for (size_t i = 0; i < c.size(); ++i) b.add(c[i], static_cast<int32_t>(i), 1, all || i + 1 == c.size());
  return b;
}

TEST_F(EvalHidden, OutputHeadOfTheHiddenStatesIsTheLogits) {
  const auto model = write(TinySpec{});
  const size_t embd = model->config().hidden_size, vocab = model->n_vocab();
  for (bool reference : {true, false}) {
    const auto engine = LlamaEngine::create(*model, {.n_threads = 2, .reference = reference});
    KvCache c1(*model, 16, 2), c2(*model, 16, 2);
    const LlamaBatch batch = two_sequences(true);
    const std::vector<float> hidden = engine->eval_hidden(c1, batch);
    const std::vector<float> logits = engine->eval(c2, batch);
    ASSERT_EQ(hidden.size(), batch.size() * embd);
    ASSERT_EQ(logits.size(), batch.size() * vocab);
    std::vector<float> y(vocab);
    for (size_t t = 0; t < batch.size(); ++t) {
      matmul_ref(model->output.m, &hidden[t * embd], y.data());
      for (size_t v = 0; v < vocab; ++v)
        EXPECT_NEAR(y[v], logits[t * vocab + v], 2e-5 * (1 + std::fabs(logits[t * vocab + v])))
            << (reference ? "reference" : "fast") << " token " << t << " vocab " << v;
    }
    // Hidden rows are normed: RMS over embd close to the norm weights' scale (~1), never raw.
    double ss = 0;
    for (size_t j = 0; j < embd; ++j) ss += double{hidden[j]} * hidden[j];
    EXPECT_GT(ss / embd, 0.3);
    EXPECT_LT(ss / embd, 3.0);
  }
}

TEST_F(EvalHidden, FastMatchesReferenceAndOnlyFlaggedRowsReturn) {
  const auto model = write(TinySpec{});
  const size_t embd = model->config().hidden_size;
  const auto ref = LlamaEngine::create(*model, {.reference = true});
  const auto fast = LlamaEngine::create(*model, {.n_threads = 3, .n_batch = 3});
  KvCache c1(*model, 16, 2), c2(*model, 16, 2), c3(*model, 16, 2);
  const auto all_ref = ref->eval_hidden(c1, two_sequences(true));
  const auto all_fast = fast->eval_hidden(c2, two_sequences(true));
  ASSERT_EQ(all_ref.size(), all_fast.size());
  for (size_t i = 0; i < all_ref.size(); ++i) EXPECT_NEAR(all_fast[i], all_ref[i], 2e-5) << i;
  const auto last = fast->eval_hidden(c3, two_sequences(false));
  ASSERT_EQ(last.size(), 2 * embd);
  for (size_t j = 0; j < embd; ++j) {
    EXPECT_NEAR(last[j], all_ref[3 * embd + j], 2e-5);         // sequence 0's last token
    EXPECT_NEAR(last[embd + j], all_ref[6 * embd + j], 2e-5);  // sequence 1's last token
  }
  // eval still returns logits afterwards (the hidden mode does not stick).
  KvCache c4(*model, 16, 2);
  EXPECT_EQ(fast->eval(c4, two_sequences(false)).size(), 2 * model->n_vocab());
}

}  // namespace
}  // namespace lmforge
