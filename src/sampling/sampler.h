// The sampler chain of llama.cpp, with its defaults and order:
//   penalties (repeat, presence, frequency over the last n tokens) -> top-k -> typical ->
//   top-p -> min-p -> temperature -> draw with a seeded RNG.
// temperature <= 0 is greedy. Mirostat (v1 or v2) replaces the chain with
//   temperature -> mirostat, as llama.cpp does (top-k/p, typical and penalties are skipped).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <vector>

namespace lmforge {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;           // <= 0: whole vocabulary
  float top_p = 0.95f;          // 1: off
  float min_p = 0.05f;          // 0: off
  float typical_p = 1.0f;       // 1: off
  float repeat_penalty = 1.0f;  // 1: off
  int32_t repeat_last_n = 64;   // 0: off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t mirostat = 0;  // 0 off, 1 v1, 2 v2
  float mirostat_tau = 5.0f;
  float mirostat_eta = 0.1f;
  uint32_t seed = 0xFFFFFFFFu;  // 0xFFFFFFFF: random
  size_t min_keep = 0;
};

struct TokenCandidate {
  int32_t id;
  float logit;
  float p;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token from one row of logits (one per vocabulary entry).
  int32_t sample(std::span<const float> logits);
  // Records a token of the context (prompt or generated) for the penalties.
  void accept(int32_t token);
  void reset();

  const SamplingParams& params() const { return params_; }

  // The stages, public so that each can be tested on its own. Candidates are modified in place.
  void apply_penalties(std::vector<TokenCandidate>& c) const;
  static void top_k(std::vector<TokenCandidate>& c, int32_t k, size_t min_keep);
  static void typical(std::vector<TokenCandidate>& c, float p, size_t min_keep);
  static void top_p(std::vector<TokenCandidate>& c, float p, size_t min_keep);
  static void min_p(std::vector<TokenCandidate>& c, float p, size_t min_keep);
  static void temperature(std::vector<TokenCandidate>& c, float t);
  // Sorts by logit, descending, and fills p with the softmax.
  static void softmax(std::vector<TokenCandidate>& c);

 private:
  bool penalties_active() const;                 // some penalty is set and there are tokens to apply it to
  int32_t draw(std::vector<TokenCandidate>& c);  // softmax, then sample by p
  int32_t mirostat_v1(std::vector<TokenCandidate>& c);
  int32_t mirostat_v2(std::vector<TokenCandidate>& c);

  SamplingParams params_;
  std::mt19937 rng_;
  std::deque<int32_t> last_;  // the last repeat_last_n tokens
  float mu_;                  // mirostat's running surprise target
  std::vector<TokenCandidate> candidates_;  // sample()'s scratch, one per vocabulary entry
};

}  // namespace lmforge
