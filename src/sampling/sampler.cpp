#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace lmforge {

namespace {
void sort_by_logit(std::vector<TokenCandidate>& c) {
  std::sort(c.begin(), c.end(), [](const TokenCandidate& a, const TokenCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
}

// The index of the largest of n values, the first of equals (the order sort_by_logit gives),
// skipping NaN; 0 when all are NaN. One pass: greedy decoding must not sort the vocabulary
// (32k candidates took ~2 ms a token, serial, beside the engine's parallel step).
template <class ValueAt>
size_t index_of_max(size_t n, ValueAt value) {
  size_t best = n;
  for (size_t i = 0; i < n; ++i)
    if (!std::isnan(value(i)) && (best == n || value(i) > value(best))) best = i;
  return best == n ? 0 : best;
}
}  // namespace

Sampler::Sampler(const SamplingParams& params)
    : params_(params),
      rng_(params.seed == 0xFFFFFFFFu ? std::random_device{}() : params.seed),
      mu_(2.0f * params.mirostat_tau) {}

void Sampler::reset() {
  last_.clear();
  mu_ = 2.0f * params_.mirostat_tau;
}

void Sampler::accept(int32_t token) {
  if (params_.repeat_last_n <= 0) return;
  last_.push_back(token);
  while (last_.size() > static_cast<size_t>(params_.repeat_last_n)) last_.pop_front();
}

void Sampler::softmax(std::vector<TokenCandidate>& c) {
  sort_by_logit(c);
  if (c.empty()) return;
  const float max = c.front().logit;
  double sum = 0;
  for (auto& t : c) {
    t.p = std::exp(t.logit - max);
    sum += t.p;
  }
  for (auto& t : c) t.p = static_cast<float>(t.p / sum);
}

void Sampler::apply_penalties(std::vector<TokenCandidate>& c) const {
  const auto& p = params_;
  if (!penalties_active()) return;
  std::unordered_map<int32_t, int> count;
  for (int32_t t : last_) ++count[t];
  for (auto& t : c) {
    auto it = count.find(t.id);
    if (it == count.end()) continue;
    // Repeat penalty as in CTRL / llama.cpp: shrink positive logits, grow negative ones.
    t.logit = t.logit > 0 ? t.logit / p.repeat_penalty : t.logit * p.repeat_penalty;
    t.logit -= static_cast<float>(it->second) * p.frequency_penalty + p.presence_penalty;
  }
}

void Sampler::top_k(std::vector<TokenCandidate>& c, int32_t k, size_t min_keep) {
  if (k <= 0 || c.empty()) return;
  const size_t keep = std::min(c.size(), std::max(static_cast<size_t>(k), min_keep));
  sort_by_logit(c);
  c.resize(keep);
}

void Sampler::typical(std::vector<TokenCandidate>& c, float p, size_t min_keep) {
  if (p >= 1.0f || c.empty()) return;
  softmax(c);
  double entropy = 0;
  for (const auto& t : c)
    if (t.p > 0) entropy -= t.p * std::log(t.p);
  // Keep the tokens whose surprise is closest to the expected surprise, up to mass p.
  std::vector<size_t> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> shift(c.size());
  for (size_t i = 0; i < c.size(); ++i) shift[i] = std::fabs(-std::log(c[i].p) - entropy);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return shift[a] < shift[b]; });
  double cum = 0;
  size_t last = order.size();
  for (size_t i = 0; i < order.size(); ++i) {
    cum += c[order[i]].p;
    if (cum > p && i + 1 >= min_keep) {
      last = i + 1;
      break;
    }
  }
  std::vector<TokenCandidate> kept;
  kept.reserve(last);
  for (size_t i = 0; i < last; ++i) kept.push_back(c[order[i]]);
  c.swap(kept);
}

void Sampler::top_p(std::vector<TokenCandidate>& c, float p, size_t min_keep) {
  if (p >= 1.0f || c.empty()) return;
  softmax(c);
  double cum = 0;
  size_t last = c.size();
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (cum >= p && i + 1 >= min_keep) {
      last = i + 1;
      break;
    }
  }
  c.resize(last);
}

void Sampler::min_p(std::vector<TokenCandidate>& c, float p, size_t min_keep) {
  if (p <= 0.0f || c.empty()) return;
  sort_by_logit(c);
  // p_i >= p * p_max  <=>  logit_i >= logit_max + log(p)
  const float threshold = c.front().logit + std::log(p);
  size_t keep = 0;
  while (keep < c.size() && c[keep].logit >= threshold) ++keep;
  c.resize(std::max({keep, min_keep, size_t{1}}));
}

