// Errors as the OpenAI API sends them: an HTTP status and the body
// {"error": {"message", "type", "param", "code"}}, `param` and `code` a string or null. Every
// failure a request can cause becomes one of these (400, 401, 404, 413, 503), so that the
// SDKs raise their own error classes and a bad request never looks like a server fault.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace lmforge::serve {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty: null
  std::string code;   // empty: null
};

// Thrown by the request parsers and handlers; the route wrapper turns it into the response.
class ApiException : public std::runtime_error {
 public:
  explicit ApiException(ApiError error) : std::runtime_error(error.message), error_(std::move(error)) {}
  const ApiError& error() const { return error_; }

 private:
  ApiError error_;
};

// 400 invalid_request_error naming the field at fault (`param`, may be empty).
[[noreturn]] void throw_bad_request(const std::string& message, const std::string& param = "",
                                    const std::string& code = "");

ApiError unauthorized_error();
ApiError model_not_found_error(const std::string& model);
ApiError route_not_found_error(const std::string& method, const std::string& path);
ApiError body_too_large_error(size_t max_body);
ApiError server_busy_error();
// The generic error of a status with no more specific one (an HTTP-level refusal by the library).
ApiError error_for_status(int status);

nlohmann::json error_json(const ApiError& e);
// error_json(e) as text, never throwing on bytes that are not UTF-8.
std::string error_body(const ApiError& e);

// nlohmann::json::dump that replaces ill-formed UTF-8 instead of throwing: every response body
// goes through it.
std::string dump_json(const nlohmann::json& j);

}  // namespace lmforge::serve
