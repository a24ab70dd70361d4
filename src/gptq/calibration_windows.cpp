#include "gptq/calibration_windows.h"

#include <algorithm>

#include "core/error.h"

namespace lmforge {

CalibrationWindows cut_calibration_windows(const std::vector<int32_t>& tokens, int32_t bos_id, uint32_t seqlen,
                                           uint32_t nsamples, const std::string& file) {
  CalibrationWindows out;
  out.text_tokens = tokens.size();
  out.available = seqlen == 0 ? 0 : tokens.size() / seqlen;
  if (out.available == 0)
    fail(file, "the calibration text has " + std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                   std::to_string(seqlen) + " (--seqlen)");
  const uint64_t n = std::min<uint64_t>(out.available, nsamples);
  for (uint64_t w = 0; w < n; ++w) {
    std::vector<int32_t> win(tokens.begin() + static_cast<std::ptrdiff_t>(w * seqlen),
                             tokens.begin() + static_cast<std::ptrdiff_t>((w + 1) * seqlen));
    if (bos_id >= 0) win[0] = bos_id;
    out.windows.push_back(std::move(win));
  }
  return out;
}

}  // namespace lmforge
