#include "core/atomic_output.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/error.h"

namespace lmforge {

namespace fs = std::filesystem;

namespace {
constexpr size_t kBufferSize = 8u << 20;  // large writes keep syscall overhead negligible

constexpr std::string_view kTempMarker = ".lmforge-tmp-";
std::atomic<bool> g_unnamed_allowed{true};

std::string errno_text() { return std::strerror(errno); }

std::string directory_of(const std::string& path) {
  std::error_code ec;
  return fs::absolute(path, ec).parent_path().string();
}

// An unnamed file in `dir`, or -1 where that cannot be had: the filesystem lacks O_TMPFILE, or
// /proc/self/fd, through which an unprivileged process links the file at commit, is missing.
int open_unnamed(const std::string& dir) {
  if (!g_unnamed_allowed.load() || ::access("/proc/self/fd", X_OK) != 0) return -1;
  return ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
}

// Gives the unnamed file behind `fd` the name `path`; fails with EEXIST when `path` exists.
bool link_unnamed(int fd, const std::string& path) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  return ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0;
}

// A named temporary `base.lmforge-tmp-XXXXXX` (a file, or a directory), locked with flock(2) so
// that remove_stale_temporaries() leaves it alone; returns the descriptor holding the lock, or
// -1 with errno set. A cleaner may remove the new name between its creation and the lock: the
// name is then checked to still be the locked file, and another one made if not.
int create_locked_temporary(const std::string& base, bool directory, std::string& path) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string tmpl = base + std::string(kTempMarker) + "XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = -1;
    if (directory) {
      if (!::mkdtemp(buf.data())) return -1;
      fd = ::open(buf.data(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
      fd = ::mkostemp(buf.data(), O_CLOEXEC);
    }
    if (fd < 0) return -1;
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(buf.data(), &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino) {
      path = buf.data();
      return fd;
    }
    ::close(fd);
  }
  errno = EAGAIN;
  return -1;
}

// Move `from` to `to`; without `overwrite` the rename fails if `to` appeared meanwhile.
void rename_into_place(const std::string& from, const std::string& to, bool overwrite) {
  if (!overwrite) {
#ifdef RENAME_NOREPLACE
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EEXIST) fail(to, "already exists (use --force to overwrite)");
    if (errno != EINVAL && errno != ENOSYS) fail(to, "cannot rename output into place: " + errno_text());
#endif
    std::error_code ec;
    if (fs::exists(to, ec)) fail(to, "already exists (use --force to overwrite)");
  } else {
    std::error_code ec;
    if (fs::is_directory(to, ec) && fs::is_directory(from, ec)) fs::remove_all(to, ec);
  }
  if (::rename(from.c_str(), to.c_str()) != 0) fail(to, "cannot rename output into place: " + errno_text());
}
}  // namespace

void check_output_path(const std::string& destination, bool overwrite) {
  std::error_code ec;
  if (fs::exists(destination, ec) && !overwrite)
    fail(destination, "already exists (use --force to overwrite)");
  fs::path parent = fs::absolute(destination, ec).parent_path();
  if (!fs::is_directory(parent, ec)) fail(destination, "output directory does not exist");
}

AtomicOutputFile::AtomicOutputFile(std::string destination, bool overwrite)
    : destination_(std::move(destination)), overwrite_(overwrite) {
  check_output_path(destination_, overwrite_);
  const std::string dir = directory_of(destination_);
  remove_stale_temporaries(dir);
  fd_ = open_unnamed(dir);
  unnamed_ = fd_ >= 0;
  if (!unnamed_) {
    fd_ = create_locked_temporary(destination_, false, temp_path_);
    if (fd_ < 0) fail(destination_, "cannot create temporary output file: " + errno_text());
  }
  ::fchmod(fd_, 0644);  // as cp would make it, whatever the umask of O_TMPFILE/mkstemp
  buffer_.reserve(kBufferSize);
}

void AtomicOutputFile::set_unnamed_allowed_for_testing(bool allowed) { g_unnamed_allowed = allowed; }

AtomicOutputFile::AtomicOutputFile(int fd, std::string label)
    : destination_(std::move(label)), overwrite_(false), fd_(fd), borrowed_fd_(true) {
  buffer_.reserve(kBufferSize);
}

