// `lmforge perplexity -m MODEL -f TEXT [-c 512] [-t T] [-b BATCH] [--json]
//                    [--kl-divergence-base FILE [--force]]`
// `lmforge perplexity -m MODEL --kl-divergence-base FILE --kl-divergence [-t T] [-b BATCH] [--json]`
//
// Perplexity of a text file by llama.cpp's method (src/generate/perplexity.h): the running value
// after each chunk as `[1]12.3456,[2]...` on stdout, then `Final estimate: PPL = X +/- E`.
// With --json, stdout holds one object instead and nothing else. With --kl-divergence-base the
// scored positions' log-probabilities are also written to FILE in llama-perplexity's format;
// adding --kl-divergence reads FILE instead and compares the model with it (perplexity_kld.h).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/perplexity_kld.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "generate/kld_base_file.h"
#include "generate/perplexity.h"
#include "engine/llama_forward.h"
#include "engine/llama_model.h"
#include "engine/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace lmforge::cli {

namespace {

struct PerplexityOptions {
  std::string model, file;
  uint32_t n_ctx = 512;
  uint32_t n_threads = 0;  // 0: not given, one per core
  uint32_t n_batch = 0;    // 0: not given, the whole chunk
  bool json = false;
  std::string kld_base;        // --kl-divergence-base FILE
  bool kl_divergence = false;  // read kld_base instead of writing it
  bool force = false;          // overwrite an existing kld_base
};

// Larger contexts than this are refused before anything is allocated for them.
constexpr uint32_t kMaxContext = 1u << 20;
constexpr uint32_t kMaxThreads = 1024;

std::string read_text(const std::string& path) {
  const auto file = MappedFile::open(path);
  const auto b = file->bytes();
  std::string text(reinterpret_cast<const char*>(b.data()), b.size());
  if (const auto bad = find_invalid_utf8(text)) fail(path, "the text is not valid UTF-8", *bad);
  return text;
}

int run_perplexity(const PerplexityOptions& o, bool threads_given, bool batch_given, bool ctx_given) {
  if (o.n_ctx < 8 || o.n_ctx > kMaxContext)
    throw UsageError("perplexity: -c must be between 8 and " + std::to_string(kMaxContext) + ", got " +
                     std::to_string(o.n_ctx));
  if (threads_given && (o.n_threads < 1 || o.n_threads > kMaxThreads))
    throw UsageError("perplexity: -t must be between 1 and " + std::to_string(kMaxThreads));
  if (batch_given && o.n_batch < 1) throw UsageError("perplexity: -b must be at least 1");

  if (o.kl_divergence) {
    if (o.kld_base.empty()) throw UsageError("perplexity: --kl-divergence needs --kl-divergence-base FILE");
    if (!o.file.empty())
      std::fprintf(stderr, "lmforge: warning: -f %s is not read: the tokens come from %s\n", o.file.c_str(),
                   o.kld_base.c_str());
    if (ctx_given)
      std::fprintf(stderr, "lmforge: warning: -c is not used: the chunk size is the one %s was made with\n",
                   o.kld_base.c_str());
    return run_kl_divergence({o.model, o.kld_base, o.n_threads, o.n_batch, o.json});
  }
  if (o.file.empty()) throw UsageError("perplexity: -f TEXT is required (except with --kl-divergence)");
  // An existing base file is refused before the model is run (it may be the only copy of a base
  // model's run, and a quantized model's run over it would replace it).
  if (!o.kld_base.empty()) check_output_path(o.kld_base, o.force);

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const std::string text = read_text(o.file);
  // GGUF or any folder `run` reads (a GPTQ folder's linears go straight to their kernels).
  const LoadedModel loaded = load_model_for_inference(o.model);
  const auto& model = loaded.model;
  const std::unique_ptr<Tokenizer> tok_owner = load_tokenizer(o.model);
  const Tokenizer& tok = *tok_owner;
  const PerplexityInput input = perplexity_input(tok, text);
  const std::vector<int32_t>& tokens = input.tokens;
  // Refuse a short text (or an absurd -c) before the KV cache is allocated.
  const PerplexityPlan plan = plan_perplexity(tokens.size(), o.n_ctx);
  if (o.n_ctx > model->config().max_position_embeddings)
    std::fprintf(stderr, "lmforge: warning: -c %u is beyond the model's training context (%u)\n", o.n_ctx,
                 model->config().max_position_embeddings);
  LlamaContext ctx(*model, o.n_ctx, o.n_threads);
  if (!o.json)
    std::fprintf(stderr, "lmforge: %zu tokens, %zu chunks of %u, scoring %zu tokens per chunk, %u threads\n",
                 tokens.size(), plan.n_chunks, plan.n_ctx, plan.scored_per_chunk(), ctx.n_threads());

  const auto on_chunk = [&](size_t i, double running) {
    if (o.json) return;
    std::printf("[%zu]%.4f,", i + 1, running);
    std::fflush(stdout);
  };
  std::unique_ptr<KldBaseWriter> base_writer;
  ScoredRowSink on_row;
  if (!o.kld_base.empty()) {
    // The tokens of the chunks that are scored, as tokenized (llama.cpp's layout).
    const std::span<const int32_t> used(tokens.data(), plan.n_chunks * o.n_ctx);
    base_writer = std::make_unique<KldBaseWriter>(o.kld_base, o.force, o.n_ctx, model->n_vocab(),
                                                  static_cast<uint32_t>(plan.n_chunks), used);
    on_row = [&](std::span<const float> logits, int32_t) { base_writer->add_row(logits); };
  }
  const PerplexityResult r =
      compute_perplexity(ctx, tokens, input.bos_id, o.n_ctx, o.n_batch, on_chunk, on_row);
  if (base_writer) base_writer->commit();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  if (o.json) {
    nlohmann::json j = {{"ppl", r.ppl},
                        {"ppl_error", r.ppl_error},
                        {"mean_nll", r.mean_nll},
                        {"n_chunks", r.plan.n_chunks},
                        {"n_ctx", r.plan.n_ctx},
                        {"n_tokens", tokens.size()},
                        {"tokens_scored", r.tokens_scored},
                        {"chunk_ppl", r.running_ppl},
                        {"threads", ctx.n_threads()},
                        {"seconds", seconds}};
    if (!o.kld_base.empty()) j["kl_divergence_base"] = o.kld_base;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    std::fprintf(stderr, "lmforge: %zu tokens scored in %.2f s\n", r.tokens_scored, seconds);
    if (!o.kld_base.empty())
      std::fprintf(stderr, "lmforge: wrote the log-probabilities of %zu positions to %s\n", r.tokens_scored,
                   o.kld_base.c_str());
  }
  if (std::fflush(stdout) != 0) throw Error("<stdout>", "cannot write the output");
  return 0;
}

}  // namespace

