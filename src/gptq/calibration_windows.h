// GPTQ calibration windows from a text, as the issue fixes them: the text is tokenized once
// (with BOS when the vocabulary adds one), cut into consecutive non-overlapping windows of
// `seqlen` tokens (the partial tail dropped), the first `nsamples` windows kept, and each
// window's first token replaced by BOS (as perplexity does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lmforge {

struct CalibrationWindows {
  std::vector<std::vector<int32_t>> windows;
  uint64_t text_tokens = 0;
  uint64_t available = 0;  // whole windows the text holds (before --nsamples)
};

// `tokens`: the whole text's ids; `bos_id` < 0 keeps each window's first token. Throws
// lmforge::Error naming `file` when the text is shorter than one window.
CalibrationWindows cut_calibration_windows(const std::vector<int32_t>& tokens, int32_t bos_id, uint32_t seqlen,
                                           uint32_t nsamples, const std::string& file);

}  // namespace lmforge
