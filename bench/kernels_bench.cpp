// Micro-benchmark of the Highway kernels, one thread: gemv (one activation row, memory-bound)
// reported as GB/s of weights streamed, and the 512-row product (compute-bound) as GFLOP/s;
// a prompt chunk's product (128 tokens) through the integer kernels and on AMX tiles, as the
// engine would pick them (interleaved Q4_0/Q8_0, packed activations of the weights' type).
//   build-x/lmforge_kernels_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "hwy/aligned_allocator.h"
#include "kernels/amx_f16.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"
#include "kernels/interleaved.h"
#include "kernels/matmul.h"
#include "kernels/vec_ops.h"
#include "quant/ggml_blocks.h"
#include "quant/type_traits.h"

namespace lmforge {
namespace {


struct Weights {
  hwy::AlignedFreeUniquePtr<uint8_t[]> bytes;
  MatrixView view;
};

Weights make_weights(DType type, uint64_t rows, uint64_t cols) {
  Weights w;
  const size_t rb = static_cast<size_t>(*dtype_nbytes(type, cols));  // whole blocks: cols % 32 == 0
  w.bytes = hwy::AllocateAligned<uint8_t>(rows * rb + 64);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> row(cols);
  for (uint64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    uint8_t* dst = w.bytes.get() + r * rb;
    encode_row(type, row.data(), dst, cols);  // the quant table's reference encoders
  }
  w.view = MatrixView{type, w.bytes.get(), rows, cols, rb};
  return w;
}

void run_matmul(benchmark::State& state, DType type, uint64_t rows, uint64_t cols, size_t n) {
  Weights w = make_weights(type, rows, cols);
  std::vector<float> x(n * cols);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  PackedActivations p;
  p.reset(type, n, cols);
  p.pack_rows(x.data(), cols, 0, n);
  std::vector<float> y(n * rows);
  for (auto _ : state) {
    matmul_packed(w.view, p, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  if (n == 1) {
    state.counters["GB/s"] = benchmark::Counter(iters * rows * w.view.row_bytes / 1e9, benchmark::Counter::kIsRate);
  } else {
    state.counters["GFLOP/s"] = benchmark::Counter(iters * 2.0 * rows * cols * n / 1e9, benchmark::Counter::kIsRate);
  }
  state.SetLabel(matmul_target_name());
}

// One product of n tokens (a prompt chunk) as the engine runs it: on AMX tiles (amx) from the
// packed activations, or through the integer kernels; Q4_0/Q8_0 interleaved in both. Packing is
// outside the timed loop (once per product in the engine, shared by several matrices).
void run_chunk(benchmark::State& state, DType type, uint64_t rows, uint64_t cols, size_t n, bool amx) {
  if (amx && !amx_usable()) {
    state.SkipWithError("no AMX here");
    return;
  }
  Weights w = make_weights(type, rows, cols);
  std::unique_ptr<InterleavedMatrix> il;
  if (InterleavedMatrix::supports(type)) il = std::make_unique<InterleavedMatrix>(w.view);
  AmxWeights aw;
  if (il) {
    aw.interleaved = il.get();
  } else {
    aw.matrix = &w.view;
  }
  std::vector<float> x(n * cols);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  PackedActivations p;
  p.reset(type, n, cols);
  p.pack_rows(x.data(), cols, 0, n);
  AmxActivations a;
  a.reset(n, cols, amx_int8_form(aw));
  a.pack_from(p, 0, n);
  std::vector<float> y(n * rows);
  for (auto _ : state) {
    if (amx) {
      matmul_amx(aw, a, y.data(), rows, 0, rows);
    } else if (il) {
      matmul_interleaved(*il, p, y.data(), rows, 0, rows);
    } else {
      matmul_packed(w.view, p, y.data(), rows, 0, rows);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(state.iterations() * 2.0 * rows * cols * n / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(amx ? "AMX" : matmul_target_name());
}

// Generation as the engine sees it: one token against a model-sized set of weights (640 MB,
// more than the caches), so every byte comes from memory. The matrices are copies of one
// 5632 x 2048 matrix (interleaved at load for the types that have that form, as the engine
// does); the rate is of weights streamed per second of this thread's CPU time (Google
// Benchmark's default), which a loaded machine disturbs less than wall time.
void run_stream(benchmark::State& state, DType type) {
  constexpr uint64_t rows = 5632, cols = 2048;
  const Weights w = make_weights(type, rows, cols);
  const size_t copies = (size_t{640} << 20) / (rows * w.view.row_bytes) + 1;
  std::vector<std::unique_ptr<InterleavedMatrix>> il;
  std::vector<hwy::AlignedFreeUniquePtr<uint8_t[]>> plain;
  for (size_t i = 0; i < copies; ++i) {
    if (InterleavedMatrix::supports(type)) {
      il.push_back(std::make_unique<InterleavedMatrix>(w.view));
    } else {
      plain.push_back(hwy::AllocateAligned<uint8_t>(rows * w.view.row_bytes));
      std::memcpy(plain.back().get(), w.bytes.get(), rows * w.view.row_bytes);
    }
  }
  std::vector<float> x(cols);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  PackedActivations p;
  p.reset(type, 1, cols);
  p.pack_rows(x.data(), cols, 0, 1);
  std::vector<float> y(rows);
  for (auto _ : state) {
    for (size_t i = 0; i < copies; ++i) {
      if (!il.empty()) {
        matmul_interleaved(*il[i], p, y.data(), rows, 0, rows);
      } else {
        MatrixView v = w.view;
        v.data = plain[i].get();
        matmul_packed(v, p, y.data(), rows, 0, rows);
      }
      benchmark::DoNotOptimize(y.data());
    }
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(copies) * rows * w.view.row_bytes;
  state.counters["GB/s"] = benchmark::Counter(state.iterations() * bytes / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(matmul_target_name());
}

// A prompt chunk's product by an F16 matrix, one thread: the float kernels (amx false) or the
// exact three-part AMX tiles of kernels/amx_f16.h, activation packing included in both (a copy
// for the float kernels, the split into tiles for AMX), as the engine does once per product.
void run_f16_prompt(benchmark::State& state, uint64_t rows, uint64_t cols, size_t n, bool amx) {
  if (amx && !amx_usable()) return state.SkipWithError("no AMX on this CPU or kernel");
  Weights w = make_weights(DType::F16, rows, cols);
  std::vector<float> x(n * cols);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  PackedActivations p;
  AmxF16Activations a;
  std::vector<float> y(n * rows);
  for (auto _ : state) {
    if (amx) {
      a.reset(n, cols);
      a.pack_rows(x.data(), cols, 0, n);
      matmul_amx_f16(w.view, a, y.data(), rows, 0, rows);
    } else {
      p.reset(DType::F16, n, cols);
      p.pack_rows(x.data(), cols, 0, n);
      matmul_packed(w.view, p, y.data(), rows, 0, rows);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(state.iterations() * 2.0 * rows * cols * n / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// The same with model-sized weights (copies of one 5632 x 2048 matrix, 640 MB, more than the
// caches), as the engine streams them: every panel's rows come from memory.
void run_f16_prompt_stream(benchmark::State& state, size_t n, bool amx) {
  if (amx && !amx_usable()) return state.SkipWithError("no AMX on this CPU or kernel");
  constexpr uint64_t rows = 5632, cols = 2048;
  const Weights w = make_weights(DType::F16, rows, cols);
  const size_t copies = (size_t{640} << 20) / (rows * w.view.row_bytes) + 1;
  std::vector<hwy::AlignedFreeUniquePtr<uint8_t[]>> plain;
  for (size_t i = 0; i < copies; ++i) {
    plain.push_back(hwy::AllocateAligned<uint8_t>(rows * w.view.row_bytes));
    std::memcpy(plain.back().get(), w.bytes.get(), rows * w.view.row_bytes);
  }
  std::vector<float> x(n * cols);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  PackedActivations p;
  AmxF16Activations a;
  std::vector<float> y(n * rows);
  for (auto _ : state) {
    for (size_t i = 0; i < copies; ++i) {
      MatrixView v = w.view;
      v.data = plain[i].get();
      if (amx) {
        a.reset(n, cols);
        a.pack_rows(x.data(), cols, 0, n);
        matmul_amx_f16(v, a, y.data(), rows, 0, rows);
      } else {
        p.reset(DType::F16, n, cols);
        p.pack_rows(x.data(), cols, 0, n);
        matmul_packed(v, p, y.data(), rows, 0, rows);
      }
      benchmark::DoNotOptimize(y.data());
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(state.iterations() * 2.0 * copies * rows * cols * n / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void run_pack(benchmark::State& state, DType type, uint64_t cols, size_t n) {
  std::vector<float> x(n * cols, 0.5f);
  PackedActivations p;
  p.reset(type, n, cols);
  for (auto _ : state) {
    p.pack_rows(x.data(), cols, 0, n);
    benchmark::ClobberMemory();
  }
}

void run_softmax(benchmark::State& state) {
  std::vector<float> x(4096);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) * 0.1f;
  for (auto _ : state) {
    softmax_f32(x.data(), x.size());
    benchmark::ClobberMemory();
  }
}

void register_all() {
  const DType types[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0,
                         DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1};
  for (DType t : types) {
    const std::string name(dtype_name(t));
    for (uint64_t rows : {2048u, 5632u}) {
      benchmark::RegisterBenchmark(("gemv/" + name + "/" + std::to_string(rows) + "x2048").c_str(),
                                   [=](benchmark::State& s) { run_matmul(s, t, rows, 2048, 1); })
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark(("gemm512/" + name + "/2048x2048").c_str(),
                                 [=](benchmark::State& s) { run_matmul(s, t, 2048, 2048, 512); })
        ->Unit(benchmark::kMillisecond);
  }
  // 128 tokens: a prompt chunk; 16 and 8: where amx_min_tokens() puts the switch for these.
  for (size_t n : {128u, 16u, 8u}) {
    for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_1, DType::Q5_1}) {
      for (bool amx : {false, true}) {
        benchmark::RegisterBenchmark(("chunk" + std::to_string(n) + (amx ? "_amx/" : "_simd/") +
                                      std::string(dtype_name(t)) + "/2048x2048")
                                         .c_str(),
                                     [=](benchmark::State& s) { run_chunk(s, t, 2048, 2048, n, amx); })
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  for (DType t : types) {
    benchmark::RegisterBenchmark(("gen_stream/" + std::string(dtype_name(t)) + "/640MB").c_str(),
                                 [=](benchmark::State& s) { run_stream(s, t); })
        ->Unit(benchmark::kMillisecond);
  }
  for (const auto& [rows, cols] : {std::pair<uint64_t, uint64_t>{2048, 2048}, {5632, 2048}, {2048, 5632}})
    for (size_t n : {16u, 32u, 64u, 128u})
      for (bool amx : {false, true}) {
        const std::string name = std::string("f16_prompt/") + (amx ? "amx" : "float") + "/" + std::to_string(rows) +
                                 "x" + std::to_string(cols) + "/n" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { run_f16_prompt(s, rows, cols, n, amx); })
            ->Unit(benchmark::kMillisecond);
      }
  for (bool amx : {false, true})
    benchmark::RegisterBenchmark((std::string("f16_prompt_stream/") + (amx ? "amx" : "float") + "/640MB/n128").c_str(),
                                 [=](benchmark::State& s) { run_f16_prompt_stream(s, 128, amx); })
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("pack512/Q8_0/2048", [](benchmark::State& s) { run_pack(s, DType::Q8_0, 2048, 512); })
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("softmax/4096", run_softmax)->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace lmforge

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  lmforge::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
