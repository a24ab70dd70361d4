#include "serve/generation_channel.h"

namespace lmforge::serve {

RequestCallbacks GenerationChannel::callbacks() {
  std::shared_ptr<GenerationChannel> self = shared_from_this();
  RequestCallbacks cb;
  cb.on_token = [self](const ScheduledToken& t) {
    ReceivedToken r;
    r.id = t.id;
    r.text.assign(t.text.data(), t.text.size());
    r.logprob = t.logprob;
    r.top.assign(t.top.begin(), t.top.end());
    r.end_of_text = t.end_of_text;
    {
      std::lock_guard lock(self->mu_);
      self->pending_.push_back(std::move(r));
    }
    self->cv_.notify_all();
  };
  cb.on_first_token = [self] {
    std::lock_guard lock(self->mu_);
    if (!self->first_token_at_) self->first_token_at_ = Clock::now();
  };
  cb.on_done = [self](const ScheduledResult& r) {
    {
      std::lock_guard lock(self->mu_);
      self->done_ = r;
      self->done_at_ = Clock::now();
    }
    self->cv_.notify_all();
  };
  return cb;
}

GenerationChannel::Taken GenerationChannel::take(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [&] { return !pending_.empty() || (done_ && !done_taken_); });
  Taken t;
  t.tokens.swap(pending_);
  if (done_ && !done_taken_) {
    t.done = done_;
    done_taken_ = true;
  }
  return t;
}

bool GenerationChannel::finished() const {
  std::lock_guard lock(mu_);
  return done_.has_value();
}

std::optional<GenerationChannel::Clock::time_point> GenerationChannel::first_token_at() const {
  std::lock_guard lock(mu_);
  return first_token_at_;
}

std::optional<GenerationChannel::Clock::time_point> GenerationChannel::done_at() const {
  std::lock_guard lock(mu_);
  return done_at_;
}

}  // namespace lmforge::serve
