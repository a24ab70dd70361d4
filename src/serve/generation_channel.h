// The bridge between the scheduler thread and a connection's thread. The scheduler's callbacks
// (which must return at once) only copy each token into this per-request queue; the
// connection's thread takes what has arrived, a batch at a time, and turns it into a response
// body or server-sent events. Shared ownership: the scheduler may still call back after the
// connection has given up (on_done always comes last), so neither side may free it alone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "generate/batch_scheduler.h"

namespace lmforge::serve {

struct ReceivedToken {
  int32_t id = -1;
  std::string text;  // output text this token released (stop strings never appear)
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;
  bool end_of_text = false;
};

class GenerationChannel : public std::enable_shared_from_this<GenerationChannel> {
 public:
  using Clock = std::chrono::steady_clock;

  static std::shared_ptr<GenerationChannel> create() { return std::shared_ptr<GenerationChannel>(new GenerationChannel()); }

  // Callbacks for BatchScheduler::submit that feed this channel (each holds a reference).
  RequestCallbacks callbacks();

  struct Taken {
    std::vector<ReceivedToken> tokens;
    std::optional<ScheduledResult> done;  // set once, with the last tokens
  };
  // What arrived since the last call, waiting up to `wait` when nothing has.
  Taken take(std::chrono::milliseconds wait);

  bool finished() const;
  std::optional<Clock::time_point> first_token_at() const;
  std::optional<Clock::time_point> done_at() const;

 private:
  GenerationChannel() = default;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedToken> pending_;
  std::optional<ScheduledResult> done_;
  bool done_taken_ = false;
  std::optional<Clock::time_point> first_token_at_, done_at_;
};

}  // namespace lmforge::serve
