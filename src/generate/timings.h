// Where the time of a generation goes, counted the way llama.cpp's summary counts it: model
// load, sampling (every draw, the one that ends the text included), prompt evaluation (the
// tokens fed in batches) and evaluation (one generated token at a time).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace lmforge {

using GenerationClock = std::chrono::steady_clock;

inline double ms_since(GenerationClock::time_point t) {
  return std::chrono::duration<double, std::milli>(GenerationClock::now() - t).count();
}

struct Timings {
  double load_ms = 0, prompt_ms = 0, sample_ms = 0, eval_ms = 0;
  size_t prompt_tokens = 0, sampled = 0, evals = 0;
};

// The llama.cpp-style summary, one line per phase after an empty line, e.g.
//   lmforge: prompt eval  =      12.34 ms /    10 tokens (    1.23 ms per token,   810.37 tokens per second)
// Returned as text: the caller decides where it goes (the CLI writes it to stderr).
std::string format_timings(const Timings& t);

}  // namespace lmforge
