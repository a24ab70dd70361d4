// Making untrusted strings (vocabulary pieces, metadata) safe to emit as JSON.
#pragma once

#include <string>
#include <string_view>

namespace lmforge {

// `s` with every ill-formed sequence replaced by U+FFFD, for display and JSON output.
std::string sanitize_utf8(std::string_view s);

}  // namespace lmforge
