#include "core/error.h"

namespace lmforge {

namespace {
std::string format_error(const std::string& file, const std::string& what,
                         std::optional<uint64_t> offset) {
  std::string s;
  if (!file.empty()) s += file + ": ";
  s += what;
  if (offset) s += " (at byte " + std::to_string(*offset) + ")";
  return s;
}
}  // namespace

Error::Error(std::string file, std::string what, std::optional<uint64_t> offset)
    : std::runtime_error(format_error(file, what, offset)),
      file_(std::move(file)),
      message_(std::move(what)),
      offset_(offset) {}

void fail(const std::string& file, const std::string& what, std::optional<uint64_t> offset) {
  throw Error(file, what, offset);
}

}  // namespace lmforge
