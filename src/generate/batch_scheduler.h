// Continuous batching for a server: N slots share one model and one KV cache (one sequence
// id per slot), and a single scheduler thread runs the engine. At every step it evaluates one
// LlamaBatch holding the next token of every generating slot plus prompt chunks of slots that
// are still reading their prompt (within n_batch tokens in all, generating slots first), so
// the slots share each pass over the weights. Requests beyond the slots wait in a bounded
// queue; a cancelled request (a client that went away) frees its slot at the next step.
//
// Nothing here knows HTTP or JSON: the server (src/serve) turns requests into
// ScheduledRequest, and the callbacks' tokens into response bodies or server-sent events.
//
// Threading: submit(), cancel(), stats() and slots() may be called from any thread. The
// callbacks run on the scheduler thread, one request's in order; they must return quickly
// (hand the data to the connection's thread) and must not call back into the scheduler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/llama_model.h"
#include "generate/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace lmforge {

struct BatchSchedulerOptions {
  uint32_t n_slots = 4;       // requests generating at once (--parallel)
  uint32_t n_ctx = 0;         // positions of each slot (-c); 0: the model's context length
  uint32_t n_threads = 0;     // engine threads; 0: one per available core
  uint32_t n_batch = 512;     // tokens per engine step at most
  uint32_t max_queue = 64;    // requests waiting for a slot at most (--queue)
};

// One request, already tokenized and validated by the caller.
struct ScheduledRequest {
  std::vector<int32_t> prompt;   // fed as is (BOS included when the caller wants it); not empty
  GenerationParams generation;   // n_predict (< 0: until the slot's context ends), stop tokens
                                 // (EOS always stops unless ignore_eos), stop strings
  SamplingParams sampling;       // per request: temperature 0 is greedy; seed as given
  // Log-probabilities: with `logprobs`, each token reports its own log-probability (log-softmax
  // of the raw logits, before any sampler stage) and the `top_logprobs` most likely tokens.
  bool logprobs = false;
  uint32_t top_logprobs = 0;     // 0 .. 20
};

struct TokenLogprob {
  int32_t id = -1;
  float logprob = 0.0f;
};

// One drawn token, as the request's callback sees it.
struct ScheduledToken {
  int32_t id = -1;
  std::string_view text;                // the output text this token releases (may be empty;
                                        // stop strings and anything after them never appear)
  float logprob = 0.0f;                 // when the request asked for logprobs
  std::span<const TokenLogprob> top;    // its top_logprobs alternatives, most likely first
  bool end_of_text = false;             // EOS or a stop token: not part of the output
};

struct ScheduledResult {
  StopReason stop = StopReason::kLimit;  // kCancelled after cancel() or shutdown, and with `error`
  size_t prompt_tokens = 0;
  size_t completion_tokens = 0;          // generated, the token that ended the text excluded
  std::string error;                     // not empty when the engine failed for this request
};

struct RequestCallbacks {
  std::function<void(const ScheduledToken&)> on_token;  // every drawn token, in order
  std::function<void()> on_first_token;                 // once, when the prompt is evaluated
  std::function<void(const ScheduledResult&)> on_done;  // exactly once, last (also on cancel)
};

struct SchedulerStats {
  uint32_t slots_total = 0, slots_busy = 0;
  uint32_t queued = 0;
  uint64_t steps = 0;            // engine evaluations so far
  uint64_t prompt_tokens = 0;    // evaluated prompt tokens so far
  uint64_t generated_tokens = 0;  // drawn tokens (the one ending a text included)
  uint32_t kv_cells_total = 0;   // n_slots * n_ctx
  uint32_t kv_cells_free = 0;    // back to kv_cells_total once every slot is idle
};

struct SlotInfo {
  uint32_t id = 0;
  std::string state;  // "idle", "prompt", "generating"
  uint64_t request = 0;
  size_t n_past = 0;  // positions filled
  size_t n_prompt = 0, n_generated = 0;
};

class BatchScheduler {
 public:
  // `model` and `tok` must outlive the scheduler. Allocates the KV cache (n_slots * n_ctx
  // cells) and starts the scheduler thread.
  BatchScheduler(const LlamaModel& model, const Tokenizer& tok, const BatchSchedulerOptions& options);
  // Cancels everything (on_done with kCancelled) and joins the thread.
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  enum class Admission { kAccepted, kQueueFull, kTooLong, kShuttingDown };
  struct Submitted {
    Admission admission = Admission::kAccepted;
    uint64_t id = 0;  // valid when accepted
  };
  // Queues a request. kTooLong when prompt + max(n_predict, 0) does not fit one slot's context
  // (n_predict < 0 needs one free position), kQueueFull when max_queue requests already wait;
  // callbacks are then never called. Accepted requests always end with on_done.
  // Throws UsageError (and calls nothing) on an empty prompt, a token id outside the
  // vocabulary, or top_logprobs above 20: the caller should have refused those already.
  Submitted submit(ScheduledRequest request, RequestCallbacks callbacks);

  // Ends a request early (waiting or running): its slot is freed at the next step and on_done
  // reports kCancelled. Unknown or finished ids are ignored.
  void cancel(uint64_t id);

  // Stops taking requests; with `finish`, lets running and queued ones complete, else cancels
  // them. Returns when the scheduler thread has ended.
  void shutdown(bool finish);

  uint32_t n_ctx() const;  // positions per slot
  SchedulerStats stats() const;
  std::vector<SlotInfo> slots() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmforge
