// POST /v1/completions: a prompt string (tokenized as `lmforge run` does: BOS, then the text)
// or token ids fed as they are; `echo` puts the prompt's text before the completion; legacy
// `logprobs` N gives each token's log-probability and its N most likely alternatives.
#include <nlohmann/json.hpp>

#include "serve/api_error.h"
#include "serve/event_stream.h"
#include "serve/generation_runner.h"
#include "serve/handlers.h"

namespace lmforge::serve {

namespace {

using json = nlohmann::json;

struct CompletionStream {
  ResponseMeta meta;
  bool include_usage = false;
  std::optional<int64_t> logprobs;
  std::string echo;  // sent first, when asked for
  size_t offset = 0;
  const Tokenizer* tok = nullptr;
};

std::string completion_events(CompletionStream& st, GenerationChannel::Taken& t) {
  std::string out;
  if (!st.echo.empty()) {
    out += sse_event(text_completion_json(st.meta, st.echo, nullptr, nullptr, std::nullopt));
    st.offset = st.echo.size();
    st.echo.clear();
  }
  for (const ReceivedToken& tok : t.tokens) {
    json lp = nullptr;
    if (st.logprobs && !tok.end_of_text) {
      const TokenLogprobEntry e = logprob_entry(*st.tok, tok);
      lp = completion_logprobs_json(std::span(&e, 1), st.offset);
    }
    st.offset += tok.text.size();
    if (tok.text.empty() && lp.is_null()) continue;
    out += sse_event(text_completion_json(st.meta, tok.text, nullptr, lp, std::nullopt));
  }
  if (t.done) {
    const ScheduledResult& r = *t.done;
    if (!r.error.empty()) {
      out += stream_error_event(r.error);
    } else {
      out += sse_event(text_completion_json(st.meta, "", finish_reason_name(r.stop), nullptr, std::nullopt));
      if (st.include_usage) out += sse_event(usage_chunk_json(st.meta, "text_completion", {r.prompt_tokens, r.completion_tokens}));
    }
    out += kSseDone;
  }
  return out;
}

}  // namespace

void handle_completions(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  const Tokenizer& tok = *s.tokenizer;
  CompletionRequest r = parse_completion_request(req.body, tok.size());
  check_model(s, r.model);
  std::vector<int32_t> prompt = r.prompt_text ? tok.encode(*r.prompt_text, tok.add_bos(), false) : r.prompt_tokens;
  if (prompt.empty()) throw_bad_request("The prompt is empty and the model adds no BOS token", "prompt");
  const std::string echo = !r.echo ? "" : r.prompt_text ? *r.prompt_text : tok.decode(prompt);
  ScheduledRequest q = scheduled_request(r, std::move(prompt));
  if (r.logprobs) {
    q.logprobs = true;
    q.top_logprobs = static_cast<uint32_t>(*r.logprobs);
  }
  auto gen = ActiveGeneration::submit(s, std::move(q));
  ResponseMeta meta{new_response_id("cmpl-"), unix_seconds_now(), s.model_id};

  if (!r.stream) {
    auto c = gen->collect();
    if (!c) {
      res.status = 499;
      return;
    }
    if (!c->result.error.empty()) throw ApiException(ApiError{500, c->result.error, "server_error", "", ""});
    json lp = nullptr;
    if (r.logprobs) {
      const auto entries = logprob_entries(tok, c->tokens);
      lp = completion_logprobs_json(entries, echo.size());
    }
    send_json(res, text_completion_json(meta, echo + c->text, finish_reason_name(c->result.stop), lp,
                                        Usage{c->result.prompt_tokens, c->result.completion_tokens}));
    return;
  }

  auto st = std::make_shared<CompletionStream>();
  st->meta = meta;
  st->include_usage = r.include_usage;
  st->logprobs = r.logprobs;
  st->echo = echo;
  st->tok = &tok;
  stream_generation_events(res, gen, [st](GenerationChannel::Taken& t) { return completion_events(*st, t); });
}

}  // namespace lmforge::serve
