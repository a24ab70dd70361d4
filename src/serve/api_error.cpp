#include "serve/api_error.h"

namespace lmforge::serve {

void throw_bad_request(const std::string& message, const std::string& param, const std::string& code) {
  throw ApiException(ApiError{400, message, "invalid_request_error", param, code});
}

ApiError unauthorized_error() {
  return {401, "Incorrect or missing API key: send it as \"Authorization: Bearer KEY\"", "invalid_request_error", "",
          "invalid_api_key"};
}

ApiError model_not_found_error(const std::string& model) {
  return {404, "The model '" + model + "' does not exist", "invalid_request_error", "model", "model_not_found"};
}

ApiError route_not_found_error(const std::string& method, const std::string& path) {
  return {404, "Unknown request URL: " + method + " " + path, "invalid_request_error", "", "unknown_url"};
}

ApiError body_too_large_error(size_t max_body) {
  return {413, "The request body is larger than the server accepts (" + std::to_string(max_body) + " bytes)",
          "invalid_request_error", "", "request_too_large"};
}

ApiError server_busy_error() {
  return {503, "The server is busy (every slot is taken and the queue is full); retry later", "server_error", "",
          "server_busy"};
}

ApiError error_for_status(int status) {
  switch (status) {
    case 400: return {400, "Bad request", "invalid_request_error", "", ""};
    case 401: return unauthorized_error();
    case 404: return {404, "Not found", "invalid_request_error", "", "unknown_url"};
    case 405: return {405, "Method not allowed", "invalid_request_error", "", ""};
    case 408: return {408, "The request was not received in time", "invalid_request_error", "", "timeout"};
    case 413: return {413, "The request is too large", "invalid_request_error", "", "request_too_large"};
    case 414: return {414, "The request URI is too long", "invalid_request_error", "", ""};
    case 416: return {416, "Range not satisfiable", "invalid_request_error", "", ""};
    case 503: return server_busy_error();
    default: break;
  }
  if (status >= 500) return {status, "Internal server error", "server_error", "", ""};
  return {status, "Request refused", "invalid_request_error", "", ""};
}

nlohmann::json error_json(const ApiError& e) {
  nlohmann::json inner = {{"message", e.message}, {"type", e.type}};
  inner["param"] = e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param);
  inner["code"] = e.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.code);
  return {{"error", inner}};
}

std::string error_body(const ApiError& e) { return dump_json(error_json(e)); }

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace lmforge::serve
