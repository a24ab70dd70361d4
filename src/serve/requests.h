// The requests the server takes, parsed and validated into plain structs before anything
// touches the model: every type, range and combination is checked here (400 otherwise), so a
// handler only ever sees values it can use. No tokenizer is needed; token ids are checked
// against the vocabulary size the caller passes.
//
// Defaults are OpenAI's (temperature 1, top_p 1, no penalties); `top_k`, `min_p`,
// `repeat_penalty` are llama-server's extras, off unless sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "generate/chat_template.h"

namespace lmforge::serve {

inline constexpr int64_t kMaxTokensLimit = int64_t{1} << 20;
inline constexpr size_t kMaxStopStrings = 4;
inline constexpr size_t kMaxStopStringBytes = 256;
inline constexpr int64_t kMaxTopLogprobs = 20;
inline constexpr size_t kMaxEmbeddingInputs = 2048;

struct SamplingRequest {
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;  // 0: off
  double min_p = 0.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  double repeat_penalty = 1.0;
  std::optional<uint32_t> seed;
};

// What chat and text completions share.
struct GenerationRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  std::optional<int64_t> max_tokens;    // nullopt: until the text or the slot's context ends
  std::vector<std::string> stop;
  bool ignore_eos = false;  // llama-server's extension: EOS is never drawn (fixed-length benchmarks)
  SamplingRequest sampling;
};

struct ChatRequest : GenerationRequest {
  std::vector<ChatMessage> messages;  // roles system/user/assistant ("developer" read as system)
  bool logprobs = false;
  int64_t top_logprobs = 0;
};

struct CompletionRequest : GenerationRequest {
  std::optional<std::string> prompt_text;  // a string prompt...
  std::vector<int32_t> prompt_tokens;      // ...or token ids (fed as they are)
  bool echo = false;
  std::optional<int64_t> logprobs;         // legacy: top alternatives per token (0..5)
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> texts;                 // string inputs...
  std::vector<std::vector<int32_t>> token_inputs; // ...or token-id inputs
  bool base64 = false;                            // encoding_format "base64"
};

struct TokenizeRequest {
  std::string content;
  bool add_special = false;
  bool with_pieces = false;
};

struct DetokenizeRequest {
  std::vector<int32_t> tokens;
};

struct AskRequest : GenerationRequest {
  std::string question;
  int64_t k = 4;
  std::optional<std::string> mode;  // "hybrid", "vector", "bm25"
};

// Each throws ApiException (400) naming the offending field.
ChatRequest parse_chat_request(std::string_view body);
CompletionRequest parse_completion_request(std::string_view body, size_t n_vocab);
EmbeddingRequest parse_embedding_request(std::string_view body, size_t n_vocab);
TokenizeRequest parse_tokenize_request(std::string_view body);
DetokenizeRequest parse_detokenize_request(std::string_view body, size_t n_vocab);
AskRequest parse_ask_request(std::string_view body);

}  // namespace lmforge::serve
