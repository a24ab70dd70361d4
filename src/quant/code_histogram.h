// The 16-bucket histogram of a quantized tensor's codes that the old llama.cpp quantize printed
// per tensor (`quantize --hist`): how the 4-bit codes of Q4_0, Q4_1 and Q4_K spread over 0..15,
// which shows at a glance a scale that is too large (codes crowd the middle) or too small
// (codes pile up at the ends). The 5-bit types Q5_0 and Q5_1 are bucketed by their top four
// bits so that they read on the same 16-bucket scale.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/dtype.h"

namespace lmforge {

using CodeHistogram = std::array<uint64_t, 16>;

// True for the types code_histogram() counts.
bool has_code_histogram(DType type);

// Counts the codes of `n_elements` elements (a multiple of the type's block size) stored in
// `data` as `type`; nullopt for types without a 16-bucket code (has_code_histogram false).
std::optional<CodeHistogram> code_histogram(DType type, const uint8_t* data, uint64_t n_elements);

}  // namespace lmforge
