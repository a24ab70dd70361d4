// What a training run shows while it runs: one line per step on stderr and, on a terminal, a
// bar of steps done on the last line that the step lines scroll above. Silent when quiet
// (--json). core/progress.h draws bars of bytes; this one counts steps.
#pragma once

#include <cstdint>
#include <string>

namespace lmforge {

class StepProgress {
 public:
  StepProgress(uint64_t total_steps, bool quiet);
  ~StepProgress();
  StepProgress(const StepProgress&) = delete;
  StepProgress& operator=(const StepProgress&) = delete;

  void log(const std::string& line);  // a line that stays (nothing when quiet)
  void update(uint64_t steps_done);   // redraws the bar (terminal only)
  void finish();                      // clears the bar

 private:
  void draw();
  void clear();

  uint64_t total_;
  uint64_t done_ = 0;
  bool quiet_;
  bool terminal_;
  bool bar_shown_ = false;
};

}  // namespace lmforge
