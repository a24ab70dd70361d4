// `lmforge bench -m MODEL [-p 512] [-n 128] [-t T] [-r 5] [--json]`
//
// Speed of the forward pass, as llama-bench measures it: per repetition a fresh context,
// prompt processing (pp) of p token ids in one batched evaluation, then generation (tg) of n
// tokens one evaluation each, every next token the argmax of the previous logits (so the
// timing is the engine's, not a sampler's). The ids are drawn from a fixed seed so that every
// run and every engine sees the same prompt. One warm-up repetition (page cache, thread pool,
// CPU clocks) is run first and not counted (--warmup N changes how many; bench/engine_bench.py
// warms up once per model and then runs one repetition per process, to read each one's peak RSS). Reports the median tokens/s over the repetitions
// with min, max and the sample standard deviation.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/stats.h"
#include "engine/llama_forward.h"
#include "engine/llama_model.h"
#include "kernels/amx_support.h"
#include "kernels/gptq_form.h"
#include "kernels/matmul.h"
#include "engine/model_loader.h"

namespace lmforge::cli {

namespace {

struct BenchOptions {
  std::string model;
  uint32_t n_prompt = 512;
  uint32_t n_gen = 128;
  uint32_t n_threads = 0;
  uint32_t reps = 5;
  uint32_t warmup = 1;
  bool json = false;
  std::vector<LoraRequest> loras;  // --lora / --lora-scale / --lora-scaled
};

constexpr uint32_t kMaxTokens = 1u << 16;  // p + n; more is a typo, not a benchmark
constexpr uint32_t kMaxThreads = 1024;
constexpr uint32_t kMaxReps = 1000;
constexpr uint32_t kPromptSeed = 1234;

struct Rep {
  double pp_tokens_per_s = 0, tg_tokens_per_s = 0;
};

int32_t argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Rep run_once(const LlamaModel& model, const std::vector<int32_t>& prompt, uint32_t n_gen, uint32_t n_threads,
             const std::vector<AppliedLora>& loras) {
  using Clock = std::chrono::steady_clock;
  LlamaContext ctx(model, LlamaContextOptions{.n_ctx = static_cast<uint32_t>(prompt.size()) + n_gen + 1,
                                              .n_threads = n_threads,
                                              .loras = loras});
  Rep rep;
  std::vector<float> logits;
  if (!prompt.empty()) {
    const auto t = Clock::now();
    logits = ctx.eval(prompt);
    const double s = std::chrono::duration<double>(Clock::now() - t).count();
    rep.pp_tokens_per_s = static_cast<double>(prompt.size()) / s;
  }
  if (n_gen > 0) {
    int32_t next = logits.empty() ? prompt.empty() ? 1 : prompt.back() : argmax(logits);
    const auto t = Clock::now();
    for (uint32_t i = 0; i < n_gen; ++i) {
      logits = ctx.eval(std::span<const int32_t>(&next, 1));
      next = argmax(logits);
    }
    const double s = std::chrono::duration<double>(Clock::now() - t).count();
    rep.tg_tokens_per_s = static_cast<double>(n_gen) / s;
  }
  return rep;
}

// Bytes of every weight matrix, and the type holding most of them ("Q4_0" for a Q4_0 file whose
// norms are F32).
std::pair<uint64_t, std::string> weight_bytes(const LlamaModel& model) {
  uint64_t per_type[static_cast<size_t>(DType::kCount)] = {};
  uint64_t gptq_bytes = 0;
  int gptq_bits = 0;
  auto add = [&](const LlamaWeight& w) {
    if (w.gptq) {
      gptq_bytes += w.gptq->bytes();
      gptq_bits = w.gptq->bits();
    } else {
      per_type[static_cast<size_t>(w.m.type)] += w.m.rows * w.m.row_bytes;
    }
  };
  add(model.tok_embd);
  for (const LlamaLayer& l : model.layers)
    for (const LlamaWeight* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*w);
  if (!model.tied_output) add(model.output);
  uint64_t total = 0;
  size_t main_type = 0;
  for (size_t t = 0; t < static_cast<size_t>(DType::kCount); ++t) {
    total += per_type[t];
    if (per_type[t] > per_type[main_type]) main_type = t;
  }
  if (gptq_bytes > per_type[main_type]) return {total + gptq_bytes, "GPTQ-" + std::to_string(gptq_bits) + "bit"};
  total += gptq_bytes;
  return {total, std::string(dtype_name(static_cast<DType>(main_type)))};
}

nlohmann::json summary_json(const Summary& s) {
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"stddev", s.stddev}};
}

