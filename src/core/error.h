// One error type for every failure that reaches the user.
//
// The CLI prints it as `lmforge: error: FILE: what is wrong (at byte N)`, so every reader
// reports the file it was reading and, where it knows it, the byte offset of the problem.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace lmforge {

class Error : public std::runtime_error {
 public:
  Error(std::string file, std::string what, std::optional<uint64_t> offset = std::nullopt);

  const std::string& file() const { return file_; }
  const std::string& message() const { return message_; }
  std::optional<uint64_t> offset() const { return offset_; }

 private:
  std::string file_;
  std::string message_;
  std::optional<uint64_t> offset_;
};

// A mistake in how the program was called (bad flag value, missing argument): exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& file, const std::string& what,
                       std::optional<uint64_t> offset = std::nullopt);

}  // namespace lmforge
