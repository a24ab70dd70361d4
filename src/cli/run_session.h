// What `lmforge run` and its interactive mode share: options, the loaded model with its
// tokenizer and context, Ctrl-C handling, streaming text output and the timing summary.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/llama_forward.h"
#include "engine/model_loader.h"
#include "sampling/sampler.h"
#include "tokenizer/spm_tokenizer.h"

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
};

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Timings {
  double load_ms = 0, prompt_ms = 0, sample_ms = 0, eval_ms = 0;
  size_t prompt_tokens = 0, sampled = 0, evals = 0;
  void print() const;  // llama.cpp-style summary on stderr
};

struct RunSession {
  LoadedModel loaded;
  std::unique_ptr<SpmTokenizer> tok;
  std::unique_ptr<LlamaContext> ctx;
  std::unique_ptr<Sampler> sampler;
  Timings timings;
};

// Loads the model and allocates the context after checking -c against the model and memory.
RunSession open_session(const RunOptions& o);

// The next token from the sampler chain; with --ignore-eos, EOS is made impossible for this
// draw (its logit -inf, as llama.cpp's logit bias does) while `logits` itself is left as it was.
int32_t sample_next(RunSession& s, const RunOptions& o, std::vector<float>& logits);

// Ctrl-C: a first press sets the flag (the caller stops what it is doing); a second one while
// the flag is still set exits at once. Installed without SA_RESTART so that a blocking read
// of stdin returns.
void install_interrupt_handler();
bool interrupted();
void clear_interrupt();

// Prints decoded text as tokens arrive, holding back an unfinished UTF-8 sequence. `context`
// is the token before the first streamed one, so that its leading space survives decoding.
class TextStreamer {
 public:
  TextStreamer(const SpmTokenizer& tok, int32_t context) : tok_(tok), ids_{context} {
    base_ = tok_.decode(ids_);
  }
  void push(int32_t id);

 private:
  const SpmTokenizer& tok_;
  std::vector<int32_t> ids_;
  std::string base_, printed_;
};

// `--verbose-prompt`: the text (JSON-quoted) and token ids fed to the model, on stderr.
void print_verbose_prompt(std::string_view text, std::span<const int32_t> ids);

// The interactive chat loop (run_chat.cpp).
int run_chat(const RunOptions& o, RunSession& s);

}  // namespace lmforge::cli