int run_bench(const BenchOptions& o, bool threads_given) {
  if (o.n_prompt + static_cast<uint64_t>(o.n_gen) == 0) throw UsageError("bench: -p and -n are both 0: nothing to time");
  if (o.n_prompt > kMaxTokens || o.n_gen > kMaxTokens || o.n_prompt + o.n_gen > kMaxTokens)
    throw UsageError("bench: -p + -n must be at most " + std::to_string(kMaxTokens));
  if (threads_given && (o.n_threads < 1 || o.n_threads > kMaxThreads))
    throw UsageError("bench: -t must be between 1 and " + std::to_string(kMaxThreads));
  if (o.reps < 1 || o.reps > kMaxReps) throw UsageError("bench: -r must be between 1 and " + std::to_string(kMaxReps));
  if (o.warmup > kMaxReps) throw UsageError("bench: --warmup must be at most " + std::to_string(kMaxReps));

  // GGUF or any folder `run` reads (a GPTQ folder's linears go straight to their kernels).
  const LoadedModel loaded = load_model_for_inference(o.model);
  const auto& model = loaded.model;
  const auto [bytes, type] = weight_bytes(*model);
  std::mt19937 rng(kPromptSeed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(model->n_vocab()) - 1);
  std::vector<int32_t> prompt(o.n_prompt);
  for (int32_t& id : prompt) id = pick(rng);

  const uint32_t threads = o.n_threads ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
  const std::vector<AppliedLora> loras = load_loras(o.loras, *model, o.json);
  for (uint32_t w = 0; w < o.warmup; ++w) run_once(*model, prompt, o.n_gen, threads, loras);  // not counted
  std::vector<double> pp, tg;
  for (uint32_t r = 0; r < o.reps; ++r) {
    const Rep rep = run_once(*model, prompt, o.n_gen, threads, loras);
    if (o.n_prompt) pp.push_back(rep.pp_tokens_per_s);
    if (o.n_gen) tg.push_back(rep.tg_tokens_per_s);
  }
  const Summary pps = summarize(pp), tgs = summarize(tg);

  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"type", type},
                        {"model_bytes", bytes},
                        {"threads", threads},
                        {"n_prompt", o.n_prompt},
                        {"n_gen", o.n_gen},
                        {"reps", o.reps},
                        {"simd", matmul_target_name()},
                        {"amx", amx_enabled()},  // prompt chunks on AMX tiles (kernels/amx_matmul.h)
                        {"loras", o.loras.size()},
                        {"pp_tokens_per_s", pps.median},
                        {"tg_tokens_per_s", tgs.median},
                        {"pp", summary_json(pps)},
                        {"tg", summary_json(tgs)},
                        {"pp_runs", pp},
                        {"tg_runs", tg}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model: %s (%s, %.1f MiB of weights), %u threads, %u repetitions, %s%s\n", o.model.c_str(),
                type.c_str(), static_cast<double>(bytes) / (1024.0 * 1024.0), threads, o.reps, matmul_target_name(),
                amx_enabled() ? " + AMX" : "");
    std::printf("| test  | tokens/s (median) | min      | max      | stddev   |\n");
    std::printf("|-------|------------------:|---------:|---------:|---------:|\n");
    if (o.n_prompt)
      std::printf("| pp%-3u | %17.2f | %8.2f | %8.2f | %8.2f |\n", o.n_prompt, pps.median, pps.min, pps.max, pps.stddev);
    if (o.n_gen)
      std::printf("| tg%-3u | %17.2f | %8.2f | %8.2f | %8.2f |\n", o.n_gen, tgs.median, tgs.min, tgs.max, tgs.stddev);
  }
  if (std::fflush(stdout) != 0) throw Error("<stdout>", "cannot write the output");
  return 0;
}

}  // namespace

Action& register_bench(CLI::App& app) {
  static Action action;
  static BenchOptions o;
  auto* sub = app.add_subcommand("bench", "Prompt-processing and generation speed (tokens/s, median of repetitions)");
  sub->add_option("-m,--model", o.model, "GGUF model file")->required();
  sub->add_option("-p,--n-prompt", o.n_prompt, "Prompt tokens, evaluated as one batch (default 512)");
  sub->add_option("-n,--n-gen", o.n_gen, "Generated tokens, one evaluation each (default 128)");
  auto* t = sub->add_option("-t,--threads", o.n_threads, "Threads (default: one per core)");
  sub->add_option("-r,--repetitions", o.reps, "Timed repetitions after one warm-up (default 5)");
  sub->add_option("--warmup", o.warmup, "Untimed repetitions first (default 1)");
  sub->add_flag("--json", o.json, "Print one JSON object");
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [t, sub] {
    o.loras = lora_requests(lora_flags, sub);
    return run_bench(o, t->count() > 0);
  };
  return action;
}

}  // namespace lmforge::cli
