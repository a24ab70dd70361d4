// `lmforge imatrix -m MODEL -f TEXT [-o FILE] [-c 512] [--chunks N] [-t N] [--output-format
//  gguf|dat] [--process-output] [--json] [-q] [--force]`
//
// The importance matrix of a model over a calibration text, by llama-imatrix's method
// (generate/importance_matrix.h), written in llama.cpp's GGUF imatrix format (default) or the
// legacy .dat (formats/imatrix); `quantize --imatrix` and llama-quantize --imatrix read both.
// On a terminal each chunk prints the running perplexity; --json prints one object on stdout.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "engine/llama_model.h"
#include "formats/imatrix/imatrix_file.h"
#include "generate/importance_matrix.h"
#include "generate/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace lmforge::cli {

namespace {

struct ImatrixCliOptions {
  std::string model, text, out = "imatrix.gguf", format = "gguf";
  uint32_t n_ctx = 512;
  int64_t chunks = -1;
  uint32_t threads = 0;
  bool process_output = false, json = false, quiet = false, force = false;
};

constexpr uint32_t kMaxContext = 1u << 20;

std::string read_utf8_text(const std::string& path) {
  const auto file = MappedFile::open(path);
  const auto b = file->bytes();
  std::string text(reinterpret_cast<const char*>(b.data()), b.size());
  if (const auto bad = find_invalid_utf8(text)) fail(path, "the text is not valid UTF-8", *bad);
  return text;
}

int run_imatrix(const ImatrixCliOptions& o) {
  if (o.format != "gguf" && o.format != "dat") throw UsageError("imatrix: --output-format must be gguf or dat, got " + o.format);
  if (o.n_ctx > kMaxContext) throw UsageError("imatrix: -c must be at most " + std::to_string(kMaxContext));
  if (o.chunks == 0 || o.chunks < -1) throw UsageError("imatrix: --chunks must be at least 1");
  if (o.threads > 1024) throw UsageError("imatrix: -t must be at most 1024");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string text = read_utf8_text(o.text);
  const auto model = LlamaModel::open(o.model);
  const std::unique_ptr<Tokenizer> tok_owner = load_tokenizer(o.model);
  const Tokenizer& tok = *tok_owner;
  const PerplexityInput input = perplexity_input(tok, text);
  const size_t n_chunks = imatrix_chunks(input.tokens.size(), o.n_ctx, o.chunks);  // refuses a short text first
  const bool show = !o.json && !o.quiet;
  if (show && o.n_ctx > model->config().max_position_embeddings)
    std::fprintf(stderr, "lmforge: warning: -c %u is beyond the model's training context (%u)\n", o.n_ctx,
                 model->config().max_position_embeddings);
  if (show)
    std::fprintf(stderr, "lmforge imatrix: %zu tokens, %zu chunks of %u, recording %s\n", input.tokens.size(), n_chunks, o.n_ctx,
                 o.process_output ? "blk.* and output.weight" : "blk.* weights");

  ImatrixOptions io;
  io.n_ctx = o.n_ctx;
  io.max_chunks = o.chunks;
  io.n_threads = o.threads;
  io.process_output = o.process_output;
  io.dataset = o.text;
  const ImatrixResult r = compute_importance_matrix(*model, input.tokens, input.bos_id, io, [&](const ImatrixChunk& c) {
    if (!show) return;
    const double eta = c.seconds / static_cast<double>(c.index + 1) * static_cast<double>(c.n_chunks - c.index - 1);
    std::fprintf(stderr, "[%zu/%zu] ppl %.4f  (%.1f s, about %.0f s left)\n", c.index + 1, c.n_chunks, c.running_ppl, c.seconds, eta);
  });
  if (o.format == "dat")
    write_imatrix_dat(r.data, o.out, o.force);
  else
    write_imatrix_gguf(r.data, o.out, o.force);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.json) {
    const nlohmann::json j = {{"output", o.out},   {"format", o.format},    {"entries", r.data.entries.size()},
                              {"chunks", r.n_chunks}, {"chunk_size", o.n_ctx}, {"tokens", r.n_tokens},
                              {"ppl", r.ppl},       {"ppl_error", r.ppl_error}, {"seconds", seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else if (!o.quiet) {
    std::fprintf(stderr, "Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    std::fprintf(stderr, "wrote %s (%s): %zu entries, %zu chunks of %u tokens, in %.2f s\n", o.out.c_str(), o.format.c_str(),
                 r.data.entries.size(), r.n_chunks, o.n_ctx, seconds);
  }
  return 0;
}

}  // namespace

Action& register_imatrix(CLI::App& app) {
  static Action action;
  static ImatrixCliOptions o;
  auto* sub = app.add_subcommand("imatrix", "Importance matrix of a model over a calibration text (llama-imatrix's method and file formats)");
  sub->add_option("-m,--model", o.model, "GGUF model file")->required();
  sub->add_option("-f,--file", o.text, "Calibration text (UTF-8)")->required();
  sub->add_option("-o,--output", o.out, "Output file (default imatrix.gguf)");
  sub->add_option("-c,--ctx-size", o.n_ctx, "Tokens per chunk (default 512, at least 16)");
  sub->add_option("--chunks", o.chunks, "Use at most N chunks (default: all)");
  sub->add_option("-t,--threads", o.threads, "Threads (default: one per core)");
  sub->add_option("--output-format", o.format, "gguf (default, llama.cpp's current format) or dat (the legacy format)");
  sub->add_flag("--process-output", o.process_output, "Also record output.weight (as llama-imatrix --process-output)");
  sub->add_flag("--json", o.json, "Print a JSON summary on stdout (implies --quiet)");
  sub->add_flag("-q,--quiet", o.quiet, "No progress output");
  sub->add_flag("--force", o.force, "Overwrite an existing output");
  action = [] { return run_imatrix(o); };
  return action;
}

}  // namespace lmforge::cli
