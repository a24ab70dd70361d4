// `lmforge logits -m MODEL.gguf --ids 1,2,3 [--all]`: a developer command that prints the raw
// next-token logits the forward pass computes for a sequence of token ids, as JSON
// {"logits": [[...], ...]} (one row, the last position's, or with --all one per position).
// The oracle checks compare these with a float64 PyTorch forward pass (both engines) and with
// llama.cpp (the fast engine).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "core/error.h"
#include "engine/llama_forward.h"
#include "engine/llama_model.h"
#include "engine/model_loader.h"

namespace lmforge::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i <= text.size()) {
    const size_t comma = std::min(text.find(',', i), text.size());
    const std::string item = text.substr(i, comma - i);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < 0 || v > INT32_MAX)
      throw UsageError("logits: --ids takes comma-separated token ids, got '" + item + "'");
    ids.push_back(static_cast<int32_t>(v));
    i = comma + 1;
  }
  return ids;
}

int run_logits(const std::string& model_path, const std::string& ids_text, bool all, bool reference, int threads,
               const std::vector<LoraRequest>& loras) {
  if (threads < 0) throw UsageError("logits: -t must be 0 (all cores) or more");
  const std::vector<int32_t> ids = parse_ids(ids_text);
  // GGUF or any folder `run` reads (a GPTQ folder's linears go straight to their kernels).
  const LoadedModel loaded = load_model_for_inference(model_path);
  const auto& model = loaded.model;
  LlamaContext ctx(*model, LlamaContextOptions{.n_ctx = static_cast<uint32_t>(ids.size()),
                                               .n_threads = static_cast<uint32_t>(threads),
                                               .reference = reference,
                                               .loras = load_loras(loras, *model, /*quiet=*/true)});
  const std::vector<float> logits = ctx.eval(ids, all);
  const size_t n_vocab = model->n_vocab();

  std::string out = "{\"logits\": [";
  char num[32];
  for (size_t r = 0; r * n_vocab < logits.size(); ++r) {
    out += r ? ",\n[" : "[";
    for (size_t i = 0; i < n_vocab; ++i) {
      const float v = logits[r * n_vocab + i];
      // %.9g round-trips a float exactly; JSON has no NaN or infinity.
      if (std::isfinite(v)) std::snprintf(num, sizeof num, "%s%.9g", i ? "," : "", static_cast<double>(v));
      else std::snprintf(num, sizeof num, "%snull", i ? "," : "");
      out += num;
    }
    out += "]";
  }
  out += "]}\n";
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) throw Error("<stdout>", "cannot write the output");
  return 0;
}

}  // namespace

Action& register_logits(CLI::App& app) {
  static Action action;
  static std::string model, ids;
  static bool all = false, reference = false;
  static int threads = 0;
  auto* sub = app.add_subcommand("logits", "Developer: raw logits of the forward pass for given token ids, as JSON");
  sub->group("");  // hidden from the main help: a testing aid, not a user command
  sub->add_option("-m,--model", model, "GGUF model file")->required();
  sub->add_option("--ids", ids, "Comma-separated token ids")->required();
  sub->add_flag("--all", all, "Print the logits of every position, not only the last");
  sub->add_flag("--reference", reference, "Use the scalar reference engine instead of the fast one");
  sub->add_option("-t,--threads", threads, "Threads (default: all cores)");
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [sub] { return run_logits(model, ids, all, reference, threads, lora_requests(lora_flags, sub)); };
  return action;
}

}  // namespace lmforge::cli
