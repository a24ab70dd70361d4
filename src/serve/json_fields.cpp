#include "serve/json_fields.h"

#include <cmath>
#include <limits>

#include "core/text_checks.h"
#include "serve/api_error.h"

namespace lmforge::serve {

namespace {

using json = nlohmann::json;

// Depth is counted before parsing, outside strings: nlohmann's parser is not recursive, but
// a client must not make the server build (and later walk) a million nested arrays.
void check_depth(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw_bad_request("The request body nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

}  // namespace

json parse_request_object(std::string_view body) {
  if (auto bad = find_invalid_utf8(body))
    throw_bad_request("The request body is not valid UTF-8 (at byte " + std::to_string(*bad) + ")");
  if (body.empty()) throw_bad_request("The request body is empty; send a JSON object");
  check_depth(body);
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    // nlohmann's message names the byte and what it expected; it holds no request text beyond
    // a short excerpt, which is already valid UTF-8 here.
    throw_bad_request(std::string("We could not parse the JSON body of your request: ") + e.what());
  }
  if (!j.is_object()) throw_bad_request("The request body must be a JSON object, not " + json_type_name(j));
  return j;
}

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

Fields::Fields(const json& object, std::string path_prefix) : obj_(object), prefix_(std::move(path_prefix)) {}

const json* Fields::find(std::string_view name) const {
  const auto it = obj_.find(name);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Fields::path(std::string_view name) const {
  return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
}

void Fields::refuse(std::string_view name, const std::string& what) const {
  throw_bad_request("'" + path(name) + "' " + what, path(name));
}

std::optional<std::string> Fields::string(std::string_view name) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) refuse(name, "must be a string, not " + json_type_name(*v));
  return v->get<std::string>();
}

std::string Fields::required_string(std::string_view name) const {
  auto s = string(name);
  if (!s) refuse(name, "is required");
  return *s;
}

std::optional<bool> Fields::boolean(std::string_view name) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) refuse(name, "must be a boolean, not " + json_type_name(*v));
  return v->get<bool>();
}

std::optional<int64_t> Fields::integer(std::string_view name, int64_t lo, int64_t hi) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  const std::string range = "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  int64_t n = 0;
  if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) refuse(name, range);
    n = static_cast<int64_t>(u);
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18)
      refuse(name, range);
    n = static_cast<int64_t>(d);
  } else {
    refuse(name, range + ", not " + json_type_name(*v));
  }
  if (n < lo || n > hi) refuse(name, range + ", not " + std::to_string(n));
  return n;
}

std::optional<double> Fields::number(std::string_view name, double lo, double hi) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  auto range = [&] {
    std::string s = "must be a number from ";
    s += json(lo).dump() + " to " + json(hi).dump();
    return s;
  };
  if (!v->is_number()) refuse(name, range() + ", not " + json_type_name(*v));
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) refuse(name, range() + ", not " + v->dump());
  return d;
}

std::optional<Fields> Fields::object_field(std::string_view name) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_object()) refuse(name, "must be an object, not " + json_type_name(*v));
  return Fields(*v, path(name));
}

}  // namespace lmforge::serve
