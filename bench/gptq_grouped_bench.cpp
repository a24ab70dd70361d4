// Single-thread micro-benchmark of the TinyLlama-1.1B shape's linears (22 layers of q, k, v, o,
// gate, up, down; 968 M weights, more than the caches hold) as interleaved Q4_0 (the Q4_0
// GGUF's form) and as the grouped GPTQ 4-bit g128 form, passes alternating: one token
// (generation, memory-bound) by default, or a batch of `tokens` (prompt, compute-bound; use
// fewer layers). Reports per pass the median wall and thread CPU time and the weight bytes
// streamed per second; CPU time is the steadier number on a loaded machine.
//   build/bench/lmforge_gptq_grouped_bench [passes] [layers] [tokens]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "core/half.h"
#include "kernels/gptq_grouped.h"
#include "kernels/interleaved.h"
#include "quant/ggml_blocks.h"

namespace lmforge {
namespace {

struct Shape {
  uint64_t rows, cols;
};

std::vector<Shape> tinyllama_linears(int layers) {
  std::vector<Shape> s;
  for (int l = 0; l < layers; ++l) {
    for (Shape x : {Shape{2048, 2048}, Shape{256, 2048}, Shape{256, 2048}, Shape{2048, 2048}, Shape{5632, 2048},
                    Shape{5632, 2048}, Shape{2048, 5632}})
      s.push_back(x);
  }
  return s;
}

std::unique_ptr<InterleavedMatrix> random_q4_0(Shape s, std::mt19937& rng) {
  const uint64_t nb = s.cols / kQK;
  std::vector<uint8_t> bytes(s.rows * nb * kQ4_0BlockBytes);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
  for (uint64_t i = 0; i < s.rows * nb; ++i) {
    const uint16_t d = fp32_to_fp16(0.01f);
    std::memcpy(&bytes[i * kQ4_0BlockBytes], &d, 2);
  }
  return std::make_unique<InterleavedMatrix>(MatrixView{DType::Q4_0, bytes.data(), s.rows, s.cols, nb * kQ4_0BlockBytes});
}

std::unique_ptr<GptqGroupedMatrix> random_grouped(Shape s, std::mt19937& rng) {
  GptqMatrix m;
  m.out = s.rows;
  m.in = s.cols;
  m.bits = 4;
  m.groups = static_cast<uint32_t>(s.cols / 128);
  m.codes.resize(s.rows * s.cols);
  std::uniform_int_distribution<int> code(0, 15);
  for (auto& c : m.codes) c = static_cast<uint8_t>(code(rng));
  m.zeros.assign(m.groups * s.rows, 7);
  m.scales.assign(m.groups * s.rows, 0.01f);
  m.g_idx.resize(s.cols);
  for (uint64_t i = 0; i < s.cols; ++i) m.g_idx[i] = static_cast<uint32_t>(i / 128);
  return std::make_unique<GptqGroupedMatrix>(m);
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Pass {
  double wall, cpu;
};

template <class F>
Pass timed(F f) {
  const auto w0 = std::chrono::steady_clock::now();
  const double c0 = thread_cpu_seconds();
  f();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count(), thread_cpu_seconds() - c0};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(int passes, int layers, size_t n) {
  const std::vector<Shape> shapes = tinyllama_linears(layers);
  std::mt19937 rng(1);
  std::vector<std::unique_ptr<InterleavedMatrix>> q4;
  std::vector<std::unique_ptr<GptqGroupedMatrix>> gg;
  uint64_t q4_bytes = 0, gg_bytes = 0, max_cols = 0, max_rows = 0;
  for (Shape s : shapes) {
    q4.push_back(random_q4_0(s, rng));
    gg.push_back(random_grouped(s, rng));
    q4_bytes += s.rows * s.cols / kQK * kQ4_0BlockBytes;
    gg_bytes += gg.back()->bytes();
    max_cols = std::max(max_cols, s.cols);
    max_rows = std::max(max_rows, s.rows);
  }
  std::vector<float> x(n * max_cols), y(n * max_rows);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  PackedActivations p2048, p5632;
  p2048.reset(DType::Q4_0, n, 2048);
  p2048.pack_rows(x.data(), 2048, 0, n);
  p5632.reset(DType::Q4_0, n, 5632);
  p5632.pack_rows(x.data(), 5632, 0, n);
  auto packed = [&](uint64_t cols) -> const PackedActivations& { return cols == 2048 ? p2048 : p5632; };
  std::vector<double> qw, qc, gw, gc;
  for (int pass = 0; pass <= passes; ++pass) {  // pass 0 warms up
    const Pass a = timed([&] {
      for (size_t i = 0; i < shapes.size(); ++i) matmul_interleaved(*q4[i], packed(shapes[i].cols), y.data(), max_rows, 0, shapes[i].rows);
    });
    const Pass b = timed([&] {
      for (size_t i = 0; i < shapes.size(); ++i) matmul_gptq_grouped(*gg[i], packed(shapes[i].cols), y.data(), max_rows, 0, shapes[i].rows);
    });
    if (pass == 0) continue;
    qw.push_back(a.wall), qc.push_back(a.cpu), gw.push_back(b.wall), gc.push_back(b.cpu);
  }
  std::printf("%-22s %10s %10s %10s %10s\n", "form", "MB", "wall ms", "cpu ms", "GB/s(cpu)");
  std::printf("%-22s %10.1f %10.2f %10.2f %10.2f\n", "Q4_0 interleaved", q4_bytes / 1e6, 1e3 * median(qw), 1e3 * median(qc),
              q4_bytes / 1e9 / median(qc));
  std::printf("%-22s %10.1f %10.2f %10.2f %10.2f\n", "GPTQ grouped g128", gg_bytes / 1e6, 1e3 * median(gw), 1e3 * median(gc),
              gg_bytes / 1e9 / median(gc));
  std::printf("grouped / Q4_0 time: wall %.3f, cpu %.3f (bytes %.3f)\n", median(gw) / median(qw), median(gc) / median(qc),
              static_cast<double>(gg_bytes) / static_cast<double>(q4_bytes));
  return 0;
}

}  // namespace
}  // namespace lmforge

int main(int argc, char** argv) {
  const int passes = argc > 1 ? std::atoi(argv[1]) : 9;
  const int layers = argc > 2 ? std::atoi(argv[2]) : 22;
  const size_t tokens = argc > 3 ? static_cast<size_t>(std::atoi(argv[3])) : 1;
  return lmforge::run(passes, layers, tokens);
}
