// One slot of the continuous-batching scheduler (batch_scheduler.h) and the request it runs:
// the per-request state machine idle -> prompt -> generating -> idle, with the request's own
// Sampler, TextStreamer and StopStringFilter, following GenerationSession's rules for each
// drawn token (session.h): EOS or a stop token ends the text, ignore_eos makes EOS impossible,
// penalties see the prompt and every kept token, stop strings never reach the output,
// n_predict and the end of the slot's context stop generation.
//
// The slot knows nothing of batches or threads: the step builder asks it which tokens to
// evaluate, the scheduler hands it the logits row of its last evaluated token, and the slot
// calls the request's callbacks. Only the scheduler thread touches a slot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "generate/batch_scheduler.h"
#include "generate/stop_strings.h"
#include "generate/text_streamer.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace lmforge {

// A request accepted by the scheduler, waiting for a slot or running in one.
struct QueuedRequest {
  uint64_t id = 0;
  ScheduledRequest request;
  RequestCallbacks callbacks;
};

class SchedulerSlot {
 public:
  enum class State { kIdle, kPrompt, kGenerating };

  SchedulerSlot(uint32_t index, uint32_t n_ctx, const Tokenizer& tok);

  uint32_t index() const { return index_; }     // also the slot's KV sequence id
  State state() const { return state_; }
  bool idle() const { return state_ == State::kIdle; }
  uint64_t request_id() const { return run_ ? run_->id : 0; }
  size_t n_past() const { return n_past_; }     // positions of this slot filled in the cache
  size_t n_prompt() const { return run_ ? run_->request.prompt.size() : 0; }
  size_t n_generated() const { return generated_; }
  uint64_t drawn_total() const { return drawn_total_; }  // tokens drawn by this slot, all requests

  // Takes a request (the slot must be idle): its prompt is fed from the next step on.
  void start(QueuedRequest request);

  // Prompt tokens not yet evaluated (state kPrompt), in order, starting at position n_past().
  std::span<const int32_t> prompt_left() const;
  // The drawn token waiting to be evaluated at position n_past() (state kGenerating).
  int32_t pending_token() const { return pending_; }

  // The step evaluated `n` prompt tokens of this slot (from prompt_left()). When they were the
  // last ones, `logits` is the row of the last one and the first token is drawn from it.
  void prompt_evaluated(size_t n, std::span<const float> logits);
  // The step evaluated pending_token(); draws the next one from its logits row.
  void token_evaluated(std::span<const float> logits);

  // Ends the request now (cancel, shutdown, engine error, or its own end): on_done with
  // `stop` and `error`, then the slot is idle. The caller frees the slot's KV cells
  // (KvCache::remove(index())) whenever a slot turns idle.
  void finish(StopReason stop, std::string error = {});

 private:
  void draw(std::span<const float> logits);
  int32_t sample(std::span<const float> logits);
  bool ends_text(int32_t id) const;
  bool want_more() const;
  // Calls on_token; a callback that throws cancels the request (returns false).
  bool emit(const ScheduledToken& token);

  const uint32_t index_;
  const uint32_t n_ctx_;
  const Tokenizer& tok_;

  State state_ = State::kIdle;
  std::optional<QueuedRequest> run_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<TextStreamer> streamer_;
  std::unique_ptr<StopStringFilter> stops_;
  size_t n_past_ = 0;
  size_t generated_ = 0;
  int32_t pending_ = -1;
  uint64_t drawn_total_ = 0;
  std::vector<float> scratch_;            // the logits with EOS masked, for ignore_eos
  std::vector<TokenLogprob> top_;         // the current token's alternatives
};

}  // namespace lmforge
