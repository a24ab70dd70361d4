// STREAM-style copy bandwidth (a[i] = b[i] over arrays far larger than the last-level cache),
// for the generation roofline in bench/engine_bench.py: generating one token reads every
// weight once, so bytes of weights / memory bandwidth bounds tokens per second.
//
// Usage: lmforge_stream_copy [--threads T] [--mib M] [--reps R] [--json]
// Each of T threads copies its own contiguous slice (first touched by that thread, so the
// pages sit where it runs). Bandwidth counts 2 bytes moved per byte copied (one read, one
// write), STREAM's convention; the best repetition is reported, as STREAM does, plus the
// median.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  unsigned threads = 1;
  size_t mib = 512;  // per array; far beyond any LLC this runs on
  unsigned reps = 10;
  bool json = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "lmforge_stream_copy: %s\nusage: lmforge_stream_copy [--threads T] [--mib M] [--reps R] [--json]\n", why);
  std::exit(2);
}

unsigned long parse_number(const char* flag, const char* text, unsigned long lo, unsigned long hi) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (!*text || *end || v < lo || v > hi) usage((std::string(flag) + " is out of range").c_str());
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    if (a == "--threads") o.threads = static_cast<unsigned>(parse_number("--threads", argv[++i], 1, 256));
    else if (a == "--mib") o.mib = parse_number("--mib", argv[++i], 1, 1 << 16);
    else if (a == "--reps") o.reps = static_cast<unsigned>(parse_number("--reps", argv[++i], 1, 1000));
    else usage(("unknown argument " + a).c_str());
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const size_t n = o.mib * 1024 * 1024 / sizeof(double);
  // new[] without value-initialisation: the pages are first touched by the thread that copies them.
  std::unique_ptr<double[]> a(new double[n]), b(new double[n]);
  std::vector<double> seconds;
  std::barrier sync(static_cast<std::ptrdiff_t>(o.threads) + 1);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < o.threads; ++t) {
    pool.emplace_back([&, t] {
      const size_t lo = n * t / o.threads, hi = n * (t + 1) / o.threads;
      for (size_t i = lo; i < hi; ++i) {
        a[i] = static_cast<double>(i);
        b[i] = 0;
      }
      sync.arrive_and_wait();  // initialised
      for (unsigned r = 0; r < o.reps; ++r) {
        sync.arrive_and_wait();  // start together
        std::memcpy(b.get() + lo, a.get() + lo, (hi - lo) * sizeof(double));
        sync.arrive_and_wait();  // all done
      }
    });
  }
  sync.arrive_and_wait();
  for (unsigned r = 0; r < o.reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (auto& th : pool) th.join();
  if (b[n - 1] != static_cast<double>(n - 1)) {
    std::fprintf(stderr, "lmforge_stream_copy: the copy is wrong\n");
    return 1;
  }
  const double bytes = 2.0 * static_cast<double>(n) * sizeof(double);
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double best = bytes / sorted.front() / 1e9, median = bytes / sorted[sorted.size() / 2] / 1e9;
  if (o.json)
    std::printf("{\"threads\": %u, \"mib_per_array\": %zu, \"reps\": %u, \"best_gb_per_s\": %.3f, \"median_gb_per_s\": %.3f}\n",
                o.threads, o.mib, o.reps, best, median);
  else
    std::printf("copy, %u threads, 2 x %zu MiB: best %.2f GB/s, median %.2f GB/s\n", o.threads, o.mib, best, median);
  return 0;
}
