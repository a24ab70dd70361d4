// `lmforge lora-convert -m BASE IN OUT [--to gguf|peft]`: a LoRA adapter from one file layout to
// the other (llama.cpp's GGUF adapter <-> a PEFT folder), checked against the base model it was
// made for (only its hyperparameters are read: the rotary head size for the Q/K row order, and
// the shapes every pair must have). OUT's kind comes from --to, else from its name (*.gguf is a
// GGUF adapter, anything else a PEFT folder). Outputs are written atomically, F32,
// byte-deterministic.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "convert/sources/open_llama_model_source.h"
#include "core/error.h"
#include "engine/lora_io.h"

namespace lmforge::cli {

namespace {

int run_lora_convert(const std::string& base, const std::string& in, const std::string& out, std::string to, float alpha,
                     bool alpha_given) {
  if (to.empty()) to = out.size() > 5 && out.ends_with(".gguf") ? "gguf" : "peft";
  if (to != "gguf" && to != "peft") throw UsageError("lora-convert: --to must be gguf or peft (got '" + to + "')");
  if (alpha_given && !(alpha > 0)) throw UsageError("lora-convert: --alpha must be positive");
  const LlamaModelSource model = open_llama_model_source(base);
  LoraAdapter adapter = read_lora_adapter(in, model.config);
  if (alpha_given) adapter.alpha = alpha;
  if (to == "gguf") {
    write_lora_adapter_gguf(adapter, model.config, out);
  } else {
    write_lora_adapter_peft(adapter, model.config, out);
  }
  size_t pairs = 0;
  for (const auto& layer : adapter.layers)
    for (const auto& p : layer) pairs += p.has_value();
  std::fprintf(stderr, "lmforge: wrote %s (%s): %zu weights, rank %u, alpha %g\n", out.c_str(),
               to == "gguf" ? "GGUF adapter" : "PEFT folder", pairs, adapter.rank, adapter.alpha);
  return 0;
}

}  // namespace

Action& register_lora_convert(CLI::App& app) {
  static Action action;
  static std::string base, in, out, to;
  static float alpha = 0;
  auto* sub = app.add_subcommand("lora-convert", "Convert a LoRA adapter between GGUF (llama.cpp) and a PEFT folder");
  sub->add_option("-m,--model", base, "The base model the adapter was made for (any llama model lmforge reads)")->required();
  sub->add_option("input", in, "Adapter: GGUF file or PEFT folder")->required();
  sub->add_option("output", out, "Output: *.gguf, or a folder for PEFT")->required();
  sub->add_option("--to", to, "gguf or peft (default: from the output's name)");
  auto* a = sub->add_option("--alpha", alpha, "Write this alpha instead of the input's");
  action = [a] { return run_lora_convert(base, in, out, to, alpha, a->count() > 0); };
  return action;
}

}  // namespace lmforge::cli
