// The approximate index (retrieval/approximate_index.h, hnsw_file.h) against exact search on
// synthetic L2-normalized vectors: build time, file size, the time to open the file (checks,
// CRC-32C, structure, hnswlib's load: what one `lmforge ask` process pays before its first
// approximate search), and per ef_search the recall@10 against exact search and the query
// latency (median, p99), beside the exact scan's (dot_rows_f32 + top 10) on the same queries.
//
//   random:    points and queries uniform on the sphere (no structure: HNSW's hardest case)
//   clustered: a mixture of 1000 Gaussians (centres uniform on the sphere, each point the centre
//              plus noise of 0.6x its norm, normalized), queries drawn from the same mixture
//
// Usage: lmforge_ann_bench ROWS DIM random|clustered M EF_CONSTRUCTION THREADS QUERIES FOLDER
// (one build with THREADS threads; searches on one thread). The file stays in FOLDER, named after
// the data and parameters: a second run with the same arguments opens it instead of building
// again (the build of a million vectors takes an hour on a busy 2-core machine).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kernels/similarity.h"
#include "retrieval/approximate_index.h"
#include "retrieval/hnsw_file.h"

using namespace lmforge;
using namespace lmforge::retrieval;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void normalize(float* v, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += double{v[i]} * v[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(std::max(s, 1e-30)));
  for (size_t i = 0; i < dim; ++i) v[i] *= inv;
}

struct Synthetic {
  std::vector<float> rows, queries;
};

Synthetic make_vectors(size_t n, size_t n_queries, size_t dim, bool clustered) {
  Synthetic s;
  s.rows.resize(n * dim);
  s.queries.resize(n_queries * dim);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> nd;
  std::vector<float> centres;
  constexpr size_t kCentres = 1000;
  if (clustered) {
    centres.resize(kCentres * dim);
    for (float& v : centres) v = nd(rng);
    for (size_t c = 0; c < kCentres; ++c) normalize(centres.data() + c * dim, dim);
  }
  const float noise = 0.6f / std::sqrt(static_cast<float>(dim));
  std::uniform_int_distribution<size_t> pick(0, kCentres - 1);
  auto draw = [&](float* v) {
    if (clustered) {
      const float* c = centres.data() + pick(rng) * dim;
      for (size_t i = 0; i < dim; ++i) v[i] = c[i] + noise * nd(rng);
    } else {
      for (size_t i = 0; i < dim; ++i) v[i] = nd(rng);
    }
    normalize(v, dim);
  };
  for (size_t r = 0; r < n; ++r) draw(s.rows.data() + r * dim);
  for (size_t q = 0; q < n_queries; ++q) draw(s.queries.data() + q * dim);
  return s;
}

struct Latency {
  double median_ms, p99_ms;
};

