#include "cli/lora_flags.h"

#include <cmath>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "engine/llama_model.h"

namespace lmforge::cli {

namespace {

float parse_scale(const std::string& text, const char* flag) {
  size_t used = 0;
  float v = 0;
  try {
    v = std::stof(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v))
    throw UsageError(std::string(flag) + ": \"" + text + "\" is not a number");
  return v;
}

}  // namespace

void add_lora_flags(CLI::App* sub, LoraFlags& f) {
  f.lora = sub->add_option("--lora", f.paths, "LoRA adapter (GGUF file or PEFT folder) applied at scale 1; repeatable")
               ->expected(1)
               ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  f.scale = sub->add_option("--lora-scale", f.scales, "Scale of the --lora just before it (default 1)")
                ->expected(1)
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  f.lora_scaled = sub->add_option("--lora-scaled", f.scaled, "LoRA adapter and its scale: --lora-scaled FILE S; repeatable")
                      ->expected(2)
                      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

std::vector<LoraRequest> lora_requests(const LoraFlags& f, const CLI::App* sub) {
  std::vector<LoraRequest> out;
  // parse_order() lists one entry per value taken, in command-line order, which is what pairs
  // each --lora-scale with the --lora before it.
  size_t next_path = 0, next_scale = 0, next_scaled = 0;
  bool scale_given = true;  // for the last adapter
  for (const CLI::Option* o : sub->parse_order()) {
    if (o == f.lora) {
      if (next_path >= f.paths.size()) break;
      out.push_back({f.paths[next_path++], 1.0f});
      scale_given = false;
    } else if (o == f.scale) {
      if (next_scale >= f.scales.size()) break;
      const std::string& text = f.scales[next_scale++];
      if (out.empty()) throw UsageError("--lora-scale " + text + " comes before any --lora");
      if (scale_given) throw UsageError("--lora-scale " + text + " follows another scale, not a --lora");
      out.back().scale = parse_scale(text, "--lora-scale");
      scale_given = true;
    } else if (o == f.lora_scaled) {
      if (next_scaled >= f.scaled.size()) break;
      const std::string& value = f.scaled[next_scaled++];
      if (next_scaled % 2 == 1) {
        out.push_back({value, 1.0f});
      } else {
        out.back().scale = parse_scale(value, "--lora-scaled");
      }
      scale_given = true;
    }
  }
  if (out.size() != f.paths.size() + f.scaled.size() / 2 || f.scaled.size() % 2 != 0)
    throw UsageError("--lora/--lora-scaled: could not read the adapters from the command line");
  return out;
}

std::vector<AppliedLora> load_loras(const std::vector<LoraRequest>& requests, const LlamaModel& model, bool quiet) {
  std::vector<AppliedLora> out;
  for (const LoraRequest& r : requests) {
    auto adapter = std::make_shared<LoraAdapter>(read_lora_adapter(r.path, model));
    if (adapter->name.empty()) adapter->name = r.path;
    size_t pairs = 0;
    for (const auto& layer : adapter->layers)
      for (const auto& p : layer) pairs += p.has_value();
    AppliedLora applied{std::move(adapter), r.scale};
    if (!quiet)
      std::fprintf(stderr, "lmforge: LoRA %s: %zu weights, rank %u, alpha %g, scale %g (lora-scale %g)\n",
                   r.path.c_str(), pairs, applied.adapter->rank, applied.adapter->alpha, applied.scale(), r.scale);
    out.push_back(std::move(applied));
  }
  return out;
}

}  // namespace lmforge::cli
