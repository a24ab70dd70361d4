#include "cli/training_report.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace lmforge::cli {

int training_stopped_status(const TrainingResult& r, const std::string& data, const std::string& out, bool talk) {
  if (r.nan_stopped) throw Error(data, "training stopped: the loss became NaN or infinite");
  if (r.interrupted) {
    if (talk) std::fprintf(stderr, "lmforge: interrupted; %s not written\n", out.c_str());
    return 130;
  }
  return 0;
}

void print_training_summary(const TrainingState& state, const TrainingResult& r, const std::string& out, bool json) {
  if (json) {
    nlohmann::json j = {{"steps", state.step}, {"loss", state.losses}, {"tokens_per_s", r.tokens_per_s}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::fprintf(stderr, "lmforge: %llu steps, %.1f tokens/s; wrote %s\n", static_cast<unsigned long long>(state.step),
                 r.tokens_per_s, out.c_str());
  }
  if (std::fflush(stdout) != 0) throw Error("<stdout>", "cannot write the output");
}

}  // namespace lmforge::cli
