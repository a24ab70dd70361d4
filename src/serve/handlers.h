// The route handlers, one concern per file (chat_handler.cpp, completion_handler.cpp, ...).
// Each parses its request strictly (requests.h) and throws ApiException for anything the
// client got wrong; routes.cpp registers them and turns exceptions into error responses.
#pragma once

#include <httplib.h>

#include "serve/serve_state.h"

namespace lmforge::serve {

void handle_chat_completions(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_completions(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_embeddings(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_tokenize(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_detokenize(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_ask(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_health(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_models(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_metrics(ServeState& s, const httplib::Request& req, httplib::Response& res);
void handle_slots(ServeState& s, const httplib::Request& req, httplib::Response& res);

// A JSON body with status 200 (or `status`).
void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);

// Headers every event stream carries: no caching, and no buffering in a proxy (nginx reads
// X-Accel-Buffering), so each event reaches the client when it is written.
void set_event_stream_headers(httplib::Response& res);

}  // namespace lmforge::serve
