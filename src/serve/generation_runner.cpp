#include "serve/generation_runner.h"

#include "serve/api_error.h"
#include "serve/http_server.h"
#include "serve/request_record.h"

namespace lmforge::serve {

namespace {
constexpr std::chrono::milliseconds kWaitSlice{100};
}

RequestRecord& current_request_record() {
  thread_local RequestRecord record;
  return record;
}

void check_model(const ServeState& s, const std::string& model) {
  if (!model.empty() && model != s.model_id) throw ApiException(model_not_found_error(model));
}

ScheduledRequest scheduled_request(const GenerationRequest& r, std::vector<int32_t> prompt) {
  ScheduledRequest q;
  q.prompt = std::move(prompt);
  q.generation.n_predict = r.max_tokens ? *r.max_tokens : -1;
  q.generation.stop_strings = r.stop;
  SamplingParams& p = q.sampling;
  p.temperature = static_cast<float>(r.sampling.temperature);
  p.top_p = static_cast<float>(r.sampling.top_p);
  p.top_k = static_cast<int32_t>(r.sampling.top_k);
  p.min_p = static_cast<float>(r.sampling.min_p);
  p.typical_p = 1.0f;
  p.repeat_penalty = static_cast<float>(r.sampling.repeat_penalty);
  p.presence_penalty = static_cast<float>(r.sampling.presence_penalty);
  p.frequency_penalty = static_cast<float>(r.sampling.frequency_penalty);
  if (r.sampling.seed) p.seed = *r.sampling.seed;
  return q;
}

std::shared_ptr<ActiveGeneration> ActiveGeneration::submit(ServeState& s, ScheduledRequest request) {
  const uint32_t n_ctx = s.scheduler->n_ctx();
  const size_t n_prompt = request.prompt.size();
  const int64_t n_predict = request.generation.n_predict;
  const size_t wanted = n_prompt + static_cast<size_t>(n_predict > 0 ? n_predict : 1);
  if (wanted > n_ctx) {
    std::string msg = "This model's maximum context length is " + std::to_string(n_ctx) + " tokens per request. However, you requested " +
                      std::to_string(wanted) + " tokens (" + std::to_string(n_prompt) + " in the prompt, " +
                      std::to_string(n_predict > 0 ? n_predict : 1) + " for the completion). Please reduce the prompt or max_tokens.";
    throw ApiException(ApiError{400, msg, "invalid_request_error", "messages", "context_length_exceeded"});
  }
  auto channel = GenerationChannel::create();
  const BatchScheduler::Submitted sub = s.scheduler->submit(std::move(request), channel->callbacks());
  switch (sub.admission) {
    case BatchScheduler::Admission::kAccepted: break;
    case BatchScheduler::Admission::kQueueFull: throw ApiException(server_busy_error());
    case BatchScheduler::Admission::kShuttingDown: {
      ApiError e = server_busy_error();
      e.message = "The server is shutting down";
      throw ApiException(e);
    }
    case BatchScheduler::Admission::kTooLong:
      throw ApiException(ApiError{400, "The prompt and max_tokens do not fit this model's context of " + std::to_string(n_ctx) + " tokens",
                                  "invalid_request_error", "messages", "context_length_exceeded"});
  }
  current_request_record().prompt_tokens = n_prompt;
  return std::shared_ptr<ActiveGeneration>(new ActiveGeneration(s, std::move(channel), sub.id, n_prompt));
}

ActiveGeneration::ActiveGeneration(ServeState& s, std::shared_ptr<GenerationChannel> ch, uint64_t id, size_t prompt_tokens)
    : s_(s), channel_(std::move(ch)), id_(id), prompt_tokens_(prompt_tokens), arrived_(current_request_start()) {}

ActiveGeneration::~ActiveGeneration() {
  if (!done_) cancel();
}

void ActiveGeneration::cancel() {
  if (!channel_->finished()) s_.scheduler->cancel(id_);
}

void ActiveGeneration::abandon() {
  if (done_) return;
  cancel();
  for (int i = 0; i < 50 && !done_; ++i) {
    GenerationChannel::Taken rest = channel_->take(kWaitSlice);
    if (rest.done) record(*rest.done);
  }
}

GenerationChannel::Taken ActiveGeneration::next() {
  GenerationChannel::Taken t = channel_->take(kWaitSlice);
  if (t.done) {
    record(*t.done);
  } else if (!gone_ && !current_connection_alive()) {
    gone_ = true;
    cancel();
  }
  return t;
}

void ActiveGeneration::record(const ScheduledResult& r) {
  done_ = true;
  RequestRecord& rec = current_request_record();
  rec.prompt_tokens = r.prompt_tokens;
  rec.completion_tokens = r.completion_tokens;
  rec.stop = std::string(stop_reason_name(r.stop));
  s_.metrics.count_tokens(r.prompt_tokens, r.completion_tokens);
  const auto first = channel_->first_token_at();
  const auto end = channel_->done_at();
  if (first && r.stop != StopReason::kCancelled) {
    s_.metrics.observe_first_token_seconds(std::chrono::duration<double>(*first - arrived_).count());
    const double gen_s = end ? std::chrono::duration<double>(*end - *first).count() : 0.0;
    if (r.completion_tokens > 1 && gen_s > 0) s_.metrics.observe_tokens_per_second(static_cast<double>(r.completion_tokens - 1) / gen_s);
  }
}

std::optional<ActiveGeneration::Collected> ActiveGeneration::collect() {
  Collected c;
  while (true) {
    GenerationChannel::Taken t = next();
    for (auto& tok : t.tokens) {
      c.text += tok.text;
      if (!tok.end_of_text) c.tokens.push_back(std::move(tok));
    }
    if (t.done) {
      c.result = *t.done;
      return c;
    }
    if (gone_) {
      abandon();
      return std::nullopt;
    }
  }
}

TokenLogprobEntry logprob_entry(const Tokenizer& tok, const ReceivedToken& t) {
  TokenLogprobEntry e;
  e.text = tok.token_text(t.id);
  e.logprob = t.logprob;
  for (const TokenLogprob& alt : t.top) e.top.emplace_back(tok.token_text(alt.id), alt.logprob);
  return e;
}

std::vector<TokenLogprobEntry> logprob_entries(const Tokenizer& tok, const std::vector<ReceivedToken>& tokens) {
  std::vector<TokenLogprobEntry> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(logprob_entry(tok, t));
  return out;
}

std::string stream_error_event(const std::string& message) {
  return sse_event(error_json(ApiError{500, message, "server_error", "", ""}));
}

}  // namespace lmforge::serve
