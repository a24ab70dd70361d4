#include "generate/stop_strings.h"

#include <algorithm>

namespace lmforge {

StopStringFilter::StopStringFilter(std::vector<std::string> stop_strings) {
  for (std::string& s : stop_strings)
    if (!s.empty()) stops_.push_back(std::move(s));
}

StopStringFilter::Step StopStringFilter::push(std::string_view piece) {
  Step step;
  if (stopped_) return step;
  held_.append(piece);
  // The earliest match wins: the text before it is all that may be shown.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    step.release = held_.substr(0, first);
    step.stopped = stopped_ = true;
    held_.clear();
    return step;
  }
  // Hold back the longest end of the text that is the beginning of some stop string.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(s).substr(0, n)) {
        keep = n;
        break;
      }
    }
  }
  step.release = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return step;
}

std::string StopStringFilter::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace lmforge
