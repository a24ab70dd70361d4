#include "generate/scheduler_slot.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <utility>

#include "generate/token_logprobs.h"

namespace lmforge {

SchedulerSlot::SchedulerSlot(uint32_t index, uint32_t n_ctx, const Tokenizer& tok) : index_(index), n_ctx_(n_ctx), tok_(tok) {}

void SchedulerSlot::start(QueuedRequest request) {
  run_ = std::move(request);
  const ScheduledRequest& r = run_->request;
  sampler_ = std::make_unique<Sampler>(r.sampling);
  // As GenerationSession: the penalties see the prompt too.
  for (int32_t t : r.prompt) sampler_->accept(t);
  streamer_ = std::make_unique<TextStreamer>(tok_, r.prompt.back());
  stops_ = std::make_unique<StopStringFilter>(r.generation.stop_strings);
  n_past_ = 0;
  generated_ = 0;
  pending_ = -1;
  state_ = State::kPrompt;
}

std::span<const int32_t> SchedulerSlot::prompt_left() const {
  if (state_ != State::kPrompt) return {};
  return std::span<const int32_t>(run_->request.prompt).subspan(n_past_);
}

void SchedulerSlot::prompt_evaluated(size_t n, std::span<const float> logits) {
  n_past_ += n;
  if (n_past_ < run_->request.prompt.size()) return;
  if (run_->callbacks.on_first_token) {
    try {
      run_->callbacks.on_first_token();
    } catch (const std::exception& e) {
      finish(StopReason::kCancelled, std::string("on_first_token failed: ") + e.what());
      return;
    }
  }
  if (!want_more()) {
    finish(StopReason::kLimit);
    return;
  }
  draw(logits);
}

void SchedulerSlot::token_evaluated(std::span<const float> logits) {
  ++n_past_;
  pending_ = -1;
  draw(logits);
}

bool SchedulerSlot::ends_text(int32_t id) const {
  const GenerationParams& g = run_->request.generation;
  return tok_.is_eog(id) || std::find(g.stop_tokens.begin(), g.stop_tokens.end(), id) != g.stop_tokens.end();
}

bool SchedulerSlot::want_more() const {
  const int64_t n_predict = run_->request.generation.n_predict;
  return n_predict < 0 || generated_ < static_cast<uint64_t>(n_predict);
}

int32_t SchedulerSlot::sample(std::span<const float> logits) {
  if (!run_->request.generation.ignore_eos) return sampler_->sample(logits);
  // As GenerationSession (and llama.cpp's logit bias): every end-of-generation id is
  // impossible for this draw only; logprobs still come from the logits the model gave.
  scratch_.assign(logits.begin(), logits.end());
  for (int32_t id : tok_.eog_ids())
    if (id >= 0 && static_cast<size_t>(id) < scratch_.size()) scratch_[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
  return sampler_->sample(scratch_);
}

bool SchedulerSlot::emit(const ScheduledToken& token) {
  if (!run_->callbacks.on_token) return true;
  try {
    run_->callbacks.on_token(token);
    return true;
  } catch (const std::exception& e) {
    finish(StopReason::kCancelled, std::string("on_token failed: ") + e.what());
    return false;
  }
}

void SchedulerSlot::draw(std::span<const float> logits) {
  const ScheduledRequest& r = run_->request;
  const int32_t next = sample(logits);
  ++drawn_total_;
  ScheduledToken token;
  token.id = next;
  if (r.logprobs) {
    token.logprob = token_logprobs(logits, next, r.top_logprobs, top_);
    token.top = top_;
  }
  if (ends_text(next)) {
    // Text a stop string was still holding back is shown after all: it did not become one.
    const std::string tail = stops_->flush();
    token.text = tail;
    token.end_of_text = true;
    if (emit(token)) finish(StopReason::kEndOfText);
    return;
  }
  sampler_->accept(next);
  ++generated_;
  const StopStringFilter::Step step = stops_->push(streamer_->push(next));
  if (step.stopped) {
    token.text = step.release;
    if (emit(token)) finish(StopReason::kStopString);
    return;
  }
  // The last token carries the held-back text, since no later one will.
  std::optional<StopReason> end;
  if (!want_more()) {
    end = StopReason::kLimit;
  } else if (n_past_ >= n_ctx_) {
    end = StopReason::kContextFull;  // no position left to evaluate this token at
  }
  const std::string text = end ? step.release + stops_->flush() : step.release;
  token.text = text;
  if (!emit(token)) return;
  if (end) {
    finish(*end);
    return;
  }
  pending_ = next;
  state_ = State::kGenerating;
}

void SchedulerSlot::finish(StopReason stop, std::string error) {
  if (!run_) return;
  ScheduledResult result;
  result.stop = stop;
  result.prompt_tokens = run_->request.prompt.size();
  result.completion_tokens = generated_;
  result.error = std::move(error);
  std::function<void(const ScheduledResult&)> on_done = std::move(run_->callbacks.on_done);
  run_.reset();
  sampler_.reset();
  streamer_.reset();
  stops_.reset();
  state_ = State::kIdle;
  pending_ = -1;
  if (on_done) {
    try {
      on_done(result);
    } catch (...) {
      // Nothing is left to tell: the request is over either way.
    }
  }
}

}  // namespace lmforge
