#include "core/atomic_output.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace lmforge {

namespace fs = std::filesystem;

namespace {
constexpr size_t kBufferSize = 8u << 20;  // large writes keep syscall overhead negligible

std::string errno_text() { return std::strerror(errno); }

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
  std::string tmpl = destination_ + ".lmforge-tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) fail(destination_, "cannot create temporary output file: " + errno_text());
  temp_path_ = buf.data();
  ::fchmod(fd_, 0644);
  buffer_.reserve(kBufferSize);
}

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
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(destination_, "close failed: " + errno_text());
  }
  fd_ = -1;
  rename_into_place(temp_path_, destination_, overwrite_);
  committed_ = true;
}

AtomicOutputDir::AtomicOutputDir(std::string destination, bool overwrite)
    : destination_(std::move(destination)), overwrite_(overwrite) {
  while (destination_.size() > 1 && destination_.back() == '/') destination_.pop_back();
  check_output_path(destination_, overwrite_);
  std::string tmpl = destination_ + ".lmforge-tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) fail(destination_, "cannot create temporary output directory: " + errno_text());
  temp_dir_ = buf.data();
  ::chmod(temp_dir_.c_str(), 0755);
}

AtomicOutputDir::~AtomicOutputDir() {
  if (!committed_ && !temp_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
  }
}

void AtomicOutputDir::commit() {
  rename_into_place(temp_dir_, destination_, overwrite_);
  committed_ = true;
}

}  // namespace lmforge
