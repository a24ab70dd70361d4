// Exact vector search's kernel against the memory it must read: dot_rows_f32 (SIMD), its scalar
// twin, and a plain read of the same bytes (64-bit XOR with four accumulators, the floor any
// scan of the matrix pays), on N x DIM random normalized f32 matrices far larger than the
// caches (100k x 384 = 154 MB, 100k x 768 = 307 MB by default). One thread, wall time, median
// of `reps` passes; the ratio fast / read is what issue 11 asks to keep <= 1.5.
// Usage: lmforge_search_bench [reps [rows]]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/similarity.h"

using namespace lmforge;

namespace {

template <class F>
double median_seconds(int reps, F&& run) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

uint64_t read_all(const float* p, size_t n_floats) {
  const auto* q = reinterpret_cast<const uint64_t*>(p);
  const size_t n = n_floats / 2;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a ^= q[i];
    b ^= q[i + 1];
    c ^= q[i + 2];
    d ^= q[i + 3];
  }
  for (; i < n; ++i) a ^= q[i];
  return a ^ b ^ c ^ d;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const size_t rows = argc > 2 ? static_cast<size_t>(std::atoll(argv[2])) : 100000;
  std::printf("one thread, %zu rows, median of %d passes (wall time)\n", rows, reps);
  std::printf("%5s %8s %10s %10s %10s %9s %12s\n", "dim", "MB", "read ms", "fast ms", "scalar ms", "fast/read", "fast GB/s");
  for (size_t dim : {384, 768}) {
    std::vector<float> m(rows * dim), q(dim), scores(rows);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    for (float& v : m) v = nd(rng);
    for (float& v : q) v = nd(rng);
    volatile uint64_t sink = 0;
    const double t_read = median_seconds(reps, [&] { sink = sink ^ read_all(m.data(), m.size()); });
    const double t_fast = median_seconds(reps, [&] { dot_rows_f32(m.data(), rows, dim, q.data(), scores.data()); });
    const double t_scalar = median_seconds(std::max(1, reps / 3), [&] { dot_rows_f32_scalar(m.data(), rows, dim, q.data(), scores.data()); });
    const double mb = static_cast<double>(m.size() * sizeof(float)) / 1e6;
    std::printf("%5zu %8.1f %10.2f %10.2f %10.2f %9.2f %12.2f\n", dim, mb, 1e3 * t_read, 1e3 * t_fast, 1e3 * t_scalar,
                t_fast / t_read, mb / 1e3 / t_fast);
  }
  return 0;
}
