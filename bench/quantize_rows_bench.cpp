// Single-thread speed of the row encoders: the reference (quant/type_traits encode_row, the
// scalar twin) and the SIMD encoder (kernels/quantize_rows encode_row_fast) on the same 512 x
// 2048 f16-rounded normal floats, in Melem/s, plus a byte comparison of their outputs. Also the
// F16 -> F32 row decode that feeds them. Usage: lmforge_quantize_rows_bench [reps [TYPE]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "kernels/decode_rows.h"
#include "kernels/quantize_rows.h"
#include "quant/type_traits.h"

using namespace lmforge;

namespace {

template <class F>
double melem_per_s(size_t n, int reps, F&& run) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n) / s / 1e6);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  constexpr size_t rows = 512, cols = 2048, n = rows * cols;
  std::vector<float> x(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) {
    h[i] = fp32_to_fp16(nd(rng));
    x[i] = fp16_to_fp32(h[i]);
  }
  std::vector<uint8_t> ref(n * 2), fast(n * 2);
  std::vector<float> y(cols);
  const double f16 = melem_per_s(n, reps, [&] {
    for (size_t r = 0; r < rows; ++r) decode_row(DType::F16, reinterpret_cast<const uint8_t*>(&h[r * cols]), y.data(), cols);
  });
  const double f16_fast = melem_per_s(n, reps, [&] {
    for (size_t r = 0; r < rows; ++r) decode_row_fast(DType::F16, reinterpret_cast<const uint8_t*>(&h[r * cols]), y.data(), cols);
  });
  std::printf("F16 decode: reference %8.1f Melem/s, fast %8.1f Melem/s\n", f16, f16_fast);
  const auto only = argc > 2 ? dtype_from_name(argv[2]) : std::nullopt;
  std::printf("%-5s %10s %10s %8s %s\n", "type", "reference", "fast", "speedup", "bytes");
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::Q5_K, DType::Q8_0, DType::Q4_0, DType::Q2_K, DType::Q3_K,
                  DType::Q4_1, DType::Q5_0, DType::Q5_1}) {
    if (only && *only != t) continue;
    const size_t row_bytes = *dtype_nbytes(t, cols);
    const double r = melem_per_s(n, reps, [&] {
      for (size_t i = 0; i < rows; ++i) encode_row(t, &x[i * cols], ref.data() + i * row_bytes, cols);
    });
    const double f = melem_per_s(n, reps, [&] {
      for (size_t i = 0; i < rows; ++i) encode_row_fast(t, &x[i * cols], fast.data() + i * row_bytes, cols);
    });
    const bool same = std::equal(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(rows * row_bytes), fast.begin());
    std::printf("%-5s %10.1f %10.1f %7.2fx %s%s\n", std::string(dtype_name(t)).c_str(), r, f, f / r,
                same ? "identical" : "DIFFER", has_fast_encoder(t) ? "" : " (no fast encoder: reference)");
  }
}
