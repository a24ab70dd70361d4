#include "serve/requests.h"

#include <limits>

#include "serve/api_error.h"
#include "serve/json_fields.h"

namespace lmforge::serve {

namespace {

using json = nlohmann::json;

void read_sampling(const Fields& f, SamplingRequest& s) {
  if (auto v = f.number("temperature", 0.0, 2.0)) s.temperature = *v;
  if (auto v = f.number("top_p", 0.0, 1.0)) s.top_p = *v;
  if (auto v = f.integer("top_k", 0, 1 << 20)) s.top_k = *v;
  if (auto v = f.number("min_p", 0.0, 1.0)) s.min_p = *v;
  if (auto v = f.number("presence_penalty", -2.0, 2.0)) s.presence_penalty = *v;
  if (auto v = f.number("frequency_penalty", -2.0, 2.0)) s.frequency_penalty = *v;
  if (auto v = f.number("repeat_penalty", 0.0, 10.0)) s.repeat_penalty = *v;
  // OpenAI documents seed as an integer; any 64-bit value is taken and folded to the 32 bits the
  // sampler's generator uses. 0xFFFFFFFF means "random" to the sampler, so it is moved aside.
  if (auto v = f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    const uint64_t u = static_cast<uint64_t>(*v);
    uint32_t folded = static_cast<uint32_t>(u ^ (u >> 32));
    if (folded == 0xFFFFFFFFu) folded = 0xFFFFFFFEu;
    s.seed = folded;
  }
}

std::vector<std::string> read_stop(const Fields& f) {
  const json* v = f.find("stop");
  std::vector<std::string> out;
  if (!v) return out;
  auto check = [&](const json& s, const std::string& where) {
    if (!s.is_string()) throw_bad_request("'" + where + "' must be a string, not " + json_type_name(s), where);
    std::string t = s.get<std::string>();
    if (t.size() > kMaxStopStringBytes)
      throw_bad_request("'" + where + "' is longer than " + std::to_string(kMaxStopStringBytes) + " bytes", where);
    if (!t.empty()) out.push_back(std::move(t));
  };
  if (v->is_string()) {
    check(*v, f.path("stop"));
  } else if (v->is_array()) {
    if (v->size() > kMaxStopStrings)
      f.refuse("stop", "may hold at most " + std::to_string(kMaxStopStrings) + " strings");
    for (size_t i = 0; i < v->size(); ++i) check((*v)[i], f.path("stop") + "[" + std::to_string(i) + "]");
  } else {
    f.refuse("stop", "must be a string or an array of strings, not " + json_type_name(*v));
  }
  return out;
}

void read_generation(const Fields& f, GenerationRequest& g, bool model_required) {
  if (model_required) g.model = f.required_string("model");
  else g.model = f.string("model").value_or("");
  g.stream = f.boolean("stream").value_or(false);
  if (auto so = f.object_field("stream_options")) {
    if (!g.stream) f.refuse("stream_options", "is only allowed when 'stream' is true");
    g.include_usage = so->boolean("include_usage").value_or(false);
  }
  // max_completion_tokens is the newer name; when both are sent the newer one wins.
  g.max_tokens = f.integer("max_tokens", 1, kMaxTokensLimit);
  if (auto v = f.integer("max_completion_tokens", 1, kMaxTokensLimit)) g.max_tokens = v;
  if (auto n = f.integer("n", 1, 128); n && *n != 1) f.refuse("n", "must be 1: this server makes one choice per request");
  g.stop = read_stop(f);
  g.ignore_eos = f.boolean("ignore_eos").value_or(false);
  read_sampling(f, g.sampling);
}

int32_t read_token_id(const json& v, size_t n_vocab, const std::string& where) {
  if (!v.is_number_integer() && !v.is_number_unsigned())
    throw_bad_request("'" + where + "' must be a token id (an integer), not " + json_type_name(v), where);
  if (v.is_number_unsigned() ? v.get<uint64_t>() >= n_vocab : (v.get<int64_t>() < 0 || static_cast<uint64_t>(v.get<int64_t>()) >= n_vocab))
    throw_bad_request("'" + where + "' is not a token id of this model (0 to " + std::to_string(n_vocab - 1) + ")", where);
  return static_cast<int32_t>(v.get<int64_t>());
}

std::vector<int32_t> read_token_list(const json& arr, size_t n_vocab, const std::string& where) {
  std::vector<int32_t> ids;
  ids.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) ids.push_back(read_token_id(arr[i], n_vocab, where + "[" + std::to_string(i) + "]"));
  return ids;
}

bool is_token_list(const json& v) { return v.is_array() && !v.empty() && v[0].is_number(); }

// A message's content: a string, or OpenAI's list of parts of which only "text" parts are
// understood here.
std::string read_content(const json& msg, const std::string& where, bool may_be_null) {
  const auto it = msg.find("content");
  if (it == msg.end() || it->is_null()) {
    if (may_be_null) return "";
    throw_bad_request("'" + where + ".content' is required", where + ".content");
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array())
    throw_bad_request("'" + where + ".content' must be a string or an array of content parts, not " + json_type_name(*it),
                      where + ".content");
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    const std::string pw = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) throw_bad_request("'" + pw + "' must be an object", pw);
    Fields pf(part, pw);
    const std::string type = pf.required_string("type");
    if (type != "text") pf.refuse("type", "'" + type + "' is not supported here: only text parts are");
    text += pf.required_string("text");
  }
  return text;
}

}  // namespace

