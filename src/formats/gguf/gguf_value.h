// GGUF metadata values: the thirteen value types of the spec, arrays included.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

std::string_view gguf_type_name(GgufType t);
std::optional<GgufType> gguf_type_from_id(uint32_t id);
// Encoded size of one element of a fixed-size type; 0 for STRING and ARRAY.
uint32_t gguf_type_size(GgufType t);

struct GgufValue {
  GgufType type = GgufType::UINT8;
  GgufType array_type = GgufType::UINT8;  // element type when type == ARRAY
  uint64_t u = 0;      // UINT*, BOOL
  int64_t i = 0;       // INT*
  double f = 0;        // FLOAT32 (exactly representable) and FLOAT64
  std::string s;       // STRING
  std::vector<GgufValue> array;

  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue str(std::string v);
  static GgufValue string_array(const std::vector<std::string>& v);
  static GgufValue f32_array(const std::vector<float>& v);
  static GgufValue i32_array(const std::vector<int32_t>& v);

  // Typed reads for hyperparameters; nullopt when the value has another type.
  std::optional<uint64_t> as_uint() const;
  std::optional<double> as_float() const;

  // {"type": ..., "value": ...}, arrays with "element_type"; used by inspect --json.
  nlohmann::json to_json() const;
  bool operator==(const GgufValue&) const = default;
};

struct GgufKv {
  std::string key;
  GgufValue value;
};

}  // namespace lmforge
