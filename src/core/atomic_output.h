// Output files that appear only when complete.
//
// Data goes to a temporary file beside the destination (same directory, so the final rename
// is atomic); commit() flushes and renames it into place (and fsyncs first when durable). If commit() is never reached
// (an error, an exception, Ctrl-C handled by unwinding) the temporary is removed and the
// destination is untouched. An existing destination is refused unless `overwrite` is set.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lmforge {

class AtomicOutputFile {
 public:
  AtomicOutputFile(std::string destination, bool overwrite);
  // Writes into `fd`, an open, empty descriptor the caller owns and keeps (an anonymous
  // in-memory file): no temporary file, no rename; commit() only flushes. `label` names the
  // output in error messages.
  AtomicOutputFile(int fd, std::string label);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  void write(std::span<const uint8_t> data);
  void write(const void* data, size_t n) { write({static_cast<const uint8_t*>(data), n}); }
  void write_zeros(uint64_t n);
  // Writes a tensor's bytes; a view of a mapped file is copied file-to-file by the kernel
  // (copy_file_range), like cp, and its mapped pages are released afterwards.
  void write_tensor(const TensorBytes& data);
  uint64_t position() const { return written_; }
  void commit();
  // fsync before the rename, for durability across power loss (costs several seconds per GB).
  void set_durable(bool durable) { durable_ = durable; }

  const std::string& destination() const { return destination_; }

 private:
  void flush_buffer();

  std::string destination_;
  std::string temp_path_;
  bool overwrite_;
  int fd_ = -1;
  bool committed_ = false;
  bool durable_ = false;
  bool borrowed_fd_ = false;  // fd_ belongs to the caller
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;
};

// The same for a directory of outputs (a Hugging Face folder): files are created inside
// temp_dir() and the directory is renamed into place by commit().
class AtomicOutputDir {
 public:
  AtomicOutputDir(std::string destination, bool overwrite);
  ~AtomicOutputDir();
  AtomicOutputDir(const AtomicOutputDir&) = delete;
  AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;

  const std::string& temp_dir() const { return temp_dir_; }
  void commit();

 private:
  std::string destination_;
  std::string temp_dir_;
  bool overwrite_;
  bool committed_ = false;
};

// Refuse to write over an existing path unless `overwrite`; also refuses a destination that
// is one of the inputs (never modify an input).
void check_output_path(const std::string& destination, bool overwrite);

}  // namespace lmforge
