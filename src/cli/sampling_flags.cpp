#include "cli/sampling_flags.h"

namespace lmforge::cli {

void add_sampling_flags(CLI::App* sub, SamplingParams& s) {
  sub->add_option("--temp", s.temperature, "Temperature; <= 0 is greedy (default 0.8)");
  sub->add_option("--top-k", s.top_k, "Top-k, <= 0 off (default 40)");
  sub->add_option("--top-p", s.top_p, "Top-p, 1 off (default 0.95)");
  sub->add_option("--min-p", s.min_p, "Min-p, 0 off (default 0.05)");
  sub->add_option("--typical", s.typical_p, "Typical-p, 1 off (default 1)");
  sub->add_option("--repeat-penalty", s.repeat_penalty, "Repeat penalty, 1 off (default 1)");
  sub->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back over (default 64)");
  sub->add_option("--presence-penalty", s.presence_penalty, "Presence penalty (default 0)");
  sub->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty (default 0)");
  sub->add_option("--mirostat", s.mirostat, "Mirostat 0 off, 1, 2 (default 0)")->check(CLI::Range(0, 2));
  sub->add_option("--mirostat-lr", s.mirostat_eta, "Mirostat learning rate eta (default 0.1)");
  sub->add_option("--mirostat-ent", s.mirostat_tau, "Mirostat target entropy tau (default 5)");
  sub->add_option("-s,--seed", s.seed, "RNG seed (default: random)");
}

}  // namespace lmforge::cli
