#include "serve/responses.h"

#include <bit>
#include <chrono>
#include <cstring>
#include <random>

#include "core/text_checks.h"
#include "serve/api_error.h"

namespace lmforge::serve {

using json = nlohmann::json;

std::string new_response_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string finish_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kEndOfText:
    case StopReason::kStopString:
    case StopReason::kCancelled: return "stop";
    case StopReason::kLimit:
    case StopReason::kContextFull:
    case StopReason::kPromptTooLong: return "length";
  }
  return "stop";
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json bytes_json(std::string_view text) {
  json b = json::array();
  for (const char c : text) b.push_back(static_cast<unsigned char>(c));
  return b;
}

json chat_logprobs_json(std::span<const TokenLogprobEntry> entries) {
  json content = json::array();
  for (const auto& e : entries) {
    json top = json::array();
    for (const auto& [text, lp] : e.top)
      top.push_back({{"token", sanitize_utf8(text)}, {"logprob", lp}, {"bytes", bytes_json(text)}});
    content.push_back({{"token", sanitize_utf8(e.text)}, {"logprob", e.logprob}, {"bytes", bytes_json(e.text)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json completion_logprobs_json(std::span<const TokenLogprobEntry> entries, size_t first_offset) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  size_t offset = first_offset;
  for (const auto& e : entries) {
    tokens.push_back(sanitize_utf8(e.text));
    lps.push_back(e.logprob);
    json top = json::object();
    for (const auto& [text, lp] : e.top) top[sanitize_utf8(text)] = lp;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += e.text.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json chat_completion_json(const ResponseMeta& m, std::string_view content, std::string_view finish_reason, const Usage& usage,
                          const json& logprobs) {
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", sanitize_utf8(content)}, {"refusal", nullptr}}},
                 {"logprobs", logprobs},
                 {"finish_reason", finish_reason}};
  return {{"id", m.id},     {"object", "chat.completion"}, {"created", m.created}, {"model", m.model},
          {"choices", json::array({choice})}, {"usage", usage_json(usage)}, {"system_fingerprint", nullptr}};
}

json chat_chunk_json(const ResponseMeta& m, const json& delta, const json& finish_reason, const json& logprobs,
                     bool include_usage) {
  json choice = {{"index", 0}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", finish_reason}};
  json chunk = {{"id", m.id},     {"object", "chat.completion.chunk"}, {"created", m.created}, {"model", m.model},
                {"choices", json::array({choice})}, {"system_fingerprint", nullptr}};
  if (include_usage) chunk["usage"] = nullptr;
  return chunk;
}

json usage_chunk_json(const ResponseMeta& m, std::string_view object, const Usage& usage) {
  return {{"id", m.id},        {"object", object},          {"created", m.created}, {"model", m.model},
          {"choices", json::array()}, {"usage", usage_json(usage)}, {"system_fingerprint", nullptr}};
}

json text_completion_json(const ResponseMeta& m, std::string_view text, const json& finish_reason, const json& logprobs,
                          const std::optional<Usage>& usage) {
  json choice = {{"text", sanitize_utf8(text)}, {"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish_reason}};
  json out = {{"id", m.id}, {"object", "text_completion"}, {"created", m.created}, {"model", m.model},
              {"choices", json::array({choice})}, {"system_fingerprint", nullptr}};
  if (usage) out["usage"] = usage_json(*usage);
  return out;
}

std::string base64_f32_le(std::span<const float> values) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits = std::bit_cast<uint32_t>(values[i]);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + static_cast<size_t>(b)] = static_cast<char>((bits >> (8 * b)) & 0xFF);
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

json embeddings_json(std::string_view model, std::span<const std::vector<float>> vectors, bool base64, size_t prompt_tokens) {
  json data = json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    json e = {{"object", "embedding"}, {"index", i}};
    if (base64) e["embedding"] = base64_f32_le(vectors[i]);
    else e["embedding"] = vectors[i];
    data.push_back(std::move(e));
  }
  return {{"object", "list"}, {"data", data}, {"model", model},
          {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
}

json models_json(std::string_view model_id, int64_t created) {
  json m = {{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "lmforge"}};
  return {{"object", "list"}, {"data", json::array({m})}};
}

std::string sse_event(const json& payload) { return "data: " + dump_json(payload) + "\n\n"; }

}  // namespace lmforge::serve