AtomicOutputFile::~AtomicOutputFile() {
  if (borrowed_fd_) return;
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicOutputFile::flush_buffer() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(destination_, "write failed: " + errno_text());
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicOutputFile::write(std::span<const uint8_t> data) {
  if (committed_) fail(destination_, "internal error: write after commit");
  written_ += data.size();
  if (buffer_.size() + data.size() <= kBufferSize) {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
    return;
  }
  flush_buffer();
  if (data.size() >= kBufferSize) {  // big tensors go straight through
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(destination_, "write failed: " + errno_text());
      }
      done += static_cast<size_t>(n);
    }
  } else {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
  }
}

void AtomicOutputFile::write_tensor(const TensorBytes& data) {
  const MappedFile* file = data.file();
  if (file && data.size() >= (1u << 20)) {
    flush_buffer();
    off64_t in_off = static_cast<off64_t>(data.file_offset());
    uint64_t left = data.size();
    while (left > 0) {
      ssize_t n = ::copy_file_range(file->fd(), &in_off, fd_, nullptr, left, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // unsupported here (EXDEV, ENOSYS, ...): finish with write()
      left -= static_cast<uint64_t>(n);
    }
    written_ += data.size() - left;
    if (left > 0) write(data.bytes().subspan(data.size() - left));
  } else {
    write(data.bytes());
  }
  data.release_file_pages();
}

void AtomicOutputFile::write_zeros(uint64_t n) {
  static const uint8_t zeros[4096] = {};
  while (n > 0) {
    uint64_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    write({zeros, static_cast<size_t>(k)});
    n -= k;
  }
}

void AtomicOutputFile::commit() {
  flush_buffer();
  if (borrowed_fd_) {
    committed_ = true;
    return;
  }
  if (durable_ && ::fsync(fd_) != 0) fail(destination_, "fsync failed: " + errno_text());
  // The name appears while the descriptor (and a named temporary's lock) is still held, so no
  // cleaner can take the file for a dead writer's.
  if (unnamed_) {
    link_into_place();
  } else {
    rename_into_place(temp_path_, destination_, overwrite_);
  }
  committed_ = true;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {  // a deferred write error (NFS): the output is not what was written
    const std::string why = errno_text();
    ::unlink(destination_.c_str());
    fail(destination_, "close failed: " + why);
  }
}

void AtomicOutputFile::link_into_place() {
  if (!overwrite_) {
    if (link_unnamed(fd_, destination_)) return;
    if (errno == EEXIST) fail(destination_, "already exists (use --force to overwrite)");
    fail(destination_, "cannot link output into place: " + errno_text());
  }
  // Replacing: link under a fresh temporary name, then rename over the destination (atomic).
  for (unsigned attempt = 0; attempt < 64; ++attempt) {
    const std::string staged = destination_ + std::string(kTempMarker) + std::to_string(::getpid()) + "-" +
                               std::to_string(attempt);
    if (link_unnamed(fd_, staged)) {
      if (::rename(staged.c_str(), destination_.c_str()) == 0) return;
      const std::string why = errno_text();
      ::unlink(staged.c_str());
      fail(destination_, "cannot rename output into place: " + why);
    }
    if (errno != EEXIST) fail(destination_, "cannot link output into place: " + errno_text());
  }
  fail(destination_, "cannot link output into place: no free temporary name");
}

AtomicOutputDir::AtomicOutputDir(std::string destination, bool overwrite)
    : destination_(std::move(destination)), overwrite_(overwrite) {
  while (destination_.size() > 1 && destination_.back() == '/') destination_.pop_back();
  check_output_path(destination_, overwrite_);
  remove_stale_temporaries(directory_of(destination_));
  lock_fd_ = create_locked_temporary(destination_, true, temp_dir_);
  if (lock_fd_ < 0) fail(destination_, "cannot create temporary output directory: " + errno_text());
  ::chmod(temp_dir_.c_str(), 0755);
}

AtomicOutputDir::~AtomicOutputDir() {
  if (!committed_ && !temp_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void AtomicOutputDir::commit() {
  rename_into_place(temp_dir_, destination_, overwrite_);  // still locked: see AtomicOutputFile::commit
  committed_ = true;
  ::close(lock_fd_);
  lock_fd_ = -1;
}

size_t remove_stale_temporaries(const std::string& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path path = it->path();
    if (path.filename().string().find(kTempMarker) == std::string::npos) continue;
    // O_NOFOLLOW: a symlink with our marker is never followed into a deletion.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &st) == 0) {
      std::error_code rm;
      if (S_ISDIR(st.st_mode) ? fs::remove_all(path, rm) > 0 : fs::remove(path, rm)) ++removed;
    }
    ::close(fd);
  }
  return removed;
}

}  // namespace lmforge
