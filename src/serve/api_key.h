// The API key check: "Authorization: Bearer KEY" compared in constant time (the time taken
// does not depend on where the first differing byte is, nor on the key's length beyond the
// sent value's), so the key cannot be guessed byte by byte from response times.
#pragma once

#include <string>
#include <string_view>

namespace lmforge::serve {

// True when `a` and `b` are equal; the running time depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

class ApiKeyCheck {
 public:
  explicit ApiKeyCheck(std::string key) : key_(std::move(key)) {}
  bool enabled() const { return !key_.empty(); }
  // `authorization` is the header's value ("Bearer KEY"; the scheme is case-insensitive).
  bool accepts(std::string_view authorization) const;

 private:
  std::string key_;
};

}  // namespace lmforge::serve
