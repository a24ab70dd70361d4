#include "train/checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/atomic_output.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "train/checkpoint_format.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

// The one name a complete checkpoint has; temporaries are `checkpoint.gguf.lmforge-tmp-*`.
constexpr const char* kFileName = "checkpoint.gguf";

std::string errno_text() { return std::strerror(errno); }

std::string checkpoint_path(const std::string& dir) { return (fs::path(dir) / kFileName).string(); }

// Closes a descriptor on every path out of save_checkpoint.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// Makes the rename itself durable: the directory entry reaches the disk.
void sync_directory(const std::string& dir) {
  Descriptor d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0) fail(dir, "cannot open the checkpoint folder to sync it: " + errno_text());
  if (::fsync(d.fd) != 0) fail(dir, "cannot sync the checkpoint folder: " + errno_text());
}

std::string first_difference(const nlohmann::json& saved, const nlohmann::json& current) {
  for (auto it = saved.begin(); it != saved.end(); ++it) {
    if (!current.contains(it.key())) return it.key() + " " + it.value().dump() + " (not set on this command line)";
    if (current.at(it.key()) != it.value())
      return it.key() + " " + it.value().dump() + ", this command line " + current.at(it.key()).dump();
  }
  for (auto it = current.begin(); it != current.end(); ++it)
    if (!saved.contains(it.key())) return it.key() + " (not in the checkpoint), this command line " + it.value().dump();
  return {};
}

}  // namespace

void save_checkpoint(const std::string& dir, const TrainingState& state) {
  const std::string final_path = checkpoint_path(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, "cannot create the checkpoint folder: " + ec.message());
  // Temporaries of writers killed mid-write (their lock is free) would only take space.
  remove_stale_temporaries(dir);

  // Built (and checked) before any file exists, so an inconsistent state leaves nothing behind.
  const GgufWriter writer = checkpoint_gguf(state, final_path);

  std::string temp = final_path + ".lmforge-tmp-XXXXXX";
  Descriptor out{::mkostemp(temp.data(), O_CLOEXEC)};
  if (out.fd < 0) fail(final_path, "cannot create a temporary checkpoint file: " + errno_text());
  // The lock tells remove_stale_temporaries (of another process) that this writer is alive.
  while (::flock(out.fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  ::fchmod(out.fd, 0644);
  try {
    writer.write_to_descriptor(out.fd, temp);
    if (::fsync(out.fd) != 0) fail(temp, "cannot flush the checkpoint to disk: " + errno_text());
  } catch (...) {
    ::unlink(temp.c_str());  // the previous checkpoint stays as it was
    throw;
  }
  if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    fail(final_path, "cannot move the new checkpoint into place: " + why);
  }
  sync_directory(dir);
}

std::optional<TrainingState> load_latest_checkpoint(const std::string& dir) {
  const std::string path = checkpoint_path(dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (ec) fail(path, "cannot look for a checkpoint: " + ec.message());
    return std::nullopt;
  }
  const auto file = MappedFile::open(path);
  return decode_checkpoint(file->bytes(), path);
}

std::string checkpoint_file(const std::string& dir) { return checkpoint_path(dir); }

void check_resume_compatible(const TrainingState& saved, const TrainingState& current, const std::string& dir) {
  const std::string where = checkpoint_path(dir);
  if (saved.base_sha256 != current.base_sha256)
    fail(where, "cannot resume: the checkpoint was made with another base model (sha256 " + saved.base_sha256 +
                    ", this one " + current.base_sha256 + ")");
  if (saved.data_sha256 != current.data_sha256)
    fail(where, "cannot resume: the checkpoint was made with another data file (sha256 " + saved.data_sha256 +
                    ", this one " + current.data_sha256 + ")");
  const std::string diff = first_difference(saved.options, current.options);
  if (!diff.empty()) fail(where, "cannot resume: the checkpoint was made with other options: " + diff);
}

}  // namespace lmforge
