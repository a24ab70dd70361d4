// Strict reading of a request's JSON: the body must be UTF-8 and one JSON object, nested no
// deeper than kMaxJsonDepth; each field is read with its expected type and range, and a field
// that is present with the wrong type or out of range is a 400 naming it. `null` counts as
// absent (LangChain and the SDKs send null for options left unset); fields nobody reads are
// ignored, as OpenAI ignores them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lmforge::serve {

inline constexpr int kMaxJsonDepth = 64;

// Parses a request body; throws ApiException (400) for text that is not UTF-8, not JSON,
// nested too deep or not an object.
nlohmann::json parse_request_object(std::string_view body);

// Typed access to one JSON object's fields; every failure throws ApiException 400 with the
// field's path (e.g. "messages[2].content") as `param`.
class Fields {
 public:
  Fields(const nlohmann::json& object, std::string path_prefix = "");

  const nlohmann::json& object() const { return obj_; }
  // The field, or nullptr when absent or null.
  const nlohmann::json* find(std::string_view name) const;
  std::string path(std::string_view name) const;

  std::optional<std::string> string(std::string_view name) const;
  std::string required_string(std::string_view name) const;
  std::optional<bool> boolean(std::string_view name) const;
  // An integer within [lo, hi]; a number with a fractional part, or beyond int64, is refused.
  std::optional<int64_t> integer(std::string_view name, int64_t lo, int64_t hi) const;
  // A finite number within [lo, hi].
  std::optional<double> number(std::string_view name, double lo, double hi) const;
  // A nested object (absent or null: nullopt).
  std::optional<Fields> object_field(std::string_view name) const;

  [[noreturn]] void refuse(std::string_view name, const std::string& what) const;

 private:
  const nlohmann::json& obj_;
  std::string prefix_;
};

// "string", "number", "object", ... as a message names a JSON value's type.
std::string json_type_name(const nlohmann::json& v);

}  // namespace lmforge::serve
