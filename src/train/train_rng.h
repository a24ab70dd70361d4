// The one random number generator of training (adapter initialisation, data shuffling,
// anything stochastic): xoshiro256** with its whole state in four words, so a checkpoint
// stores it and a resumed run draws exactly the numbers the uninterrupted run would have.
//
// Never std::mt19937 + std::uniform_*_distribution: the distributions are not specified bit
// for bit across standard libraries, and resume must be bit-identical.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace lmforge {

class TrainRng {
 public:
  using State = std::array<uint64_t, 4>;

  // Seeds the four words from `seed` with splitmix64 (never all zero).
  explicit TrainRng(uint64_t seed = 0);
  static TrainRng from_state(const State& state);

  const State& state() const { return s_; }

  uint64_t next_u64();
  // Uniform in [0, 1) with 24 random bits (exact in f32).
  float next_unit_float();
  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * next_unit_float(); }
  // Uniform in [0, n) without modulo bias; n >= 1.
  uint64_t below(uint64_t n);

 private:
  State s_{};
};

// A permutation of 0 .. n-1 drawn by Fisher-Yates from TrainRng(seed): the same for the same
// (n, seed) on every machine. Training shuffles epoch e with seed mix_seed(user_seed, e).
std::vector<uint32_t> shuffled_order(uint32_t n, uint64_t seed);
// A seed for a sub-stream (an epoch's order, a tensor's initialisation) from a base seed and
// a stream number; distinct streams give unrelated sequences.
uint64_t mix_seed(uint64_t seed, uint64_t stream);

}  // namespace lmforge
