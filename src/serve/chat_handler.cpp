// POST /v1/chat/completions: the messages rendered with the model's chat template (ChatML when
// it has none), tokenized with the template's markers as their special tokens, generated
// through the scheduler; answered whole or streamed as chat.completion.chunk events.
#include <nlohmann/json.hpp>

#include "generate/special_tokens.h"
#include "serve/api_error.h"
#include "serve/event_stream.h"
#include "serve/generation_runner.h"
#include "serve/handlers.h"

namespace lmforge::serve {

namespace {

using json = nlohmann::json;

std::vector<int32_t> chat_prompt(const ServeState& s, const std::vector<ChatMessage>& messages) {
  const Tokenizer& tok = *s.tokenizer;
  std::vector<int32_t> ids;
  if (tok.add_bos() && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  const std::vector<int32_t> text = tokenize_with_specials(tok, render_chat(s.chat_format, with_default_system(messages, s.chat_default_system), true));
  ids.insert(ids.end(), text.begin(), text.end());
  return ids;
}

struct ChatStream {
  ResponseMeta meta;
  bool include_usage = false;
  bool logprobs = false;
  const Tokenizer* tok = nullptr;
  bool started = false;
};

// The events for what arrived; with the end, the finishing chunk, usage and [DONE].
std::string chat_events(ChatStream& st, GenerationChannel::Taken& t) {
  std::string out;
  if (!st.started) {
    out += sse_event(chat_chunk_json(st.meta, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr, st.include_usage));
    st.started = true;
  }
  for (const ReceivedToken& tok : t.tokens) {
    if (tok.end_of_text && tok.text.empty()) continue;
    json lp = nullptr;
    if (st.logprobs && !tok.end_of_text) {
      const TokenLogprobEntry e = logprob_entry(*st.tok, tok);
      lp = chat_logprobs_json(std::span(&e, 1));
    }
    if (tok.text.empty() && lp.is_null()) continue;
    out += sse_event(chat_chunk_json(st.meta, {{"content", tok.text}}, nullptr, lp, st.include_usage));
  }
  if (t.done) {
    const ScheduledResult& r = *t.done;
    if (!r.error.empty()) {
      out += stream_error_event(r.error);
    } else {
      out += sse_event(chat_chunk_json(st.meta, json::object(), finish_reason_name(r.stop), nullptr, st.include_usage));
      if (st.include_usage)
        out += sse_event(usage_chunk_json(st.meta, "chat.completion.chunk", {r.prompt_tokens, r.completion_tokens}));
    }
    out += kSseDone;
  }
  return out;
}

}  // namespace

void handle_chat_completions(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  ChatRequest r = parse_chat_request(req.body);
  check_model(s, r.model);
  ScheduledRequest q = scheduled_request(r, chat_prompt(s, r.messages));
  if (s.chat_end_token >= 0) q.generation.stop_tokens.push_back(s.chat_end_token);
  q.logprobs = r.logprobs;
  q.top_logprobs = static_cast<uint32_t>(r.top_logprobs);
  auto gen = ActiveGeneration::submit(s, std::move(q));
  ResponseMeta meta{new_response_id("chatcmpl-"), unix_seconds_now(), s.model_id};

  if (!r.stream) {
    auto c = gen->collect();
    if (!c) {
      res.status = 499;  // the client closed the request (nginx's code); nothing reaches it
      return;
    }
    if (!c->result.error.empty()) throw ApiException(ApiError{500, c->result.error, "server_error", "", ""});
    json lp = nullptr;
    if (r.logprobs) {
      const auto entries = logprob_entries(*s.tokenizer, c->tokens);
      lp = chat_logprobs_json(entries);
    }
    send_json(res, chat_completion_json(meta, c->text, finish_reason_name(c->result.stop),
                                        {c->result.prompt_tokens, c->result.completion_tokens}, lp));
    return;
  }

  auto st = std::make_shared<ChatStream>();
  st->meta = meta;
  st->include_usage = r.include_usage;
  st->logprobs = r.logprobs;
  st->tok = s.tokenizer;
  stream_generation_events(res, gen, [st](GenerationChannel::Taken& t) { return chat_events(*st, t); });
}

}  // namespace lmforge::serve
