// A small StepTrainer for the loop's tests: a bigram language model (logits of the next token
// = W[previous token] + b) trained with PyTorch-style AdamW, with threads. It is exact about
// what the loop must preserve across a resume: per-window gradients are computed in parallel
// and summed in window order, so the result is the same for any thread count; each step also
// draws from the run's RNG (a position left out of the loss), so a resume that lost the RNG
// state would diverge.
#pragma once

#include <atomic>
#include <cmath>
#include <thread>

#include "train/training_loop.h"

namespace lmforge::testing {

class ToyBigramTrainer : public StepTrainer {
 public:
  ToyBigramTrainer(uint32_t vocab, unsigned threads) : vocab_(vocab), threads_(threads) {}

  // Step number at which the loss is NaN (tests of the NaN stop); UINT64_MAX: never.
  uint64_t nan_at_step = UINT64_MAX;
  // Raised after this many completed steps (tests of Ctrl-C): the loop stops after that step.
  uint64_t stop_after = UINT64_MAX;
  std::atomic<bool>* stop_flag = nullptr;
  float weight_decay = 0.01f;

  // A fresh state: W and b uniform in [-0.1, 0.1) from the seed, the RNG after them.
  TrainingState initial_state(uint64_t seed) const {
    TrainingState s;
    TrainRng rng(seed);
    TrainedTensor w{"toy.w", {vocab_, vocab_}, {}, {}, {}};
    TrainedTensor b{"toy.b", {vocab_}, {}, {}, {}};
    for (auto* t : {&w, &b}) {
      const size_t n = t == &w ? size_t{vocab_} * vocab_ : vocab_;
      for (size_t i = 0; i < n; ++i) t->value.push_back(rng.uniform(-0.1f, 0.1f));
      t->adam_m.assign(n, 0.0f);
      t->adam_v.assign(n, 0.0f);
    }
    s.tensors = {std::move(w), std::move(b)};
    s.rng = rng.state();
    s.base_sha256 = "toy";
    s.data_sha256 = "toy-data";
    s.options = {{"vocab", vocab_}};
    return s;
  }

  float step(std::span<const std::span<const int32_t>> windows, float lr, TrainingState& state) override {
    ++calls;
    seen.emplace_back();
    for (const auto& w : windows) seen.back().push_back(w[0]);
    lrs.push_back(lr);

    TrainRng rng = TrainRng::from_state(state.rng);
    const size_t ctx = windows[0].size() - 1;
    const size_t skipped = static_cast<size_t>(rng.below(ctx));  // a position left out of the loss
    const size_t nw = windows.size();
    const size_t gsize = size_t{vocab_} * vocab_ + vocab_;
    std::vector<std::vector<float>> grads(nw, std::vector<float>(gsize, 0.0f));
    std::vector<double> losses(nw, 0.0);
    const auto& W = state.tensors[0].value;
    const auto& B = state.tensors[1].value;

    auto work = [&](unsigned t) {
      std::vector<double> p(vocab_);
      for (size_t i = t; i < nw; i += threads_) {
        for (size_t pos = 0; pos < ctx; ++pos) {
          if (pos == skipped) continue;
          const auto x = static_cast<size_t>(windows[i][pos]) % vocab_;
          const auto y = static_cast<size_t>(windows[i][pos + 1]) % vocab_;
          double mx = -INFINITY, sum = 0;
          for (size_t v = 0; v < vocab_; ++v) mx = std::max(mx, static_cast<double>(W[x * vocab_ + v] + B[v]));
          for (size_t v = 0; v < vocab_; ++v) sum += (p[v] = std::exp(W[x * vocab_ + v] + B[v] - mx));
          losses[i] += std::log(sum) + mx - (W[x * vocab_ + y] + B[y]);
          for (size_t v = 0; v < vocab_; ++v) {
            const float g = static_cast<float>(p[v] / sum) - (v == y ? 1.0f : 0.0f);
            grads[i][x * vocab_ + v] += g;
            grads[i][size_t{vocab_} * vocab_ + v] += g;
          }
        }
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads_; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();

    const double positions = static_cast<double>(nw * (ctx - 1));
    double loss = 0;
    for (double l : losses) loss += l;  // window order: the same for any thread count
    loss /= positions;
    if (state.step == nan_at_step) loss = NAN;
    if (!std::isfinite(loss)) return static_cast<float>(loss);

    std::vector<float> g(gsize, 0.0f);
    for (const auto& gw : grads)
      for (size_t k = 0; k < gsize; ++k) g[k] += gw[k];
    const float inv = static_cast<float>(1.0 / positions);
    const double t = static_cast<double>(state.step + 1);
    const float bc1 = static_cast<float>(1.0 - std::pow(0.9, t)), bc2 = static_cast<float>(1.0 - std::pow(0.999, t));
    size_t k = 0;
    for (auto& tensor : state.tensors)
      for (size_t j = 0; j < tensor.value.size(); ++j, ++k) {
        const float gj = g[k] * inv;
        float& p = tensor.value[j];
        float& m = tensor.adam_m[j];
        float& v = tensor.adam_v[j];
        p -= lr * weight_decay * p;
        m = 0.9f * m + 0.1f * gj;
        v = 0.999f * v + 0.001f * gj * gj;
        p -= lr * (m / bc1) / (std::sqrt(v / bc2) + 1e-8f);
      }
    state.rng = rng.state();
    if (stop_flag && state.step + 1 >= stop_after) stop_flag->store(true);
    return static_cast<float>(loss);
  }

  uint64_t calls = 0;
  std::vector<std::vector<int32_t>> seen;  // first token of each window, per step
  std::vector<float> lrs;

 private:
  uint32_t vocab_;
  unsigned threads_;
};

}  // namespace lmforge::testing
