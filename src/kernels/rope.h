// Rotary position embedding (RoPE) in ggml's NORM mode, the layout of llama GGUF files (and its
// NEOX mode, below, for qwen2 files): each
// head of `head_dim` values is rotated pairwise, (x[2i], x[2i+1]) by the angle
// p * base^(-2i/head_dim), where p is the position divided by the linear scaling factor.
//
// Two forms with one contract: the reference computes the angles per call and is the
// specification; the fast form computes one position's cos/sin table once (rope_angles) and
// applies it to every head of Q and K (rope_apply_f32), which is what a batch needs. Both
// compute the angle in double (a float angle loses the low bits that decide cos and sin at
// large positions) and rotate in float. They differ only in how the position is scaled (divided
// by the factor, or multiplied by its inverse), at most one rounding of the angle.
//
// `freq_factors` (Llama 3 rope scaling; null: none) holds head_dim / 2 divisors, one per pair:
// angle i is divided by freq_factors[i], as ggml's rope does with its `rope_freqs` tensor.
#pragma once

#include <cstddef>

namespace lmforge {

// Rotates `n_heads` heads of `head_dim` values stored back to back in x, in place.
void rope_norm_ref(float* x, size_t n_heads, size_t head_dim, double pos, float base, float scale_factor,
                   const float* freq_factors = nullptr);

// cos and sin of the head_dim / 2 angles of position `pos`, into cos_out and sin_out.
void rope_angles(double pos, size_t head_dim, float base, float scale_factor, float* cos_out, float* sin_out,
                 const float* freq_factors = nullptr);

// Rotates `n_heads` heads of `head_dim` values (back to back in x) by the angles of one
// position, as rope_angles() wrote them.
void rope_apply_f32(float* x, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in);

// NEOX mode (Qwen2 GGUFs, whose Q/K rows keep Hugging Face's rotate_half order): pair i is
// (x[i], x[i + head_dim / 2]) instead of (x[2i], x[2i + 1]); same angles. The reference
// computes its angles, the fast form takes rope_angles()'s table.
void rope_neox_ref(float* x, size_t n_heads, size_t head_dim, double pos, float base, float scale_factor,
                   const float* freq_factors = nullptr);
void rope_apply_neox_f32(float* x, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in);

}  // namespace lmforge
