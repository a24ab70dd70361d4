#include "serve/metrics.h"

#include <nlohmann/json.hpp>

namespace lmforge::serve {

namespace {

constexpr std::array<double, 12> kTtftBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
constexpr std::array<double, 11> kTpsBounds = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};

// The shortest text that reads back as the same double ("0.05", not "0.050000000000000003").
std::string number(double v) { return nlohmann::json(v).dump(); }

}  // namespace

void Histogram::observe(double v) {
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (v <= bounds_[i]) ++counts_[i];
  ++count_;
  sum_ += v;
}

std::string Histogram::render(const std::string& name) const {
  std::string out;
  for (size_t i = 0; i < bounds_.size(); ++i)
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(counts_[i]) + "\n";
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
  return out;
}

Metrics::Metrics() : ttft_(kTtftBounds), tps_(kTpsBounds) {}

void Metrics::count_request(int status) {
  std::lock_guard lock(mu_);
  ++by_status_[status];
}

void Metrics::count_tokens(uint64_t prompt, uint64_t generated) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt;
  generated_tokens_ += generated;
}

void Metrics::observe_first_token_seconds(double s) {
  std::lock_guard lock(mu_);
  ttft_.observe(s);
}

void Metrics::observe_tokens_per_second(double tps) {
  std::lock_guard lock(mu_);
  tps_.observe(tps);
}

std::string Metrics::render(const SlotGauges& g) const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP lmforge_http_requests_total HTTP requests answered, by status.\n";
  out += "# TYPE lmforge_http_requests_total counter\n";
  for (const auto& [status, n] : by_status_)
    out += "lmforge_http_requests_total{status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  out += "# HELP lmforge_prompt_tokens_total Prompt tokens evaluated for completed requests.\n";
  out += "# TYPE lmforge_prompt_tokens_total counter\n";
  out += "lmforge_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  out += "# HELP lmforge_tokens_generated_total Tokens generated for completed requests.\n";
  out += "# TYPE lmforge_tokens_generated_total counter\n";
  out += "lmforge_tokens_generated_total " + std::to_string(generated_tokens_) + "\n";
  out += "# HELP lmforge_requests_processing Requests holding a slot.\n# TYPE lmforge_requests_processing gauge\n";
  out += "lmforge_requests_processing " + std::to_string(g.processing) + "\n";
  out += "# HELP lmforge_requests_queued Requests waiting for a slot.\n# TYPE lmforge_requests_queued gauge\n";
  out += "lmforge_requests_queued " + std::to_string(g.queued) + "\n";
  out += "# HELP lmforge_slots_idle Slots without a request.\n# TYPE lmforge_slots_idle gauge\n";
  out += "lmforge_slots_idle " + std::to_string(g.idle) + "\n";
  out += "# HELP lmforge_time_to_first_token_seconds From a generation request's arrival to its first token.\n";
  out += "# TYPE lmforge_time_to_first_token_seconds histogram\n";
  out += ttft_.render("lmforge_time_to_first_token_seconds");
  out += "# HELP lmforge_tokens_per_second Each request's generation speed after its first token.\n";
  out += "# TYPE lmforge_tokens_per_second histogram\n";
  out += tps_.render("lmforge_tokens_per_second");
  return out;
}

}  // namespace lmforge::serve
