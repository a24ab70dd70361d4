#include "formats/gguf/gguf_value.h"

#include <nlohmann/json.hpp>

#include "core/text_checks.h"

namespace lmforge {

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::UINT8: return "UINT8";
    case GgufType::INT8: return "INT8";
    case GgufType::UINT16: return "UINT16";
    case GgufType::INT16: return "INT16";
    case GgufType::UINT32: return "UINT32";
    case GgufType::INT32: return "INT32";
    case GgufType::FLOAT32: return "FLOAT32";
    case GgufType::BOOL: return "BOOL";
    case GgufType::STRING: return "STRING";
    case GgufType::ARRAY: return "ARRAY";
    case GgufType::UINT64: return "UINT64";
    case GgufType::INT64: return "INT64";
    case GgufType::FLOAT64: return "FLOAT64";
  }
  return "?";
}

std::optional<GgufType> gguf_type_from_id(uint32_t id) {
  if (id > 12) return std::nullopt;
  return static_cast<GgufType>(id);
}

uint32_t gguf_type_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: case GgufType::ARRAY: return 0;
  }
  return 0;
}

GgufValue GgufValue::u32(uint32_t v) {
  GgufValue x;
  x.type = GgufType::UINT32;
  x.u = v;
  return x;
}
GgufValue GgufValue::i32(int32_t v) {
  GgufValue x;
  x.type = GgufType::INT32;
  x.i = v;
  return x;
}
GgufValue GgufValue::f32(float v) {
  GgufValue x;
  x.type = GgufType::FLOAT32;
  x.f = v;
  return x;
}
GgufValue GgufValue::boolean(bool v) {
  GgufValue x;
  x.type = GgufType::BOOL;
  x.u = v ? 1 : 0;
  return x;
}
GgufValue GgufValue::str(std::string v) {
  GgufValue x;
  x.type = GgufType::STRING;
  x.s = std::move(v);
  return x;
}
GgufValue GgufValue::string_array(const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = GgufType::STRING;
  x.array.reserve(v.size());
  for (const auto& s : v) x.array.push_back(str(s));
  return x;
}
GgufValue GgufValue::f32_array(const std::vector<float>& v) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = GgufType::FLOAT32;
  x.array.reserve(v.size());
  for (float f : v) x.array.push_back(f32(f));
  return x;
}
GgufValue GgufValue::i32_array(const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = GgufType::INT32;
  x.array.reserve(v.size());
  for (int32_t i : v) x.array.push_back(i32(i));
  return x;
}

std::optional<uint64_t> GgufValue::as_uint() const {
  switch (type) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      return u;
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      if (i < 0) return std::nullopt;
      return static_cast<uint64_t>(i);
    default: return std::nullopt;
  }
}

std::optional<double> GgufValue::as_float() const {
  if (type == GgufType::FLOAT32 || type == GgufType::FLOAT64) return f;
  return std::nullopt;
}

nlohmann::json GgufValue::to_json() const {
  nlohmann::json j;
  j["type"] = gguf_type_name(type);
  switch (type) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      j["value"] = u;
      break;
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      j["value"] = i;
      break;
    case GgufType::FLOAT32: case GgufType::FLOAT64: j["value"] = f; break;
    case GgufType::BOOL: j["value"] = u != 0; break;
    case GgufType::STRING:
      // GGUF strings are not guaranteed to be UTF-8; JSON output must be.
      j["value"] = sanitize_utf8(s);
      break;
    case GgufType::ARRAY: {
      j["element_type"] = gguf_type_name(array_type);
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : array) arr.push_back(e.to_json()["value"]);
      j["value"] = std::move(arr);
      break;
    }
  }
  return j;
}

}  // namespace lmforge