Latency summarize(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  const size_t p99 = std::min(t.size() - 1, static_cast<size_t>(std::ceil(0.99 * t.size())) - 1);
  return {t[t.size() / 2] * 1e3, t[p99] * 1e3};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s ROWS DIM random|clustered M EF_CONSTRUCTION THREADS QUERIES FOLDER\n", argv[0]);
    return 2;
  }
  const size_t n = std::strtoull(argv[1], nullptr, 10), dim = std::strtoull(argv[2], nullptr, 10);
  const bool clustered = std::string(argv[3]) == "clustered";
  const HnswParameters params{static_cast<uint32_t>(std::atoi(argv[4])), static_cast<uint32_t>(std::atoi(argv[5]))};
  const unsigned threads = static_cast<unsigned>(std::atoi(argv[6]));
  const size_t n_queries = std::strtoull(argv[7], nullptr, 10);
  const std::string path = std::string(argv[8]) + "/ann_bench-" + argv[1] + "-" + argv[2] + "-" + argv[3] + "-" +
                           argv[4] + "-" + argv[5] + ".hnsw";
  constexpr size_t k = 10;

  auto t0 = std::chrono::steady_clock::now();
  const Synthetic data = make_vectors(n, n_queries, dim, clustered);
  std::printf("%zu x %zu %s vectors, %zu queries (made in %.1f s)\n", n, dim, argv[3], n_queries, seconds_since(t0));
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i) + 1;

  // Exact: the scan every query pays without the index, and the truth for recall.
  std::vector<std::vector<int64_t>> truth(n_queries);
  std::vector<double> exact_times;
  std::vector<float> scores(n);
  std::vector<size_t> order(n);
  for (size_t q = 0; q < n_queries; ++q) {
    t0 = std::chrono::steady_clock::now();
    dot_rows_f32(data.rows.data(), n, dim, data.queries.data() + q * dim, scores.data());
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](size_t a, size_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; });
    exact_times.push_back(seconds_since(t0));
    for (size_t i = 0; i < k; ++i) truth[q].push_back(ids[order[i]]);
  }
  const Latency exact = summarize(exact_times);
  std::printf("exact scan: median %.2f ms, p99 %.2f ms\n", exact.median_ms, exact.p99_ms);
  std::fflush(stdout);

  // A fixed stamp (the data are seeded): a file from an earlier run with these arguments is reused.
  const HnswStamp stamp{{"a" + std::string(31, '0'), 1, static_cast<uint32_t>(dim), kVectorElementF32}, n, params};
  double build_s = 0, write_s = 0;
  if (!open_hnsw_file_if_current(path, stamp)) {
  t0 = std::chrono::steady_clock::now();
  uint64_t last_report = 0;
  auto built = ApproximateIndex::build(data.rows.data(), kVectorElementF32, ids, static_cast<uint32_t>(dim), params, threads,
                                       [&](uint64_t done) {
                                         if (done - last_report >= n / 10) {
                                           last_report = done;
                                           std::fprintf(stderr, "  built %llu of %zu (%.0f s)\n",
                                                        static_cast<unsigned long long>(done), n, seconds_since(t0));
                                         }
                                       });
  build_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  write_hnsw_file(path, stamp, *built);
  write_s = seconds_since(t0);
  built.reset();
  } else {
    std::printf("reusing %s (build and write times are those of the run that made it)\n", path.c_str());
  }
  const double file_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
  std::vector<double> open_times;
  std::unique_ptr<ApproximateIndex> index;
  for (int r = 0; r < 3; ++r) {
    index.reset();
    t0 = std::chrono::steady_clock::now();
    index = open_hnsw_file_if_current(path, stamp);
    open_times.push_back(seconds_since(t0));
    if (!index) {
      std::fprintf(stderr, "the file just written did not open\n");
      return 1;
    }
  }
  std::sort(open_times.begin(), open_times.end());
  std::printf("M %u, ef_construction %u, %u threads: build %.1f s, write (fsync) %.2f s, file %.1f MB "
              "(vectors alone %.1f MB), open %.3f s (median of 3)\n",
              params.m, params.ef_construction, threads, build_s, write_s, file_mb, n * dim * 4 / 1e6, open_times[1]);
  std::printf("%8s %10s %12s %10s %14s\n", "ef", "recall@10", "median ms", "p99 ms", "vs exact (med)");
  for (size_t ef : {16, 32, 64, 128, 256}) {
    if (ef < k) continue;
    std::vector<double> times;
    size_t hits = 0;
    for (size_t q = 0; q < n_queries; ++q) {
      const std::span<const float> query(data.queries.data() + q * dim, dim);
      t0 = std::chrono::steady_clock::now();
      const auto found = index->search(query, k, ef);
      times.push_back(seconds_since(t0));
      for (const auto& f : found) hits += std::count(truth[q].begin(), truth[q].end(), f.chunk_id);
    }
    const Latency l = summarize(times);
    std::printf("%8zu %10.4f %12.3f %10.3f %13.0fx\n", ef, static_cast<double>(hits) / (n_queries * k), l.median_ms,
                l.p99_ms, exact.median_ms / l.median_ms);
  }
  return 0;
}
