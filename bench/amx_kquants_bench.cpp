// Single-thread CPU time of one K-quant weight product with a prompt chunk, three ways: the
// integer K-quant kernel (matmul_packed), the bf16 hi+lo AMX tiles (matmul_amx) and the INT8
// AMX tiles (matmul_amx_kquants); each best of `reps`, alternating, so that a loaded machine
// shifts all three alike. CPU time, not wall time: other processes' share does not count.
//   build/bench/lmforge_amx_kquants_bench [rows cols tokens reps]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/amx_kquants.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"
#include "kernels/matmul.h"
#include "quant/ggml_blocks.h"
#include "quant/type_traits.h"

namespace {

double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

template <typename F>
double time_ms(F&& f) {
  const double t0 = cpu_ms();
  f();
  return cpu_ms() - t0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lmforge;
  const uint64_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2048;
  const uint64_t cols = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2048;
  const size_t n = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 128;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 5;
  if (!amx_usable()) {
    std::printf("no AMX here\n");
    return 0;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n * cols);
  for (auto& v : x) v = dist(rng);
  std::printf("%llu x %llu weights, %zu tokens, one thread, CPU ms (best of %d)\n", (unsigned long long)rows,
              (unsigned long long)cols, n, reps);
  std::printf("type  integer  amx-bf16  amx-int8  (pack bf16 / int8)\n");
  for (DType type : {DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const size_t rb = static_cast<size_t>(*dtype_nbytes(type, cols));
    std::vector<uint8_t> bytes(rows * rb);
    std::vector<float> row(cols);
    for (uint64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = 0.05f * dist(rng);
      encode_row(type, row.data(), bytes.data() + r * rb, cols);
    }
    const MatrixView w{type, bytes.data(), rows, cols, rb};
    PackedActivations p;
    p.reset(type, n, cols);
    p.pack_rows(x.data(), cols, 0, n);
    AmxActivations bf16;
    AmxKquantActivations int8;
    std::vector<float> y(n * rows);
    AmxWeights aw;
    aw.matrix = &w;
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
    for (int i = 0; i < reps; ++i) {
      best[0] = std::min(best[0], time_ms([&] { matmul_packed(w, p, y.data(), rows, 0, rows); }));
      best[3] = std::min(best[3], time_ms([&] {
                           bf16.reset(n, cols);
                           bf16.pack_from(p, 0, n);
                         }));
      best[1] = std::min(best[1], time_ms([&] { matmul_amx(aw, bf16, y.data(), rows, 0, rows); }));
      best[4] = std::min(best[4], time_ms([&] {
                           int8.reset(n, cols);
                           int8.pack_from(p, 0, n);
                         }));
      best[2] = std::min(best[2], time_ms([&] { matmul_amx_kquants(w, int8, y.data(), rows, 0, rows); }));
    }
    const std::string name(dtype_name(type));
    std::printf("%s  %7.2f  %8.2f  %8.2f  (%.2f / %.2f)\n", name.c_str(), best[0], best[1], best[2], best[3],
                best[4]);
  }
  return 0;
}
