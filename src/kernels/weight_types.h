// The weight types the matrix kernels multiply, one row per type, and how the kernels read it.
//
// This is the kernels' own counterpart of the quant layer's codec table (quant/type_traits.h):
// a type the quant table can decode is not necessarily one the forward pass can run, since
// running it needs its SIMD products and their scalar twins too. matmul_ref_supports(),
// matmul_supports(), PackedActivations and InterleavedMatrix::supports() all ask this table, so
// the set of runnable types is written once. The per-type choice of SIMD code stays a switch
// inside each product (a compile-time template per type, outside the inner loops).
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace lmforge {

// What pack_rows() makes of the activations for weights of a type.
enum class ActivationForm : uint8_t {
  kFloats,      // float rows (F32, F16, BF16 weights: the product is a float dot product)
  kInt8Blocks,  // 8-bit blocks of 32 with a scale and a sum each (Q8_0, Q4_0, Q5_0: an integer dot)
  // The same blocks with llama.cpp's Q8_1 sums: d * (sum of the codes) rounded to fp16, which
  // Q4_1/Q5_1 multiply by their minimum (llama.cpp rounds it so, and the fixtures' probabilities
  // follow that rounding closely: see tests/oracles/check_llama_probs_q32.py).
  kInt8BlocksScaledSums,
  kInt8SuperBlocks,  // 8-bit blocks of 256 with a scale and 16-code sums (llama.cpp's Q8_K: K-quants)
};

struct KernelWeightType {
  DType type;
  ActivationForm activations;
  bool interleaved;  // regrouped at load by InterleavedMatrix for its faster products
};

// The row of `t`; nullptr when the kernels cannot multiply weights of that type.
const KernelWeightType* kernel_weight_type(DType t);

// The names of every type the kernels multiply, in table order ("F32, F16, ..."), for errors.
std::string kernel_weight_type_names();

}  // namespace lmforge
