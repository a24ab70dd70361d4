// A read-only memory map of a whole input file.
//
// Readers parse straight out of the map, so tensors can be handed on without copying and
// memory use stays bounded by what is touched. The file is never written through the map.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace lmforge {

class MappedFile {
 public:
  // Throws lmforge::Error when the file cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  uint64_t size() const { return size_; }
  // The open descriptor, kept for in-kernel copies (copy_file_range) of whole tensors.
  int fd() const { return fd_; }

 private:
  MappedFile(std::string path, int fd, const uint8_t* data, uint64_t size)
      : path_(std::move(path)), fd_(fd), data_(data), size_(size) {}

  std::string path_;
  int fd_;
  const uint8_t* data_;
  uint64_t size_;
};

}  // namespace lmforge
