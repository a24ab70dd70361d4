#include "generate/timings.h"

#include <cstdarg>
#include <cstdio>

namespace lmforge {

namespace {

// printf into a string of whatever length the values need.
[[gnu::format(printf, 1, 2)]] std::string formatted(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, again);
  va_end(again);
  return out;
}

std::string phase_line(const char* what, double ms, size_t n) {
  return formatted("lmforge: %-12s = %10.2f ms / %5zu tokens (%8.2f ms per token, %8.2f tokens per second)\n", what, ms, n,
                   n ? ms / static_cast<double>(n) : 0.0, ms > 0 ? 1000.0 * static_cast<double>(n) / ms : 0.0);
}

}  // namespace

std::string format_timings(const Timings& t) {
  return "\n" + formatted("lmforge: %-12s = %10.2f ms\n", "load time", t.load_ms) + phase_line("sampling", t.sample_ms, t.sampled) +
         phase_line("prompt eval", t.prompt_ms, t.prompt_tokens) + phase_line("eval", t.eval_ms, t.evals);
}

}  // namespace lmforge
