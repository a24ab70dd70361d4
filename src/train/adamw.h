// AdamW with PyTorch's semantics (torch.optim.AdamW, the single-tensor CPU path): decoupled
// weight decay applied to the parameter first, moments updated in f32, bias corrections
// computed in double from the step number, then p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps).
//
// Elementwise and in a fixed order: the result does not depend on threads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge {

// Doubles, as PyTorch's Python floats: 1 - beta is formed in double and then rounded to f32.
struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// One step of AdamW on n parameters with gradient `grad`; `step` counts this step from 1 (the
// first step after initialisation is 1).
void adamw_step(float* param, float* m, float* v, const float* grad, size_t n, float lr, uint64_t step,
                const AdamWOptions& o);

}  // namespace lmforge
