#include "generate/session.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "core/error.h"
#include "generate/stop_strings.h"
#include "generate/text_streamer.h"

namespace lmforge {

GenerationSession::GenerationSession(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer, const SessionOptions& options)
    : model_(model),
      tok_(std::move(tokenizer)),
      ctx_(std::make_unique<LlamaContext>(
          model, LlamaContextOptions{.n_ctx = options.n_ctx, .n_threads = options.n_threads, .loras = options.loras})),
      sampler_(std::make_unique<Sampler>(options.sampling)) {}

uint32_t GenerationSession::n_ctx() const { return ctx_->n_ctx(); }
uint32_t GenerationSession::pos() const { return ctx_->pos(); }

void GenerationSession::reset() {
  ctx_->reset();
  sampler_->reset();
}

std::vector<int32_t> GenerationSession::tokenize_prompt(std::string_view text) const {
  std::vector<int32_t> ids = tok_->encode(text, tok_->add_bos(), false);
  if (ids.empty()) throw UsageError("the prompt is empty and the model adds no BOS token");
  return ids;
}

size_t GenerationSession::truncate_prompt(std::vector<int32_t>& tokens) const {
  if (prompt_fits(tokens.size())) return 0;
  const bool bos = tok_->add_bos() && !tokens.empty() && tokens.front() == tok_->bos_id();
  const size_t keep = n_ctx() - 1 - (bos ? 1 : 0);
  const size_t dropped = tokens.size() - (bos ? 1 : 0) - keep;
  std::vector<int32_t> kept;
  if (bos) kept.push_back(tokens.front());
  kept.insert(kept.end(), tokens.end() - static_cast<ptrdiff_t>(keep), tokens.end());
  tokens = std::move(kept);
  return dropped;
}

GenerationResult GenerationSession::complete(std::span<const int32_t> prompt, const GenerationParams& params,
                                              const GenerationCallbacks& callbacks) {
  if (prompt.empty()) throw UsageError("the prompt has no tokens");
  if (!prompt_fits(prompt.size()))
    throw UsageError("the prompt has " + std::to_string(prompt.size()) + " tokens but the context holds " + std::to_string(n_ctx()) +
                     " (at most " + std::to_string(n_ctx() - 1) + " for the prompt)");
  reset();
  const std::string text = callbacks.on_prompt ? tok_->decode(prompt) : std::string();
  return feed_and_generate(prompt, text, params, callbacks, false);
}

GenerationResult GenerationSession::extend(std::span<const int32_t> tokens, std::string_view text, const GenerationParams& params,
                                           const GenerationCallbacks& callbacks) {
  if (tokens.empty()) throw UsageError("nothing to feed the model");
  if (uint64_t{pos()} + tokens.size() >= n_ctx()) {
    GenerationResult r;
    r.stop = StopReason::kPromptTooLong;
    return r;
  }
  return feed_and_generate(tokens, text, params, callbacks, true);
}

int32_t GenerationSession::sample(std::vector<float>& logits, bool ignore_eos) {
  if (!ignore_eos) return sampler_->sample(logits);
  // As llama.cpp's --ignore-eos logit bias does: every end-of-generation id gets -inf for
  // this draw only, and the caller still sees the logits the model gave.
  std::vector<std::pair<size_t, float>> saved;
  for (int32_t id : tok_->eog_ids()) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    saved.emplace_back(static_cast<size_t>(id), logits[static_cast<size_t>(id)]);
    logits[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
  }
  const int32_t next = sampler_->sample(logits);
  for (const auto& [i, value] : saved) logits[i] = value;
  return next;
}

GenerationResult GenerationSession::feed_and_generate(std::span<const int32_t> tokens, std::string_view text,
                                                      const GenerationParams& params, const GenerationCallbacks& callbacks,
                                                      bool cache_reply) {
  GenerationResult r;
  if (callbacks.on_prompt) callbacks.on_prompt(text, tokens);
  for (int32_t t : tokens) sampler_->accept(t);
  const auto t_prompt = GenerationClock::now();
  std::vector<float> logits = ctx_->eval(tokens);
  timings_.prompt_ms += ms_since(t_prompt);
  timings_.prompt_tokens += tokens.size();
  r.prompt_tokens = tokens.size();

  const auto ends_text = [&](int32_t id) {
    return tok_->is_eog(id) || std::find(params.stop_tokens.begin(), params.stop_tokens.end(), id) != params.stop_tokens.end();
  };
  StopStringFilter stops(params.stop_strings);
  // Decoding is only needed when someone reads the text.
  const bool stream = callbacks.on_text || stops.active();
  TextStreamer streamer(*tok_, tokens.back());
  const auto release = [&](const std::string& piece) {
    if (piece.empty()) return;
    r.text += piece;
    if (callbacks.on_text) callbacks.on_text(piece);
  };
  const auto eval_one = [&](int32_t id) {
    const auto t_eval = GenerationClock::now();
    logits = ctx_->eval(std::span<const int32_t>(&id, 1));
    timings_.eval_ms += ms_since(t_eval);
    ++timings_.evals;
  };
  const auto want_more = [&] { return params.n_predict < 0 || r.tokens.size() < static_cast<uint64_t>(params.n_predict); };

  std::optional<int32_t> unevaluated;  // the last generated token, evaluated when another is drawn
  while (true) {
    if (!want_more()) {
      r.stop = StopReason::kLimit;
      break;
    }
    if (unevaluated && ctx_->pos() >= ctx_->n_ctx()) {
      r.stop = StopReason::kContextFull;
      break;
    }
    if (callbacks.cancelled && callbacks.cancelled()) {
      r.stop = StopReason::kCancelled;
      break;
    }
    if (unevaluated) eval_one(*std::exchange(unevaluated, std::nullopt));

    const auto t_sample = GenerationClock::now();
    const int32_t next = sample(logits, params.ignore_eos);
    timings_.sample_ms += ms_since(t_sample);
    ++timings_.sampled;
    if (ends_text(next)) {
      if (callbacks.on_token) {
        const std::string piece = tok_->token_text(next);
        callbacks.on_token(TokenEvent{next, piece, {}, logits, true});
      }
      r.stop = StopReason::kEndOfText;
      break;
    }
    // A chat reply must stay in the cache whole: a token that cannot be evaluated is not shown.
    if (cache_reply && ctx_->pos() >= ctx_->n_ctx()) {
      r.stop = StopReason::kContextFull;
      break;
    }
    sampler_->accept(next);
    r.tokens.push_back(next);
    unevaluated = next;
    StopStringFilter::Step step;
    if (stream) step = stops.push(streamer.push(next));
    if (callbacks.on_token) {
      const std::string piece = tok_->token_text(next);
      callbacks.on_token(TokenEvent{next, piece, step.release, logits, false});
    }
    release(step.release);
    if (step.stopped) {
      r.stop = StopReason::kStopString;
      break;
    }
  }
  if (r.stop != StopReason::kStopString) release(stops.flush());
  if (cache_reply && unevaluated) eval_one(*unevaluated);
  return r;
}

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kLimit: return "limit";
    case StopReason::kEndOfText: return "end_of_text";
    case StopReason::kStopString: return "stop_string";
    case StopReason::kContextFull: return "context_full";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kPromptTooLong: return "prompt_too_long";
  }
  return "unknown";
}

}  // namespace lmforge
