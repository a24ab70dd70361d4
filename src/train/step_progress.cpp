#include "train/step_progress.h"

#include <unistd.h>

#include <cstdio>

namespace lmforge {

StepProgress::StepProgress(uint64_t total_steps, bool quiet)
    : total_(total_steps), quiet_(quiet), terminal_(!quiet && ::isatty(STDERR_FILENO)) {}

StepProgress::~StepProgress() { finish(); }

void StepProgress::clear() {
  if (bar_shown_) {
    std::fputs("\r\033[2K", stderr);
    bar_shown_ = false;
  }
}

void StepProgress::log(const std::string& line) {
  if (quiet_) return;
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  if (terminal_) draw();
}

void StepProgress::update(uint64_t steps_done) {
  done_ = steps_done;
  if (!terminal_) return;
  clear();
  draw();
}

void StepProgress::draw() {
  constexpr uint64_t kWidth = 40;
  const uint64_t filled = total_ ? (done_ >= total_ ? kWidth : done_ * kWidth / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "[%s] %llu/%llu steps", bar.c_str(), static_cast<unsigned long long>(done_),
               static_cast<unsigned long long>(total_));
  std::fflush(stderr);
  bar_shown_ = true;
}

void StepProgress::finish() { clear(); }

}  // namespace lmforge