ChatRequest parse_chat_request(std::string_view body) {
  const json j = parse_request_object(body);
  const Fields f(j);
  ChatRequest r;
  read_generation(f, r, true);
  const json* msgs = f.find("messages");
  if (!msgs) f.refuse("messages", "is required");
  if (!msgs->is_array()) f.refuse("messages", "must be an array of messages, not " + json_type_name(*msgs));
  if (msgs->empty()) f.refuse("messages", "must hold at least one message");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw_bad_request("'" + where + "' must be an object, not " + json_type_name(m), where);
    const Fields mf(m, where);
    std::string role = mf.required_string("role");
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant")
      mf.refuse("role", "must be system, user or assistant (developer is read as system), not '" + role + "'");
    r.messages.push_back({role, read_content(m, where, role == "assistant")});
  }
  r.logprobs = f.boolean("logprobs").value_or(false);
  if (auto t = f.integer("top_logprobs", 0, kMaxTopLogprobs)) {
    if (!r.logprobs && *t > 0) f.refuse("top_logprobs", "needs 'logprobs': true");
    r.top_logprobs = *t;
  }
  if (auto rf = f.object_field("response_format")) {
    const std::string type = rf->required_string("type");
    if (type != "text")
      rf->refuse("type", "'" + type + "' is not supported by this server (only \"text\"): it cannot constrain output to JSON");
  }
  return r;
}

CompletionRequest parse_completion_request(std::string_view body, size_t n_vocab) {
  const json j = parse_request_object(body);
  const Fields f(j);
  CompletionRequest r;
  read_generation(f, r, true);
  if (!f.find("max_tokens") && !f.find("max_completion_tokens")) r.max_tokens = 16;  // OpenAI's default here
  const json* p = f.find("prompt");
  if (!p) f.refuse("prompt", "is required");
  // A string, a list of one string, token ids, or a list of one list of token ids.
  const json* one = p;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) one = &(*p)[0];
  else if (p->is_array() && !p->empty() && ((*p)[0].is_string() || (*p)[0].is_array()))
    f.refuse("prompt", "must be one prompt: this server answers one prompt per request");
  if (one->is_string()) {
    r.prompt_text = one->get<std::string>();
  } else if (one->is_array()) {
    if (one->empty()) f.refuse("prompt", "must not be an empty list of tokens");
    r.prompt_tokens = read_token_list(*one, n_vocab, "prompt");
  } else {
    f.refuse("prompt", "must be a string or a list of token ids, not " + json_type_name(*one));
  }
  r.echo = f.boolean("echo").value_or(false);
  r.logprobs = f.integer("logprobs", 0, 5);
  if (r.echo && r.logprobs)
    f.refuse("logprobs", "cannot be combined with 'echo' here: the prompt's own log-probabilities are not computed");
  if (auto s = f.string("suffix"); s && !s->empty()) f.refuse("suffix", "is not supported by this model");
  return r;
}

