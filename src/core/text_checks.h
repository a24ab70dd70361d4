// Strict UTF-8 validation for strings read from untrusted files.
//
// JSON and protobuf strings are required to be UTF-8, but parsers differ in how much they
// check; validating explicitly means a malformed name is refused the same way everywhere.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lmforge {

// Index of the first byte that is not part of well-formed UTF-8 (overlong forms, surrogates
// and code points above U+10FFFF are all ill-formed), or nullopt when `s` is valid.
std::optional<size_t> find_invalid_utf8(std::string_view s);

inline bool is_valid_utf8(std::string_view s) {
  return !find_invalid_utf8(s).has_value();
}

// True when `s` contains an ASCII control character (U+0000..U+001F or U+007F). Names with
// them are refused: a NUL hides the rest of a name from C-string code, and newlines or escape
// sequences make listings lie.
bool has_control_char(std::string_view s);

// `s` quoted for an error message: control characters and bytes that are not UTF-8 become
// \xNN escapes, so a hostile name cannot garble the terminal.
std::string quoted_for_message(std::string_view s);
// The same escaping without the quotes, for listings (inspect's tables).
std::string escaped_for_display(std::string_view s);

// `s` with every ill-formed UTF-8 sequence replaced by U+FFFD, for JSON output.
std::string sanitize_utf8(std::string_view s);

}  // namespace lmforge
