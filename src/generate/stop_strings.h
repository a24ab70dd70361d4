// Stop strings (an OpenAI request's "stop"): generation ends where one of them appears in the
// text, and neither it nor anything after it is shown.
//
// Text arrives in pieces, and a stop string can be split across them ("\n\nUs" + "er:"), so
// the filter holds back the end of the text while it could still be the beginning of a stop
// string and releases it once it cannot. A match can therefore never start in text already
// released.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

class StopStringFilter {
 public:
  // Empty strings are ignored (they would match everywhere).
  explicit StopStringFilter(std::vector<std::string> stop_strings);

  struct Step {
    std::string release;  // text that is certain to be shown
    bool stopped = false;  // a stop string was found; `release` ends where it began
  };
  // Adds a piece of text. After a step that stopped, the filter takes nothing more.
  Step push(std::string_view piece);

  // The text still held back, released when generation ends for another reason.
  std::string flush();

  bool active() const { return !stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace lmforge
