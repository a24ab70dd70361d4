// Progress reporting for long work (conversions, training): one log line per item on stderr,
// and on a terminal a bar on the last line that the log lines scroll above. Silent when quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lmforge {

class Progress {
 public:
  // `total` in the unit update() receives: bytes (the bar shows MB and MB/s) when `count_unit`
  // is empty, else a count of things the bar shows as "done/total count_unit" ("steps").
  Progress(uint64_t total, bool quiet, std::string count_unit = {});
  ~Progress();

  void log(const std::string& line);  // a line that stays
  void update(uint64_t done);         // redraws the bar (terminal only, at most ~10 times/s)
  void finish();                      // clears the bar

 private:
  void draw();
  void clear();

  uint64_t total_;
  uint64_t done_ = 0;
  bool quiet_;
  bool terminal_;
  bool bar_shown_ = false;
  std::string count_unit_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace lmforge
