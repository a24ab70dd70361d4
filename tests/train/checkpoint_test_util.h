// Training states for the checkpoint tests: every field filled, tensor bits drawn at random
// (NaN payloads, infinities and denormals included) so that a round trip must be bit-exact.
#pragma once

#include <cstring>
#include <string>

#include "train/training_state.h"

namespace lmforge::testing {

inline std::vector<float> random_bits(size_t n, TrainRng& rng) {
  std::vector<float> v(n);
  for (auto& x : v) {
    const auto bits = static_cast<uint32_t>(rng.next_u64());
    std::memcpy(&x, &bits, sizeof x);
  }
  return v;
}

// `tag` varies every field, so states made with different tags differ everywhere.
inline TrainingState sample_state(uint64_t tag, size_t elements = 64) {
  TrainRng rng(tag);
  TrainingState s;
  s.base_sha256 = std::string(64, 'a');
  s.data_sha256 = std::string(64, 'b');
  s.options = {{"ctx", 8}, {"lr", 2e-4}, {"targets", "q,v"}, {"tag", tag}};
  s.step = 3 + tag;
  s.epoch = tag % 5;
  s.cursor = tag % 3;
  s.order = {4, 2, 0, 1, 3};
  s.rng = {rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64()};
  for (uint64_t i = 0; i < s.step; ++i) s.losses.push_back(3.0f - 0.01f * static_cast<float>(i + tag));
  const char* names[] = {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                         "a name much longer than the sixty-three bytes GGUF allows for a tensor name"};
  const std::vector<uint64_t> shapes[] = {{elements / 8, 8}, {8, elements / 8}, {elements}};
  for (int i = 0; i < 3; ++i) {
    TrainedTensor t;
    t.name = names[i];
    t.shape = shapes[i];
    t.value = random_bits(elements, rng);
    t.adam_m = random_bits(elements, rng);
    t.adam_v = random_bits(elements, rng);
    s.tensors.push_back(std::move(t));
  }
  return s;
}

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

inline bool same_state(const TrainingState& a, const TrainingState& b) {
  if (a.base_sha256 != b.base_sha256 || a.data_sha256 != b.data_sha256 || a.options != b.options ||
      a.step != b.step || a.epoch != b.epoch || a.cursor != b.cursor || a.order != b.order || a.rng != b.rng ||
      !bit_equal(a.losses, b.losses) || a.tensors.size() != b.tensors.size())
    return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i];
    const auto& y = b.tensors[i];
    if (x.name != y.name || x.shape != y.shape || !bit_equal(x.value, y.value) || !bit_equal(x.adam_m, y.adam_m) ||
        !bit_equal(x.adam_v, y.adam_v))
      return false;
  }
  return true;
}

}  // namespace lmforge::testing
