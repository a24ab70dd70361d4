// Single-thread speed of the row decoders to F32: the reference (quant/type_traits decode_row,
// the scalar twin) and the SIMD decoder (kernels/decode_rows decode_row_fast), in G weights/s,
// for every block type, on 16 x 2048 panels (the weight panel the prompt path decodes per
// product) cut from a 512 x 2048 matrix of random normal weights quantized by the reference
// encoders, plus a bit comparison of their outputs. Timed in thread CPU time (so that other
// load on a shared machine counts less), best of `reps` passes over the matrix.
// Usage: lmforge_decode_rows_bench [reps [TYPE]]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "kernels/decode_rows.h"
#include "quant/type_traits.h"

using namespace lmforge;

namespace {

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best weights/s over `reps` runs of `run`, which decodes `n` weights.
template <class F>
double weights_per_s(size_t n, int reps, F&& run) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = thread_seconds();
    run();
    best = std::max(best, static_cast<double>(n) / (thread_seconds() - t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const auto only = argc > 2 ? dtype_from_name(argv[2]) : std::nullopt;
  constexpr size_t rows = 512, cols = 2048, panel_rows = 16, n = rows * cols;
  std::vector<float> x(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  for (float& v : x) v = nd(rng);
  std::vector<float> panel_ref(panel_rows * cols), panel_fast(panel_rows * cols);
  std::printf("single thread, 16 x %zu panels, G weights/s (thread CPU time, best of %d)\n", cols, reps);
  std::printf("%-5s %10s %10s %8s %13s %s\n", "type", "reference", "fast", "speedup", "us per panel", "floats");
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    if (only && *only != t) continue;
    const size_t row_bytes = *dtype_nbytes(t, cols);
    std::vector<uint8_t> w(rows * row_bytes);
    for (size_t i = 0; i < rows; ++i) encode_row(t, &x[i * cols], w.data() + i * row_bytes, cols);
    // Decode every 16-row panel of the matrix into the same panel buffer (as a product would).
    auto decode_all = [&](auto&& decode, std::vector<float>& panel) {
      for (size_t p = 0; p < rows; p += panel_rows)
        for (size_t i = 0; i < panel_rows; ++i) decode(t, w.data() + (p + i) * row_bytes, panel.data() + i * cols, cols);
    };
    bool same = true;
    for (size_t p = 0; p < rows && same; p += panel_rows) {  // every panel compared bit for bit
      for (size_t i = 0; i < panel_rows; ++i) {
        decode_row(t, w.data() + (p + i) * row_bytes, panel_ref.data() + i * cols, cols);
        decode_row_fast(t, w.data() + (p + i) * row_bytes, panel_fast.data() + i * cols, cols);
      }
      same = std::memcmp(panel_ref.data(), panel_fast.data(), panel_ref.size() * sizeof(float)) == 0;
    }
    const double r = weights_per_s(n, reps, [&] { decode_all(decode_row, panel_ref); });
    const double f = weights_per_s(n, reps, [&] { decode_all(decode_row_fast, panel_fast); });
    std::printf("%-5s %10.2f %10.2f %7.1fx %13.2f %s%s\n", std::string(dtype_name(t)).c_str(), r / 1e9, f / 1e9, f / r,
                1e6 * panel_rows * cols / f, same ? "identical" : "DIFFER",
                has_fast_decoder(t) ? "" : " (no fast decoder: reference)");
  }
}
