// One GPTQ-quantized linear, decoded from its checkpoint tensors into plain arrays: the integer
// codes, the true zero points (the v1 "minus one" already undone), the scales and the group of
// every input. The reader (formats/gptq_linear) builds it after checking every tensor; the
// engine's kernel form (kernels/gptq_form.h) and the GGUF conversion read it.
//
// Orientation follows nn.Linear (out rows, in columns), not the checkpoint's transposed [K, N].
// Weight (o, i) = scale[g][o] * (code[o][i] - zero[g][o]) with g = g_idx[i].
#pragma once

#include <cstdint>
#include <vector>

namespace lmforge {

struct GptqMatrix {
  uint64_t out = 0, in = 0;     // N outputs (rows), K inputs (columns)
  int bits = 4;                 // 2, 3, 4 or 8
  uint32_t groups = 0;          // G
  std::vector<uint8_t> codes;   // [out][in], each < 2^bits
  std::vector<uint16_t> zeros;  // [groups][out], true zero points, 0 .. 2^bits
  std::vector<float> scales;    // [groups][out], finite
  std::vector<uint32_t> g_idx;  // [in], each < groups

  uint8_t code(uint64_t o, uint64_t i) const { return codes[o * in + i]; }
  float scale(uint32_t g, uint64_t o) const { return scales[uint64_t{g} * out + o]; }
  int zero(uint32_t g, uint64_t o) const { return zeros[uint64_t{g} * out + o]; }

  // Row o as floats (`in` values): the weights exactly as a float32 dequantizer computes them.
  void dequantize_row(uint64_t o, float* row) const;
  // True when g_idx[i] == i / group_size for every input (no act-order gather needed).
  bool sequential_groups(uint64_t group_size) const;
  // Reorders the output rows: new row r is old row old_row(r) (the RoPE order of q/k in GGUF).
  template <class F>
  void reorder_outputs(F old_row);
};

template <class F>
void GptqMatrix::reorder_outputs(F old_row) {
  std::vector<uint8_t> c(codes.size());
  std::vector<uint16_t> z(zeros.size());
  std::vector<float> s(scales.size());
  for (uint64_t r = 0; r < out; ++r) {
    const uint64_t from = old_row(r);
    for (uint64_t i = 0; i < in; ++i) c[r * in + i] = codes[from * in + i];
    for (uint64_t g = 0; g < groups; ++g) {
      z[g * out + r] = zeros[g * out + from];
      s[g * out + r] = scales[g * out + from];
    }
  }
  codes.swap(c);
  zeros.swap(z);
  scales.swap(s);
}

}  // namespace lmforge
