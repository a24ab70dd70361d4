#include "formats/json_strict.h"

#include <set>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"

namespace lmforge {

nlohmann::json parse_json_strict(std::string_view text, const std::string& file, uint64_t base,
                                 JsonLimits limits) {
  if (auto bad = find_invalid_utf8(text)) fail(file, "JSON text is not valid UTF-8", base + *bad);

  // The parser callback sees every key of the object being built, innermost last, so one
  // set of seen keys per open object is enough to catch duplicates.
  std::vector<std::set<std::string>> open_objects;
  using json = nlohmann::json;
  json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        // `depth` counts the containers around this one.
        if (depth + 1 > limits.max_depth)
          fail(file, "JSON nesting is deeper than " + std::to_string(limits.max_depth) + " levels",
               base);
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string()) {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second)
            fail(file, "duplicate JSON key '" + key + "'", base);
        }
        break;
      default:
        break;
    }
    return true;
  };

  try {
    return json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and counts the bytes read so far.
    const uint64_t at = base + (e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix: the user needs the reason.
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    fail(file, "invalid JSON: " + what, at);
  } catch (const json::exception& e) {
    fail(file, std::string("invalid JSON: ") + e.what(), base);
  }
}

nlohmann::json read_json_file(const std::string& path, uint64_t max_bytes, JsonLimits limits) {
  auto mapped = MappedFile::open(path);
  if (mapped->size() > max_bytes)
    fail(path, "JSON file is " + std::to_string(mapped->size()) +
                   " bytes, more than the limit of " + std::to_string(max_bytes));
  auto b = mapped->bytes();
  return parse_json_strict({reinterpret_cast<const char*>(b.data()), b.size()}, path, 0, limits);
}

}  // namespace lmforge
