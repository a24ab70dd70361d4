// The LoRA flags of run, perplexity, bench and serve, spelled as llama.cpp spells them:
//   --lora FILE              an adapter at scale 1 (repeatable: adapters add up)
//   --lora-scale S           the scale of the --lora just before it
//   --lora-scaled FILE S     an adapter and its scale in one flag
// FILE is a GGUF adapter or a PEFT folder (engine/lora_adapter.h).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "engine/lora_adapter.h"

namespace lmforge::cli {

struct LoraFlags {
  std::vector<std::string> paths, scales, scaled;
  CLI::Option* lora = nullptr;
  CLI::Option* scale = nullptr;
  CLI::Option* lora_scaled = nullptr;
};

// Adds the three flags to `sub`, writing into `f` (which must outlive the parse).
void add_lora_flags(CLI::App* sub, LoraFlags& f);

// One requested adapter: its file and scale, in command-line order.
struct LoraRequest {
  std::string path;
  float scale = 1.0f;
};

// The adapters the command line asked for (after the parse of `sub`), in order; throws
// UsageError on a --lora-scale without a --lora before it, or one that is not a number.
std::vector<LoraRequest> lora_requests(const LoraFlags& f, const CLI::App* sub);

// Reads each requested adapter against `model`'s config and prints one line per adapter to
// stderr (unless quiet).
std::vector<AppliedLora> load_loras(const std::vector<LoraRequest>& requests, const LlamaModel& model, bool quiet = false);

}  // namespace lmforge::cli
