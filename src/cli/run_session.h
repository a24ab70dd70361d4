// What `lmforge run` and its interactive mode share: options, the loaded model with its
// generation session (src/generate/session.h), Ctrl-C handling and printing helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cli/lora_flags.h"
#include "engine/model_loader.h"
#include "generate/session.h"
#include "sampling/sampler.h"

namespace lmforge::cli {

struct RunOptions {
  std::string model, prompt, prompt_file;
  bool has_prompt = false, has_prompt_file = false;  // -p "" is an empty prompt (BOS only)
  int64_t n_predict = 128;  // -1: until EOS or the end of the context
  std::optional<int64_t> n_ctx;
  int64_t n_threads = 0;    // set to the core count when the flag is absent
  bool json = false;
  int64_t probs = 0;        // --probs K: top-K next-token probabilities per generated token
  bool truncate_prompt = false;
  bool no_display_prompt = false;
  bool verbose_prompt = false;
  bool interactive = false;
  bool ignore_eos = false;
  std::string chat_template, system;
  SamplingParams sampling;
  std::vector<LoraRequest> loras;  // --lora / --lora-scale / --lora-scaled
};

struct RunSession {
  LoadedModel loaded;
  GenerationSession generation;
};

// Loads the model and opens its session after checking -c against the model and memory.
RunSession open_session(const RunOptions& o);

// The limits of one continuation or chat reply, from the flags.
GenerationParams generation_params(const RunOptions& o);

// Ctrl-C: a first press sets the flag (the caller stops what it is doing); a second one while
// the flag is still set exits at once. Installed without SA_RESTART so that a blocking read
// of stdin returns.
void install_interrupt_handler();
bool interrupted();
void clear_interrupt();

// Writes generated text to stdout at once (a reader watches it appear).
void print_text(std::string_view text);

// `--verbose-prompt`: the text (JSON-quoted) and token ids fed to the model, on stderr.
void print_verbose_prompt(std::string_view text, std::span<const int32_t> ids);

// The timing summary, on stderr.
void print_timings(const Timings& t);

// The interactive chat loop (run_chat.cpp).
int run_chat(const RunOptions& o, RunSession& s);

}  // namespace lmforge::cli
