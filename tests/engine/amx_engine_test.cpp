// The fast engine with and without AMX tiles (kernels/amx_matmul.h) on tiny models of the types
// that take them: a 40-token prompt (chunks of 40 and of 24 + 16) gives
// the same greedy token at every position (but near ties) and logits within a stated
// tolerance. Interleaved Q4_0/Q8_0 run the integer kernels' arithmetic on INT8 tiles: the
// logits come out bit for bit the same (measured; the bound allows float reordering). Q4_1
// runs its block arithmetic there too, summing the blocks in order where its AVX-512 kernel
// sums them in 8 lanes: max |dlogit| 1.9e-6, logits up to 8.2 (Q5_1 would be 1.4e-6, but the
// engine keeps it on its kernel: amx_supports()). F16 takes the exact three-part product
// (kernels/amx_f16.h): float sums in another order. The
// bf16-pair types differ by ~2^-16 per term: BF16 (float activations) by ~1e-5 of the logits.
// Q3_K...Q6_K take INT8 tiles (kernels/amx_kquants.h) with the integer kernels' int32 sums
// but the scalar twin's float order (the SIMD kernels add in 8 lanes): Q6_K's logits differ by
// 2e-7 of their scale (measured; Q3_K within 1e-5); Q4_K/Q5_K subtract the mins term, whose
// cancellation lets the reordering flip a later 8-bit activation code, and these tiny random
// models move a logit by up to ~0.6 of 18 for one flip (measured 1.1e-3 and 8.9e-3 of the
// scale; bf16 pairs gave 3.3e-2), hence their bound; a wrong product moves every position by
// the logits' own size.
// Skips where the CPU or kernel has no AMX.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <string>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/llama_batch.h"
#include "engine/llama_engine.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

using AmxEngine = test::TinyModel;

// The 40-token prompts must take the tiles for every type, whatever decoders this build has
// (amx_min_tokens() reads this once, before any test runs).
const bool kThresholdSet = setenv("LMFORGE_AMX_MIN_TOKENS", "16", 0) == 0;

std::vector<float> prompt_logits(const LlamaModel& model, bool amx, uint32_t n_batch) {
  LlamaEngineOptions o;
  o.n_threads = 2;
  o.n_batch = n_batch;
  o.amx = amx;
  auto engine = LlamaEngine::create(model, o);
  KvCache cache(model, 64);
  LlamaBatch b;
  for (int32_t i = 0; i < 40; ++i) b.add((i * 7 + 3) % 40, i, 0, true);
  return engine->eval(cache, b);
}

TEST_F(AmxEngine, SameTokensAndCloseLogitsWithAndWithoutTiles) {
  ASSERT_TRUE(kThresholdSet);
  if (!amx_enabled()) GTEST_SKIP() << "no AMX here (or LMFORGE_NO_AMX is set)";
  struct Case {
    DType type;
    uint32_t embd, ff;
    double tolerance;  // of max |dlogit| / max |logit|
  };
  for (const Case& c : {Case{DType::Q4_0, 64, 128, 1e-5}, Case{DType::Q8_0, 64, 128, 1e-5},
                        Case{DType::Q4_1, 64, 128, 1e-5},
                        Case{DType::Q4_K, 256, 512, 6e-2}, Case{DType::Q5_K, 256, 512, 6e-2},
                        Case{DType::Q6_K, 256, 512, 1e-5}, Case{DType::Q3_K, 256, 512, 1e-5},
                        Case{DType::BF16, 64, 128, 1e-3}, Case{DType::F16, 64, 128, 1e-5}}) {
    SCOPED_TRACE(std::string(dtype_name(c.type)));
    test::TinySpec spec;
    spec.matrix_type = c.type;
    spec.embd = c.embd;
    spec.ff = c.ff;
    auto model = write(spec);
    for (uint32_t n_batch : {512u, 24u}) {
      SCOPED_TRACE("n_batch " + std::to_string(n_batch));
      const std::vector<float> off = prompt_logits(*model, false, n_batch), on = prompt_logits(*model, true, n_batch);
      ASSERT_EQ(off.size(), on.size());
      const size_t vocab = off.size() / 40;
      double scale = 0, worst = 0;
      for (size_t i = 0; i < off.size(); ++i) {
        scale = std::max(scale, std::fabs(double{off[i]}));
        worst = std::max(worst, std::fabs(double{on[i]} - off[i]));
      }
      EXPECT_LE(worst, c.tolerance * scale) << "max |dlogit| " << worst << " of logits up to " << scale;
      for (size_t t = 0; t < 40; ++t) {
        const auto row_off = off.begin() + static_cast<ptrdiff_t>(t * vocab);
        const auto row_on = on.begin() + static_cast<ptrdiff_t>(t * vocab);
        std::vector<float> sorted(row_off, row_off + static_cast<ptrdiff_t>(vocab));
        std::sort(sorted.rbegin(), sorted.rend());
        if (sorted[0] - sorted[1] <= 2 * worst) continue;  // a near tie may go either way
        EXPECT_EQ(std::max_element(row_off, row_off + static_cast<ptrdiff_t>(vocab)) - row_off,
                  std::max_element(row_on, row_on + static_cast<ptrdiff_t>(vocab)) - row_on)
            << "greedy token at position " << t;
      }
    }
  }
}

}  // namespace
}  // namespace lmforge
