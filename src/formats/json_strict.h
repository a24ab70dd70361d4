// JSON parsing for headers and config files from untrusted inputs.
//
// nlohmann::json silently keeps one value of a duplicated key and accepts any nesting depth;
// both are refused here, because two readers that pick different duplicates see different
// models, and deep nesting only exists to attack parsers. Every failure is an lmforge::Error
// naming the file and the absolute byte offset (the parser's position when it knows one,
// else the start of the JSON text).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lmforge {

struct JsonLimits {
  int max_depth = 64;  // nesting of objects and arrays; the top-level value is depth 1
};

// `base` is the absolute file offset of text[0]. The text must be valid UTF-8 (checked).
nlohmann::json parse_json_strict(std::string_view text, const std::string& file, uint64_t base,
                                 JsonLimits limits = {});

// Reads a whole JSON file (at most `max_bytes`) with parse_json_strict.
nlohmann::json read_json_file(const std::string& path, uint64_t max_bytes = 64u << 20,
                              JsonLimits limits = {});

}  // namespace lmforge
