// POST /v1/ask {"question", "k", "mode", "stream", max_tokens and sampling fields}: the chunks
// of the --db index that best answer the question, pasted into `lmforge ask`'s "stuff" prompt
// (lowest-ranked chunks dropped until the prompt and max_tokens fit a slot), and the model's
// answer through the scheduler. The answer comes in chat.completion's shape with a top-level
// "sources" list; streamed, as chat.completion.chunk events whose first one carries "sources".
#include <nlohmann/json.hpp>

#include "core/text_checks.h"
#include "retrieval/stuff_prompt.h"
#include "serve/api_error.h"
#include "serve/ask_service.h"
#include "serve/event_stream.h"
#include "serve/generation_runner.h"
#include "serve/handlers.h"

namespace lmforge::serve {

namespace {

using json = nlohmann::json;

json sources_json(const std::vector<retrieval::RetrievedChunk>& chunks) {
  json list = json::array();
  for (const auto& c : chunks)
    list.push_back({{"rank", c.rank},
                    {"source", sanitize_utf8(c.source)},
                    {"label", sanitize_utf8(retrieval::source_label(c))},
                    {"start_line", c.start_line},
                    {"end_line", c.end_line},
                    {"score", c.score},
                    {"text", sanitize_utf8(c.text)}});
  return list;
}

struct AskStream {
  ResponseMeta meta;
  json sources;
  bool include_usage = false;
  bool started = false;
};

std::string ask_events(AskStream& st, GenerationChannel::Taken& t) {
  std::string out;
  if (!st.started) {
    json first = chat_chunk_json(st.meta, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr, st.include_usage);
    first["sources"] = st.sources;
    out += sse_event(first);
    st.started = true;
  }
  for (const ReceivedToken& tok : t.tokens)
    if (!tok.text.empty()) out += sse_event(chat_chunk_json(st.meta, {{"content", tok.text}}, nullptr, nullptr, st.include_usage));
  if (t.done) {
    const ScheduledResult& r = *t.done;
    if (!r.error.empty()) {
      out += stream_error_event(r.error);
    } else {
      out += sse_event(chat_chunk_json(st.meta, json::object(), finish_reason_name(r.stop), nullptr, st.include_usage));
      if (st.include_usage) out += sse_event(usage_chunk_json(st.meta, "chat.completion.chunk", {r.prompt_tokens, r.completion_tokens}));
    }
    out += kSseDone;
  }
  return out;
}

}  // namespace

void handle_ask(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  AskRequest r = parse_ask_request(req.body);
  check_model(s, r.model);
  if (!s.ask) throw ApiException(ApiError{404, "This server has no index to ask: start it with --db FILE.db", "invalid_request_error", "", "no_index"});
  if (!r.max_tokens) r.max_tokens = 256;  // `lmforge ask`'s default answer length
  std::vector<retrieval::RetrievedChunk> chunks = s.ask->retrieve(sanitize_utf8(r.question), r.mode, static_cast<size_t>(r.k));
  const Tokenizer& tok = *s.tokenizer;
  const size_t n_ctx = s.scheduler->n_ctx();
  auto prompt_of = [&] { return tok.encode(retrieval::stuff_prompt(r.question, chunks), tok.add_bos(), false); };
  std::vector<int32_t> prompt = prompt_of();
  while (prompt.size() + static_cast<size_t>(*r.max_tokens) > n_ctx && !chunks.empty()) {
    chunks.pop_back();
    prompt = prompt_of();
  }
  auto gen = ActiveGeneration::submit(s, scheduled_request(r, std::move(prompt)));
  ResponseMeta meta{new_response_id("chatcmpl-"), unix_seconds_now(), s.model_id};
  json sources = sources_json(chunks);

  if (!r.stream) {
    auto c = gen->collect();
    if (!c) {
      res.status = 499;
      return;
    }
    if (!c->result.error.empty()) throw ApiException(ApiError{500, c->result.error, "server_error", "", ""});
    json body = chat_completion_json(meta, c->text, finish_reason_name(c->result.stop),
                                     {c->result.prompt_tokens, c->result.completion_tokens}, nullptr);
    body["sources"] = sources;
    send_json(res, body);
    return;
  }
  auto st = std::make_shared<AskStream>();
  st->meta = meta;
  st->sources = std::move(sources);
  st->include_usage = r.include_usage;
  stream_generation_events(res, gen, [st](GenerationChannel::Taken& t) { return ask_events(*st, t); });
}

}  // namespace lmforge::serve