Action& register_perplexity(CLI::App& app) {
  static Action action;
  static PerplexityOptions o;
  auto* sub = app.add_subcommand("perplexity", "Perplexity of a text file (llama.cpp's method)");
  sub->add_option("-m,--model", o.model, "GGUF model file")->required();
  sub->add_option("-f,--file", o.file, "UTF-8 text file (not with --kl-divergence: the tokens come from the base file)");
  auto* c = sub->add_option("-c,--ctx-size", o.n_ctx, "Tokens per chunk; the second half of each is scored (default 512)");
  auto* t = sub->add_option("-t,--threads", o.n_threads, "Threads (default: one per core)");
  auto* b = sub->add_option("-b,--batch-size", o.n_batch, "Tokens per evaluation (default: the whole chunk)");
  sub->add_flag("--json", o.json, "Print one JSON object instead of the running values");
  sub->add_option("--kl-divergence-base", o.kld_base,
                  "Also write the scored positions' log-probabilities to FILE (llama-perplexity's format); "
                  "with --kl-divergence, read them from FILE instead");
  sub->add_flag("--kl-divergence", o.kl_divergence,
                "Compare the model with the base model of --kl-divergence-base FILE over FILE's tokens: "
                "KL divergence, PPL ratio, delta p, same top token (as llama-perplexity)");
  sub->add_flag("--force", o.force, "Overwrite an existing --kl-divergence-base file");
  action = [t, b, c] { return run_perplexity(o, t->count() > 0, b->count() > 0, c->count() > 0); };
  return action;
}

}  // namespace lmforge::cli
