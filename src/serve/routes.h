// The server's routes and the policy around them: the API key (every route but /health), 503
// until the model is loaded, OpenAI error objects for every refusal (the handlers' 400s, 404
// for unknown routes, 413 for bodies over --max-body, 503 with Retry-After), 500 only for a
// fault of the server itself, the metrics of each answer and one log line per request.
#pragma once

#include "serve/http_server.h"
#include "serve/serve_state.h"

namespace lmforge::serve {

void register_routes(BoundedHttpServer& server, ServeState& state);

}  // namespace lmforge::serve
