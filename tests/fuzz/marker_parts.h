// For harnesses that feed one input to several readers: the input is cut into parts at
// "\n\x00\n" markers (a byte sequence no text file of these formats needs), so that the fuzzer
// can grow and mutate each file of a folder independently.
#pragma once

#include <optional>
#include <string_view>

namespace lmforge::fuzz {

// The next part of `rest` up to the marker (all of it when there is none), and `rest` moved
// past it; nullopt when the part is empty (the harness treats it as a missing file).
inline std::optional<std::string_view> next_marker_part(std::string_view& rest) {
  static constexpr std::string_view kMarker("\n\0\n", 3);
  const size_t at = rest.find(kMarker);
  const std::string_view part = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view() : rest.substr(at + kMarker.size());
  if (part.empty()) return std::nullopt;
  return part;
}

}  // namespace lmforge::fuzz
