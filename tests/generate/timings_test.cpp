// The timing summary's layout, which users compare with llama.cpp's.
#include "generate/timings.h"

#include <gtest/gtest.h>

namespace lmforge {
namespace {

TEST(Timings, SummaryLines) {
  Timings t;
  t.load_ms = 12.5;
  t.sample_ms = 1.0;
  t.sampled = 4;
  t.prompt_ms = 20.0;
  t.prompt_tokens = 10;
  t.eval_ms = 0;
  t.evals = 0;
  EXPECT_EQ(format_timings(t),
            "\n"
            "lmforge: load time    =      12.50 ms\n"
            "lmforge: sampling     =       1.00 ms /     4 tokens (    0.25 ms per token,  4000.00 tokens per second)\n"
            "lmforge: prompt eval  =      20.00 ms /    10 tokens (    2.00 ms per token,   500.00 tokens per second)\n"
            "lmforge: eval         =       0.00 ms /     0 tokens (    0.00 ms per token,     0.00 tokens per second)\n");
}

}  // namespace
}  // namespace lmforge
