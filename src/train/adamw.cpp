#include "train/adamw.h"

#include <cmath>

namespace lmforge {

void adamw_step(float* param, float* m, float* v, const float* grad, size_t n, float lr, uint64_t step,
                const AdamWOptions& o) {
  // Python floats in torch: the bias corrections and the step size are doubles, then rounded to
  // float where they scale an f32 tensor.
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(step));
  const float step_size = static_cast<float>(static_cast<double>(lr) / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = static_cast<float>(1.0 - static_cast<double>(lr) * o.weight_decay);
  const float w1 = static_cast<float>(1.0 - o.beta1), w2 = static_cast<float>(1.0 - o.beta2);
  const float beta2 = static_cast<float>(o.beta2), eps = static_cast<float>(o.eps);
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    if (o.weight_decay != 0.0) param[i] *= decay;
    m[i] += w1 * (g - m[i]);           // exp_avg.lerp_(grad, 1 - beta1)
    v[i] = v[i] * beta2 + w2 * g * g;  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
    const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    param[i] += -step_size * (m[i] / denom);
  }
}

}  // namespace lmforge
