// Llama 3 rope scaling: the per-frequency divisors of the rotary angles that config.json's
// `rope_scaling: {rope_type: "llama3", factor, low_freq_factor, high_freq_factor,
// original_max_position_embeddings}` implies, in the form llama.cpp stores them (the
// `rope_freqs.weight` tensor, head_dim / 2 floats) and ggml's RoPE reads (angle_i / factor_i).
//
// For frequency i (base^(-2i/head_dim)) with wavelength w = 2 pi / freq and the original
// context L: w < L / high_freq_factor keeps 1; w > L / low_freq_factor gets `factor`; between
// them s = (L / w - low_freq_factor) / (high_freq_factor - low_freq_factor) gives
// 1 / ((1 - s) / factor + s). Same rule as transformers' _compute_llama3_parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"

namespace lmforge {

// The head_dim / 2 divisors. Throws lmforge::Error naming `file` when the parameters cannot
// describe a scaling (factor <= 0, high_freq_factor <= low_freq_factor, ...).
std::vector<float> llama3_rope_freq_factors(const Llama3RopeScaling& s, float rope_theta, uint32_t head_dim,
                                            const std::string& file);

}  // namespace lmforge
