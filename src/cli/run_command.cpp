// `lmforge run -m MODEL.gguf -p PROMPT [-n N] [-c CTX] [sampling flags] [--json]`
//
// Streams the continuation of a prompt, then prints llama.cpp-style timings to stderr. This
// first version runs the scalar reference forward pass (SIMD kernels come next); its flags and
// defaults follow llama.cpp's. Ctrl-C stops generation and still prints the summary.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "model/llama_forward.h"
#include "model/llama_model.h"
#include "sampling/sampler.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/vocab.h"

namespace lmforge::cli {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct RunOptions {
  std::string model, prompt;
  int32_t n_predict = 128;
  uint32_t n_ctx = 0;
  bool json = false;
  SamplingParams sampling;
};

void print_timing(const char* what, double ms, size_t n) {
  std::fprintf(stderr, "lmforge: %-12s = %10.2f ms / %5zu tokens (%8.2f ms per token, %8.2f tokens per second)\n", what, ms, n,
               n ? ms / static_cast<double>(n) : 0.0, ms > 0 ? 1000.0 * static_cast<double>(n) / ms : 0.0);
}

int run_generation(const RunOptions& o) {
  if (o.n_predict < 0) throw UsageError("-n must be 0 or more");
  const auto t_load = Clock::now();
  auto model = LlamaModel::open(o.model);
  SpmTokenizer tok(load_vocab(o.model));
  const uint32_t model_ctx = model->config().max_position_embeddings;
  const uint32_t n_ctx = o.n_ctx ? o.n_ctx : model_ctx;
  if (n_ctx > (1u << 20)) throw UsageError("-c " + std::to_string(n_ctx) + " is larger than lmforge supports (1048576)");
  LlamaContext ctx(*model, n_ctx);
  const double load_ms = ms_since(t_load);

  const std::vector<int32_t> prompt = tok.encode(o.prompt, tok.vocab().add_bos, false);
  if (prompt.empty()) throw UsageError("the prompt is empty and the model adds no BOS token");
  if (prompt.size() >= n_ctx)
    throw UsageError("the prompt has " + std::to_string(prompt.size()) + " tokens, which does not fit a context of " +
                     std::to_string(n_ctx) + " (use -c)");

  Sampler sampler(o.sampling);
  for (int32_t t : prompt) sampler.accept(t);
  g_interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);

  if (!o.json) {
    std::fputs(o.prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  const auto t_prompt = Clock::now();
  std::vector<float> logits = ctx.eval(prompt);
  const double prompt_ms = ms_since(t_prompt);

  std::vector<int32_t> generated;
  std::string printed;
  double sample_ms = 0, eval_ms = 0;
  size_t evals = 0;
  const int32_t eos = tok.vocab().eos_id;
  while (static_cast<int32_t>(generated.size()) < o.n_predict && !g_interrupted) {
    const auto t_sample = Clock::now();
    const int32_t next = sampler.sample(logits);
    sample_ms += ms_since(t_sample);
    if (next == eos) break;
    sampler.accept(next);
    generated.push_back(next);
    if (o.json) {
      nlohmann::json j = {{"token", next}, {"piece", sanitize_utf8(tok.token_text(next))}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      // Print what the decoded text gained, holding back an unfinished UTF-8 sequence.
      const std::string text = tok.decode(generated);
      if (text.size() >= printed.size() && text.compare(0, printed.size(), printed) == 0 &&
          (text.size() < 3 || text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") != 0)) {
        std::fputs(text.c_str() + printed.size(), stdout);
        printed = text;
      }
    }
    std::fflush(stdout);
    if (ctx.pos() >= n_ctx || static_cast<int32_t>(generated.size()) >= o.n_predict) break;
    const auto t_eval = Clock::now();
    logits = ctx.eval(std::span<const int32_t>(&next, 1));
    eval_ms += ms_since(t_eval);
    ++evals;
  }
  std::signal(SIGINT, previous);
  if (!o.json) std::fputs("\n", stdout);
  std::fflush(stdout);

  std::fprintf(stderr, "\n");
  std::fprintf(stderr, "lmforge: %-12s = %10.2f ms\n", "load time", load_ms);
  print_timing("sampling", sample_ms, generated.size());
  print_timing("prompt eval", prompt_ms, prompt.size());
  print_timing("eval", eval_ms, evals);
  if (g_interrupted) std::fprintf(stderr, "lmforge: interrupted\n");
  return 0;
}

}  // namespace

Action& register_run(CLI::App& app) {
  static Action action;
  static RunOptions o;
  auto* sub = app.add_subcommand("run", "Generate a continuation of a prompt (scalar reference engine for now)");
  sub->add_option("-m,--model", o.model, "GGUF model file")->required();
  sub->add_option("-p,--prompt", o.prompt, "Prompt text")->required();
  sub->add_option("-n,--n-predict", o.n_predict, "Tokens to generate (default 128)");
  sub->add_option("-c,--ctx-size", o.n_ctx, "Context size (default: the model's)");
  auto& s = o.sampling;
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
  sub->add_flag("--json", o.json, "One JSON object per generated token instead of text");
  action = [] { return run_generation(o); };
  return action;
}

}  // namespace lmforge::cli
