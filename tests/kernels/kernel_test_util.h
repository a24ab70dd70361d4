// Shared helpers of the kernel tests: random weight matrices of every type (rows deliberately
// not 64-byte aligned, as inside a GGUF file) and a loop over every SIMD target Highway compiled
// that this CPU can run.
#pragma once

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/half.h"
#include "hwy/targets.h"
#include "kernels/matmul.h"
#include "quant/ggml_blocks.h"
#include "quant/type_traits.h"

namespace lmforge::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A weight matrix of `type` built from random floats, stored 2 bytes past a 64-byte boundary so
// that every load in the kernels is unaligned.
struct TestMatrix {
  std::vector<uint8_t> storage;
  MatrixView view;
};


inline TestMatrix make_matrix(DType type, uint64_t rows, uint64_t cols, uint32_t seed) {
  TestMatrix m;
  const size_t rb = static_cast<size_t>(*dtype_nbytes(type, cols));  // whole blocks: cols % 32 == 0
  m.storage.assign(rows * rb + 128, 0);
  uint8_t* base = m.storage.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64 + 2;
  const std::vector<float> f = random_floats(rows * cols, seed, 0.05f);
  for (uint64_t r = 0; r < rows; ++r) {
    const float* src = f.data() + r * cols;
    uint8_t* dst = base + r * rb;
    encode_row(type, src, dst, cols);  // the quant table's reference encoders
  }
  m.view = MatrixView{type, base, rows, cols, rb};
  return m;
}

inline const std::vector<DType>& kernel_types() {
  static const std::vector<DType> types = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0,
                                          DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1};
  return types;
}

// Runs `body` once per compiled target this CPU supports (EMU128, SSE4, AVX2, and AVX-512 where
// the CPU has it), with dynamic dispatch forced to that target; restores normal dispatch after.
inline void for_each_target(const std::function<void(const std::string&)>& body) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    const std::string name = hwy::TargetName(target);
    SCOPED_TRACE("target " + name);
    body(name);
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace lmforge::test
