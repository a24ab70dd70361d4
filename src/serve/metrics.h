// The server's Prometheus metrics (GET /metrics, text format 0.0.4): requests by status,
// prompt and generated tokens, the three unlabelled gauges lmforge_requests_processing,
// lmforge_requests_queued and lmforge_slots_idle (read from the scheduler when scraped), and
// histograms of time to first token and of each request's generation speed.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lmforge::serve {

class Histogram {
 public:
  template <size_t N>
  explicit Histogram(const std::array<double, N>& bounds) : bounds_(bounds.begin(), bounds.end()), counts_(N, 0) {}
  void observe(double v);
  // "name_bucket{le=...} n" lines (cumulative), then _sum and _count.
  std::string render(const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct SlotGauges {
  uint32_t processing = 0, queued = 0, idle = 0;
};

class Metrics {
 public:
  Metrics();
  void count_request(int status);
  void count_tokens(uint64_t prompt, uint64_t generated);
  void observe_first_token_seconds(double s);
  void observe_tokens_per_second(double tps);
  std::string render(const SlotGauges& gauges) const;

 private:
  mutable std::mutex mu_;
  std::map<int, uint64_t> by_status_;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0;
  Histogram ttft_, tps_;
};

}  // namespace lmforge::serve
