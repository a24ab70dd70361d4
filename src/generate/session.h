// One generation session: a loaded model's context (its KV cache), a tokenizer and a sampler,
// and the loop that turns a prompt into generated tokens. `lmforge run` (one continuation),
// `run -i` (chat turns, through ChatSession) and later `serve` and `ask` all generate through
// this type, so stopping rules, timings and streaming behave the same everywhere.
//
// Nothing here prints: new tokens and their text go to callbacks (the CLI writes them to
// stdout, a server sends them as events), and how generation ended is returned.
//
// The loop, per generated token: sample from the last logits (with `ignore_eos`, EOS is made
// impossible for that draw); stop on EOS or another stop token; otherwise record the token
// for the sampler's penalties, release its text, and evaluate it before the next draw. It
// stops at n_predict tokens, at the end of the context, on a stop string, or when the cancel
// callback says so. A token is evaluated only when another one is drawn after it (or, for
// chat turns, when the reply must stay in the cache).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/llama_forward.h"
#include "engine/llama_model.h"
#include "generate/timings.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace lmforge {

struct SessionOptions {
  uint32_t n_ctx = 0;      // positions of the KV cache; 0: the model's context length
  uint32_t n_threads = 0;  // 0: one per available core
  SamplingParams sampling;
};

// What one call generates, and when it stops.
struct GenerationParams {
  int64_t n_predict = 128;                // tokens at most; < 0: until the text or the context ends
  bool ignore_eos = false;                // never draw EOS
  std::vector<int32_t> stop_tokens;       // ids that end the text as EOS does (a chat's end marker)
  std::vector<std::string> stop_strings;  // text that ends generation, not shown itself
};

enum class StopReason {
  kLimit,         // n_predict tokens were generated
  kEndOfText,     // EOS or a stop token was drawn
  kStopString,    // a stop string appeared in the text
  kContextFull,   // the context has no position left for the next token
  kCancelled,     // the cancel callback asked to stop
  kPromptTooLong  // the tokens to feed do not fit the context (nothing was evaluated)
};

// One drawn token, as the callback sees it.
struct TokenEvent {
  int32_t id = -1;
  std::string_view piece;         // the token's own text (Tokenizer::token_text)
  std::string_view text;          // the text this token releases to the output (may be empty)
  std::span<const float> logits;  // the model's raw logits this token was drawn from
  bool end_of_text = false;       // EOS or a stop token: not part of the output, generation ends
};

struct GenerationCallbacks {
  // Every drawn token, the one that ends the text included.
  std::function<void(const TokenEvent&)> on_token;
  // Output text, whole UTF-8, stop strings removed; concatenated it is the generated text.
  std::function<void(std::string_view)> on_text;
  // What is about to be fed to the model: its text and token ids.
  std::function<void(std::string_view, std::span<const int32_t>)> on_prompt;
  // Asked before each token; true stops generation.
  std::function<bool()> cancelled;
};

struct GenerationResult {
  StopReason stop = StopReason::kLimit;
  std::vector<int32_t> tokens;  // generated, without the token that ended the text
  std::string text;             // the output text as released through on_text; decoding it costs a
                                // full decode per token, so it is only kept with on_text or stop strings
  size_t prompt_tokens = 0;     // tokens fed before generating
};

class GenerationSession {
 public:
  // `model` must outlive the session. Allocates the KV cache of n_ctx positions.
  GenerationSession(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer, const SessionOptions& options);
  GenerationSession(GenerationSession&&) noexcept = default;
  GenerationSession& operator=(GenerationSession&&) = delete;

  const Tokenizer& tokenizer() const { return *tok_; }
  const LlamaModel& model() const { return model_; }
  uint32_t n_ctx() const;
  uint32_t pos() const;  // positions filled in the KV cache
  Timings& timings() { return timings_; }
  const Timings& timings() const { return timings_; }

  // The prompt's tokens, with BOS when the vocabulary adds one. Throws UsageError when there
  // is nothing to feed (an empty prompt and no BOS).
  std::vector<int32_t> tokenize_prompt(std::string_view text) const;
  // A prompt fits when one position stays free for the first generated token.
  bool prompt_fits(size_t n_tokens) const { return n_tokens < n_ctx(); }
  // Makes a prompt fit by keeping BOS and its most recent tokens (the end of a prompt is what
  // the continuation follows); returns how many tokens were dropped.
  size_t truncate_prompt(std::vector<int32_t>& tokens) const;

  // A continuation of `prompt` from an empty cache (the sampler's history cleared too). The
  // last generated token is left unevaluated. Throws UsageError when the prompt does not fit.
  GenerationResult complete(std::span<const int32_t> prompt, const GenerationParams& params, const GenerationCallbacks& callbacks);

  // Feeds `tokens` after what the cache holds, then generates; every generated token is
  // evaluated, so the cache ends holding the whole exchange and the next call continues it
  // (chat turns). A token that would not fit is not generated (kContextFull); tokens that do
  // not fit with one position to spare are not fed (kPromptTooLong, nothing changes).
  GenerationResult extend(std::span<const int32_t> tokens, std::string_view text, const GenerationParams& params,
                          const GenerationCallbacks& callbacks);

  // Forgets the cache and the sampler's history.
  void reset();

 private:
  GenerationResult feed_and_generate(std::span<const int32_t> tokens, std::string_view text, const GenerationParams& params,
                                     const GenerationCallbacks& callbacks, bool cache_reply);
  int32_t sample(std::vector<float>& logits, bool ignore_eos);

  const LlamaModel& model_;
  std::shared_ptr<const Tokenizer> tok_;
  std::unique_ptr<LlamaContext> ctx_;
  std::unique_ptr<Sampler> sampler_;
  Timings timings_;
};

// "limit", "end_of_text", "stop_string", "context_full", "cancelled", "prompt_too_long".
std::string_view stop_reason_name(StopReason r);

}  // namespace lmforge
