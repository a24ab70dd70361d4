#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

namespace lmforge {

Progress::Progress(uint64_t total, bool quiet, std::string count_unit)
    : total_(total), quiet_(quiet), terminal_(!quiet && ::isatty(STDERR_FILENO)), count_unit_(std::move(count_unit)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::clear() {
  if (bar_shown_) {
    std::fputs("\r\033[2K", stderr);
    bar_shown_ = false;
  }
}

void Progress::log(const std::string& line) {
  if (quiet_) return;
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  if (terminal_) draw();
}

void Progress::update(uint64_t done) {
  done_ = done;
  if (!terminal_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  clear();
  draw();
}

void Progress::draw() {
  constexpr int kWidth = 40;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double mb = static_cast<double>(done_) / 1e6;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  if (count_unit_.empty()) {
    std::fprintf(stderr, "[%s] %5.1f%%  %.1f MB  %.1f MB/s", bar.c_str(), frac * 100.0, mb,
                 secs > 0 ? mb / secs : 0.0);
  } else {
    std::fprintf(stderr, "[%s] %llu/%llu %s", bar.c_str(), static_cast<unsigned long long>(done_),
                 static_cast<unsigned long long>(total_), count_unit_.c_str());
  }
  std::fflush(stderr);
  bar_shown_ = true;
}

void Progress::finish() { clear(); }

}  // namespace lmforge