void Sampler::temperature(std::vector<TokenCandidate>& c, float t) {
  if (t <= 0.0f) {  // greedy: only the most likely token survives (the lowest id of equals)
    if (c.empty()) return;
    // Candidates may come in any order: equal logits go to the lower id, not the earlier entry.
    size_t best = index_of_max(c.size(), [&](size_t i) { return c[i].logit; });
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i].logit == c[best].logit && c[i].id < c[best].id) best = i;
    c[0] = c[best];
    c.resize(1);
    return;
  }
  for (auto& x : c) x.logit /= t;
}

int32_t Sampler::draw(std::vector<TokenCandidate>& c) {
  softmax(c);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = u(rng_);
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (r < cum) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(c.size() - 1);
}

int32_t Sampler::mirostat_v1(std::vector<TokenCandidate>& c) {
  // Estimate the Zipf exponent s from the top m probabilities, then the k that makes the
  // expected surprise equal mu (Basu et al. 2021, Algorithm 1).
  constexpr size_t m = 100;
  softmax(c);
  const double n = static_cast<double>(c.size());
  double sum_tb = 0, sum_tt = 0;
  for (size_t i = 0; i + 1 < std::min(m, c.size()); ++i) {
    const double t = std::log(static_cast<double>(i + 2) / static_cast<double>(i + 1));
    const double b = std::log(static_cast<double>(c[i].p) / static_cast<double>(c[i + 1].p));
    sum_tb += t * b;
    sum_tt += t * t;
  }
  const double s_hat = sum_tt > 0 ? sum_tb / sum_tt : 1.0;
  const double eps = s_hat - 1.0;
  const double k = std::pow((eps * std::pow(2.0, mu_)) / (1.0 - std::pow(n, -eps)), 1.0 / s_hat);
  const int32_t kk = std::isfinite(k) ? static_cast<int32_t>(std::clamp(k, 1.0, n)) : static_cast<int32_t>(n);
  top_k(c, kk, 1);
  const int32_t idx = draw(c);
  const float surprise = -std::log2(c[static_cast<size_t>(idx)].p);
  mu_ -= params_.mirostat_eta * (surprise - params_.mirostat_tau);
  return c[static_cast<size_t>(idx)].id;
}

int32_t Sampler::mirostat_v2(std::vector<TokenCandidate>& c) {
  softmax(c);
  // Drop tokens more surprising than mu (keep at least one).
  size_t keep = 0;
  while (keep < c.size() && -std::log2(c[keep].p) <= mu_) ++keep;
  c.resize(std::max<size_t>(keep, 1));
  const int32_t idx = draw(c);
  const float surprise = -std::log2(c[static_cast<size_t>(idx)].p);
  mu_ -= params_.mirostat_eta * (surprise - params_.mirostat_tau);
  return c[static_cast<size_t>(idx)].id;
}

bool Sampler::penalties_active() const {
  const auto& p = params_;
  return !last_.empty() && (p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f);
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto& p = params_;
  // Greedy with nothing to change the logits: the argmax of the row itself, with no candidate
  // list (ids are the indices, so the first of equals is the lowest id, as below).
  if (p.temperature <= 0.0f && p.mirostat != 1 && p.mirostat != 2 && !penalties_active() && !logits.empty())
    return static_cast<int32_t>(index_of_max(logits.size(), [&](size_t i) { return logits[i]; }));
  // Kept between calls: a new vocabulary-sized list each token was a fresh mapping to fault in.
  std::vector<TokenCandidate>& c = candidates_;
  c.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  if (p.mirostat == 1 || p.mirostat == 2) {
    temperature(c, p.temperature);
    return p.mirostat == 1 ? mirostat_v1(c) : mirostat_v2(c);
  }
  apply_penalties(c);
  if (p.temperature <= 0.0f) {
    temperature(c, 0.0f);
    return c.front().id;
  }
  top_k(c, p.top_k, p.min_keep);
  typical(c, p.typical_p, p.min_keep);
  top_p(c, p.top_p, p.min_keep);
  min_p(c, p.min_p, p.min_keep);
  temperature(c, p.temperature);
  return c[static_cast<size_t>(draw(c))].id;
}

}  // namespace lmforge
