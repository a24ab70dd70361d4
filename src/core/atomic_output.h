// Output files that appear only when complete.
//
// Data goes to an unnamed file in the destination's directory (O_TMPFILE): it has no name
// until commit() links it into place, so however the process ends (an error, Ctrl-C, kill -9,
// a power cut) nothing is left behind, not even a temporary. Where the filesystem cannot make
// unnamed files (or /proc is missing, which linking one needs without privileges), a named
// temporary `DEST.lmforge-tmp-XXXXXX` beside the destination is used instead, held under an
// flock(2) lock while it is written; every new output first removes the temporaries of ours in
// its directory whose lock nobody holds, i.e. those whose writer died (remove_stale_temporaries).
// commit() flushes (and fsyncs first when durable) and links or renames the file into place. An
// existing destination is refused unless `overwrite` is set.
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
  // True when the data goes to an unnamed (O_TMPFILE) file, false for a named temporary.
  bool unnamed() const { return unnamed_; }

  // Tests force the named-temporary fallback to exercise it on filesystems that have O_TMPFILE.
  static void set_unnamed_allowed_for_testing(bool allowed);

 private:
  void flush_buffer();
  void link_into_place();

  std::string destination_;
  std::string temp_path_;  // the named temporary; empty for an unnamed file
  bool unnamed_ = false;
  bool overwrite_;
  int fd_ = -1;
  bool committed_ = false;
  bool durable_ = false;
  bool borrowed_fd_ = false;  // fd_ belongs to the caller
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;
};

// The same for a directory of outputs (a Hugging Face folder): files are created inside
// temp_dir(), a named temporary directory held under an flock(2) lock (directories cannot be
// unnamed), and the directory is renamed into place by commit().
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
  int lock_fd_ = -1;  // holds the lock that marks temp_dir_ as in use
  bool overwrite_;
  bool committed_ = false;
};

// Removes the `*.lmforge-tmp-*` files and folders in `dir` that a killed lmforge left behind:
// those whose flock(2) lock nobody holds (a live writer holds its lock until it commits).
// Returns how many were removed; errors (permissions, races with other cleaners) are ignored.
size_t remove_stale_temporaries(const std::string& dir);

// Refuse to write over an existing path unless `overwrite`; also refuses a destination that
// is one of the inputs (never modify an input).
void check_output_path(const std::string& destination, bool overwrite);

}  // namespace lmforge