EmbeddingRequest parse_embedding_request(std::string_view body, size_t n_vocab) {
  const json j = parse_request_object(body);
  const Fields f(j);
  EmbeddingRequest r;
  r.model = f.required_string("model");
  const json* in = f.find("input");
  if (!in) f.refuse("input", "is required");
  if (in->is_string()) {
    r.texts.push_back(in->get<std::string>());
  } else if (is_token_list(*in)) {
    r.token_inputs.push_back(read_token_list(*in, n_vocab, "input"));
  } else if (in->is_array()) {
    if (in->empty()) f.refuse("input", "must not be an empty list");
    if (in->size() > kMaxEmbeddingInputs) f.refuse("input", "may hold at most " + std::to_string(kMaxEmbeddingInputs) + " inputs");
    const bool strings = (*in)[0].is_string();
    for (size_t i = 0; i < in->size(); ++i) {
      const json& v = (*in)[i];
      const std::string where = "input[" + std::to_string(i) + "]";
      if (strings && v.is_string()) r.texts.push_back(v.get<std::string>());
      else if (!strings && v.is_array() && !v.empty()) r.token_inputs.push_back(read_token_list(v, n_vocab, where));
      else throw_bad_request("'" + where + "' must be " + (strings ? "a string" : "a non-empty list of token ids") + " like the first input", where);
    }
  } else {
    f.refuse("input", "must be a string, a list of strings or token ids, not " + json_type_name(*in));
  }
  const std::string format = f.string("encoding_format").value_or("float");
  if (format != "float" && format != "base64") f.refuse("encoding_format", "must be \"float\" or \"base64\", not '" + format + "'");
  r.base64 = format == "base64";
  return r;
}

TokenizeRequest parse_tokenize_request(std::string_view body) {
  const json j = parse_request_object(body);
  const Fields f(j);
  TokenizeRequest r;
  r.content = f.required_string("content");
  r.add_special = f.boolean("add_special").value_or(false);
  r.with_pieces = f.boolean("with_pieces").value_or(false);
  return r;
}

DetokenizeRequest parse_detokenize_request(std::string_view body, size_t n_vocab) {
  const json j = parse_request_object(body);
  const Fields f(j);
  DetokenizeRequest r;
  const json* t = f.find("tokens");
  if (!t) f.refuse("tokens", "is required");
  if (!t->is_array()) f.refuse("tokens", "must be an array of token ids, not " + json_type_name(*t));
  if (t->size() > kMaxTokensLimit) f.refuse("tokens", "holds too many tokens");
  r.tokens = read_token_list(*t, n_vocab, "tokens");
  return r;
}

AskRequest parse_ask_request(std::string_view body) {
  const json j = parse_request_object(body);
  const Fields f(j);
  AskRequest r;
  read_generation(f, r, false);
  r.question = f.required_string("question");
  if (r.question.empty()) f.refuse("question", "must not be empty");
  if (auto k = f.integer("k", 1, 100)) r.k = *k;
  if (auto m = f.string("mode")) {
    if (*m != "hybrid" && *m != "vector" && *m != "bm25") f.refuse("mode", "must be hybrid, vector or bm25, not '" + *m + "'");
    r.mode = *m;
  }
  return r;
}

}  // namespace lmforge::serve
