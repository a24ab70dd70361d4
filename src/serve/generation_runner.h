// One generation request from the handler's side: the prompt checked against a slot's
// context (400 context_length_exceeded), the request submitted to the scheduler (503 with
// Retry-After when its queue is full), then its tokens taken as they come, the generation
// cancelled the moment the client is found gone, and its numbers (tokens, time to first token,
// speed) recorded in the metrics and the request's log line when it ends.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "generate/batch_scheduler.h"
#include "serve/generation_channel.h"
#include "serve/requests.h"
#include "serve/responses.h"
#include "serve/serve_state.h"

namespace lmforge::serve {

// The scheduler request for `r` with these prompt tokens: OpenAI's sampling fields mapped to
// the sampler, max_tokens to n_predict (absent: until the context ends), stop strings.
ScheduledRequest scheduled_request(const GenerationRequest& r, std::vector<int32_t> prompt);

class ActiveGeneration {
 public:
  // Throws ApiException: 400 when the prompt and max_tokens do not fit a slot, 503 when the
  // queue is full or the server is shutting down.
  static std::shared_ptr<ActiveGeneration> submit(ServeState& s, ScheduledRequest request);
  ~ActiveGeneration();

  // What arrived, waiting up to 100 ms; cancels the request when the client has gone away.
  GenerationChannel::Taken next();
  void cancel();
  // Cancels and waits (bounded) for the scheduler to confirm, so that the slot is free and the
  // request's numbers are recorded when this returns. For a client that went away.
  void abandon();
  bool client_gone() const { return gone_; }
  size_t prompt_tokens() const { return prompt_tokens_; }

  struct Collected {
    std::string text;
    std::vector<ReceivedToken> tokens;  // the end-of-text token excluded
    ScheduledResult result;
  };
  // Waits for the whole generation; nullopt when the client went away first (then cancelled).
  std::optional<Collected> collect();

 private:
  ActiveGeneration(ServeState& s, std::shared_ptr<GenerationChannel> ch, uint64_t id, size_t prompt_tokens);
  void record(const ScheduledResult& r);

  ServeState& s_;
  std::shared_ptr<GenerationChannel> channel_;
  uint64_t id_;
  size_t prompt_tokens_;
  std::chrono::steady_clock::time_point arrived_;
  bool gone_ = false, done_ = false;
};

// Log-probability entries of received tokens, with texts from the tokenizer.
std::vector<TokenLogprobEntry> logprob_entries(const Tokenizer& tok, const std::vector<ReceivedToken>& tokens);
TokenLogprobEntry logprob_entry(const Tokenizer& tok, const ReceivedToken& t);

// An error in mid-stream, as the one event sent before the stream closes.
std::string stream_error_event(const std::string& message);

}  // namespace lmforge::serve
