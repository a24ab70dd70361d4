#include "gptq/settings_check.h"

#include <string>

#include "core/error.h"
#include "gptq/decoder_layer_f32.h"
#include "quant/gptq_packing.h"

namespace lmforge {

void check_gptq_settings(const LlamaConfig& c, const GptqSettings& s) {
  if (!gptq_bits_supported(s.bits))
    throw UsageError("--bits " + std::to_string(s.bits) + " is not a GPTQ width; use 2, 3, 4 or 8");
  if (s.group_size == 0 || s.group_size < -1)
    throw UsageError("--group-size must be -1 (one group per row) or a positive number of columns, got " +
                     std::to_string(s.group_size));
  // The calibration forward (decoder_layer_f32) has no attention biases: refuse rather than
  // calibrate on activations the model does not produce.
  if (c.attention_bias) throw UsageError("GPTQ of a model with attention biases (" + c.architecture + ") is not supported");
  if (!(s.damp > 0.0 && s.damp < 1.0)) throw UsageError("--damp must be between 0 and 1 (a fraction of the mean diagonal)");
  const char* names[kSlotCount] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  for (int i = 0; i < kSlotCount; ++i) {
    const auto [n, k] = linear_shape(c, static_cast<LinearSlot>(i));
    if (s.group_size > 0 && k % static_cast<uint64_t>(s.group_size) != 0)
      throw UsageError("--group-size " + std::to_string(s.group_size) + " does not divide the " + std::to_string(k) +
                       " input columns of " + names[i] + "; choose a divisor of every linear's input width, or -1");
    if (!gptq_packs_evenly(k, s.bits) || !gptq_packs_evenly(n, s.bits))
      throw UsageError("--bits " + std::to_string(s.bits) + ": " + names[i] + " (" + std::to_string(n) + " x " +
                       std::to_string(k) + ") does not pack into whole 32-bit words");
  }
}

}  // namespace lmforge
