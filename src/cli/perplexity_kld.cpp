#include "cli/perplexity_kld.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "engine/llama_forward.h"
#include "engine/llama_model.h"
#include "engine/model_loader.h"
#include "generate/kl_divergence.h"
#include "generate/kld_base_file.h"
#include "tokenizer/vocab.h"

namespace lmforge::cli {

namespace {

nlohmann::json to_json(const ValueWithError& v) { return {{"value", v.value}, {"error", v.error}}; }

// Percentiles as {"max": .., "99.9": .., ..., "median": .., "min": ..}.
nlohmann::json to_json(const std::vector<Percentile>& ps) {
  nlohmann::json j = nlohmann::json::object();
  for (const Percentile& p : ps) {
    std::string key;
    if (p.fraction >= 1) key = "max";
    else if (p.fraction <= 0) key = "min";
    else if (p.fraction == 0.5) key = "median";
    else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%g", 100 * p.fraction);
      key = buf;
    }
    j[key] = p.value;
  }
  return j;
}

// llama.cpp's labels: "Maximum", "99.9%  ", ..., "Median ", ..., " 0.1%  ", "Minimum".
std::string percentile_label(double fraction) {
  if (fraction >= 1) return "Maximum";
  if (fraction <= 0) return "Minimum";
  if (fraction == 0.5) return "Median ";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%4.1f%%  ", 100 * fraction);
  return buf;
}

void print_summary(const KldSummary& s) {
  std::printf("====== Perplexity statistics ======\n");
  std::printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", s.ppl.value, s.ppl.error);
  std::printf("Mean PPL(base)                : %10.6f ± %10.6f\n", s.ppl_base.value, s.ppl_base.error);
  std::printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * s.ln_ppl_correlation);
  std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", s.ln_ppl_ratio.value, s.ln_ppl_ratio.error);
  std::printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", s.ppl_ratio.value, s.ppl_ratio.error);
  std::printf("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", s.ppl_diff.value, s.ppl_diff.error);
  std::printf("\n====== KL divergence statistics ======\n");
  std::printf("Mean    KLD: %10.6f ± %10.6f\n", s.kld.value, s.kld.error);
  for (const Percentile& p : s.kld_percentiles)
    std::printf("%s KLD: %10.6f\n", percentile_label(p.fraction).c_str(), p.value);
  std::printf("\n====== Token probability statistics ======\n");
  std::printf("Mean    Δp: %6.3f ± %5.3f %%\n", 100 * s.p_diff.value, 100 * s.p_diff.error);
  for (const Percentile& p : s.p_diff_percentiles)
    std::printf("%s Δp: %6.3f%%\n", percentile_label(p.fraction).c_str(), 100 * p.value);
  std::printf("RMS Δp    : %6.3f ± %5.3f %%\n", 100 * s.p_diff_rms.value, 100 * s.p_diff_rms.error);
  std::printf("Same top p: %6.3f ± %5.3f %%\n", 100 * s.same_top.value, 100 * s.same_top.error);
}

}  // namespace

int run_kl_divergence(const KldRunOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const LoadedModel loaded = load_model_for_inference(o.model);
  const auto& model = loaded.model;
  // The file is checked against the model's vocabulary before anything is evaluated.
  const KldBaseFile base = KldBaseFile::open(o.base_file, model->n_vocab());
  const int32_t bos_id = loaded.tokenizer->add_bos() ? loaded.tokenizer->bos_id() : -1;
  if (base.n_ctx() > model->config().max_position_embeddings)
    std::fprintf(stderr, "lmforge: warning: the base file's context %u is beyond the model's training context (%u)\n",
                 base.n_ctx(), model->config().max_position_embeddings);
  LlamaContext ctx(*model, base.n_ctx(), o.n_threads);
  if (!o.json) {
    std::fprintf(stderr, "lmforge: %s: %u chunks of %u tokens, %u scored per chunk, %u threads\n",
                 o.base_file.c_str(), base.n_chunks(), base.n_ctx(), base.rows_per_chunk(), ctx.n_threads());
    std::printf("chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS"
                "            Same top p\n");
  }
  const auto on_chunk = [&](size_t i, const KldSummary& s) {
    if (o.json) return;
    std::printf("%4zu    %9.4f ± %9.4f    %10.5f ± %10.5f    %10.5f ± %10.5f    %6.3f ± %6.3f %%    %6.3f ± %6.3f %%\n",
                i + 1, s.ppl.value, s.ppl.error, s.ln_ppl_ratio.value, s.ln_ppl_ratio.error, s.kld.value,
                s.kld.error, 100 * s.p_diff_rms.value, 100 * s.p_diff_rms.error, 100 * s.same_top.value,
                100 * s.same_top.error);
    std::fflush(stdout);
  };
  const KldSummary s = compute_kl_divergence(ctx, base, bos_id, o.n_batch, on_chunk);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  if (o.json) {
    const nlohmann::json j = {{"ppl", to_json(s.ppl)},
                              {"ppl_base", to_json(s.ppl_base)},
                              {"ln_ppl_correlation", s.ln_ppl_correlation},
                              {"ln_ppl_ratio", to_json(s.ln_ppl_ratio)},
                              {"ppl_ratio", to_json(s.ppl_ratio)},
                              {"ppl_diff", to_json(s.ppl_diff)},
                              {"kld", to_json(s.kld)},
                              {"kld_percentiles", to_json(s.kld_percentiles)},
                              {"p_diff", to_json(s.p_diff)},
                              {"p_diff_percentiles", to_json(s.p_diff_percentiles)},
                              {"p_diff_rms", to_json(s.p_diff_rms)},
                              {"same_top", to_json(s.same_top)},
                              {"n_chunks", base.n_chunks()},
                              {"n_ctx", base.n_ctx()},
                              {"tokens_scored", s.count},
                              {"threads", ctx.n_threads()},
                              {"seconds", seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("\n");
    print_summary(s);
    std::fprintf(stderr, "lmforge: %zu positions compared in %.2f s\n", s.count, seconds);
  }
  if (std::fflush(stdout) != 0) throw Error("<stdout>", "cannot write the output");
  return 0;
}

}  // namespace lmforge::cli
