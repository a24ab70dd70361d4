#include "serve/routes.h"

#include <chrono>
#include <cstdio>
#include <functional>

#include "core/error.h"
#include "core/text_checks.h"
#include "serve/api_error.h"
#include "serve/handlers.h"
#include "serve/request_record.h"

namespace lmforge::serve {

namespace {

using Handler = void (*)(ServeState&, const httplib::Request&, httplib::Response&);

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", "1");
  res.set_content(error_body(e), "application/json");
}

// Runs a handler, turning what it throws into the error response the client should see.
httplib::Server::Handler guarded(ServeState& s, Handler h, bool needs_model) {
  return [&s, h, needs_model](const httplib::Request& req, httplib::Response& res) {
    try {
      if (needs_model && !s.ready.load()) {
        ApiError e = server_busy_error();
        e.message = "The model is still loading";
        e.code = "model_loading";
        throw ApiException(e);
      }
      h(s, req, res);
    } catch (const ApiException& e) {
      send_error(res, e.error());
    } catch (const UsageError& e) {
      send_error(res, ApiError{400, e.what(), "invalid_request_error", "", ""});
    } catch (const Error& e) {
      // A model-side refusal of this input (a token the tokenizer cannot render, a text the
      // embedder will not take): the request's fault, not the server's.
      send_error(res, ApiError{400, e.message(), "invalid_request_error", "", ""});
    } catch (const std::bad_alloc&) {
      send_error(res, ApiError{500, "The server ran out of memory for this request", "server_error", "", ""});
    } catch (const std::exception& e) {
      send_error(res, ApiError{500, std::string("Internal error: ") + e.what(), "server_error", "", ""});
    }
  };
}

void log_request(const RequestRecord& rec) {
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - current_request_start()).count();
  std::fprintf(stderr, "lmforge serve: %s %s %d prompt_tokens=%zu completion_tokens=%zu%s%s %.1f ms\n",
               escaped_for_display(rec.method).c_str(), escaped_for_display(rec.path).c_str(), rec.status, rec.prompt_tokens,
               rec.completion_tokens, rec.stop.empty() ? "" : " stop=", rec.stop.c_str(), ms);
}

}  // namespace

void register_routes(BoundedHttpServer& server, ServeState& s) {
  server.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/health" || !s.api_key.enabled()) return httplib::Server::HandlerResponse::Unhandled;
    if (s.api_key.accepts(req.get_header_value("Authorization"))) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, unauthorized_error());
    return httplib::Server::HandlerResponse::Handled;
  });

  server.Get("/health", guarded(s, handle_health, false));
  for (const char* p : {"/v1/models", "/models"}) server.Get(p, guarded(s, handle_models, true));
  for (const char* p : {R"(/v1/models/(.+))", R"(/models/(.+))"}) server.Get(p, guarded(s, handle_models, true));
  server.Get("/metrics", guarded(s, handle_metrics, false));
  server.Get("/slots", guarded(s, handle_slots, true));
  for (const char* p : {"/v1/chat/completions", "/chat/completions"}) server.Post(p, guarded(s, handle_chat_completions, true));
  for (const char* p : {"/v1/completions", "/completions"}) server.Post(p, guarded(s, handle_completions, true));
  for (const char* p : {"/v1/embeddings", "/embeddings"}) server.Post(p, guarded(s, handle_embeddings, true));
  server.Post("/v1/ask", guarded(s, handle_ask, true));
  server.Post("/tokenize", guarded(s, handle_tokenize, true));
  server.Post("/detokenize", guarded(s, handle_detokenize, true));

  // Statuses the library sets itself (no route: 404; body over the limit: 413; a request it
  // cannot parse: 400) get an OpenAI error body like every other refusal.
  server.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.status == 499) return;
    if (res.status == 400 && current_request_timed_out()) res.status = 408;
    ApiError e = res.status == 404   ? route_not_found_error(escaped_for_display(req.method), escaped_for_display(req.path))
                 : res.status == 413 ? body_too_large_error(s.limits.max_body)
                                     : error_for_status(res.status);
    send_error(res, e);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError{500, "Internal error", "server_error", "", ""});
  });
  server.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    s.metrics.count_request(res.status);
    RequestRecord& rec = current_request_record();
    rec.method = req.method;
    rec.path = req.path;
    rec.status = res.status;
  });
  server.set_request_done([&s] {
    RequestRecord& rec = current_request_record();
    if (s.log_requests && rec.status != 0) log_request(rec);
    rec = {};
  });
}

}  // namespace lmforge::serve
