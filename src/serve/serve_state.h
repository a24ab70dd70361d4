// Everything the route handlers share: the model's identity and chat format, the scheduler,
// the optional embedding and retrieval services, the API key, limits and metrics. The server
// listens before the model is loaded (GET /health answers 503 until then); the loader fills
// the fields and then sets `ready`, after which they never change.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "generate/batch_scheduler.h"
#include "generate/chat_template.h"
#include "serve/api_key.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "tokenizer/tokenizer.h"

namespace lmforge::serve {

class EmbeddingService;
class AskService;

struct ServeState {
  std::atomic<bool> ready{false};
  std::string model_id;       // --alias or the model file's name
  int64_t created = 0;        // when the server started (Unix seconds)
  BatchScheduler* scheduler = nullptr;
  const Tokenizer* tokenizer = nullptr;
  ChatFormat chat_format = ChatFormat::kChatml;
  std::string chat_default_system;  // put first when a conversation has no system message (Qwen2.5's)
  int32_t chat_end_token = -1;  // the template's end marker as one token, -1 when it is none
  EmbeddingService* embeddings = nullptr;  // null: /v1/embeddings answers 404 model_not_found
  AskService* ask = nullptr;               // null: /v1/ask answers 404 (no --db)
  ApiKeyCheck api_key{""};
  HttpLimits limits;
  Metrics metrics;
  bool log_requests = true;
};

// 404 model_not_found unless `model` names the served model (empty: allowed where the field is
// optional).
void check_model(const ServeState& s, const std::string& model);

}  // namespace lmforge::serve
