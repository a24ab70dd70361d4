// The response bodies the server sends, in OpenAI's shapes as the official SDKs read them:
// chat.completion and its chunks, text_completion, embeddings (float lists or base64 of
// little-endian f32), the model list, and server-sent events around them. Pure functions of
// their inputs: no model, no sockets, so each shape is unit-tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "generate/session.h"

namespace lmforge::serve {

struct Usage {
  size_t prompt_tokens = 0;
  size_t completion_tokens = 0;
};

// One generated token's log-probability and its most likely alternatives, with the token's
// text as the model's vocabulary renders it (raw bytes: may be part of a UTF-8 character).
struct TokenLogprobEntry {
  std::string text;
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top;
};

// What identifies one response across its chunks.
struct ResponseMeta {
  std::string id;     // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// "chatcmpl-" + 24 random hex digits (and "cmpl-" for text completions).
std::string new_response_id(std::string_view prefix);
int64_t unix_seconds_now();

// "stop" for the end of text, a stop token or a stop string; "length" for the max_tokens limit
// and a full context.
std::string finish_reason_name(StopReason r);

nlohmann::json usage_json(const Usage& u);

// The chat form {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
nlohmann::json chat_logprobs_json(std::span<const TokenLogprobEntry> entries);
// The legacy completions form {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
// `text_offset` counts bytes from `first_offset` (the echoed prompt's length, or 0).
nlohmann::json completion_logprobs_json(std::span<const TokenLogprobEntry> entries, size_t first_offset);

nlohmann::json chat_completion_json(const ResponseMeta& m, std::string_view content, std::string_view finish_reason,
                                    const Usage& usage, const nlohmann::json& logprobs);
// A streamed chunk: `delta` as given ({"role": "assistant", "content": ""} first, then
// {"content": ...}, {} with the finish reason); `usage` null in every chunk when the client asked
// for include_usage, absent otherwise.
nlohmann::json chat_chunk_json(const ResponseMeta& m, const nlohmann::json& delta, const nlohmann::json& finish_reason,
                               const nlohmann::json& logprobs, bool include_usage);
// The last chunk of include_usage: no choices, the usage.
nlohmann::json usage_chunk_json(const ResponseMeta& m, std::string_view object, const Usage& usage);

nlohmann::json text_completion_json(const ResponseMeta& m, std::string_view text, const nlohmann::json& finish_reason,
                                    const nlohmann::json& logprobs, const std::optional<Usage>& usage);

// {"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}.
nlohmann::json embeddings_json(std::string_view model, std::span<const std::vector<float>> vectors, bool base64,
                               size_t prompt_tokens);
// Standard base64 of the floats as little-endian IEEE-754 binary32, what the SDKs decode.
std::string base64_f32_le(std::span<const float> values);

nlohmann::json models_json(std::string_view model_id, int64_t created);

// "data: JSON\n\n".
std::string sse_event(const nlohmann::json& payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// The UTF-8 bytes of a token's text as a list of numbers (OpenAI's `bytes`).
nlohmann::json bytes_json(std::string_view text);

}  // namespace lmforge::serve
