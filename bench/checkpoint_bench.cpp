// Time of one training checkpoint save (temp file, fsync, rename, folder fsync) and load
// (mapped, every size checked, SHA-256 of the tensors) for the state of a LoRA run on the
// TinyLlama 1.1B shape: rank R on all seven targets of 22 layers (hidden 2048, KV 256, FFN
// 5632), with a data order of 100k windows and 10k losses. Medians of N rounds.
//
// Usage: lmforge_checkpoint_bench DIR [RANK=8] [ROUNDS=5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "train/checkpoint.h"

namespace {

using lmforge::TrainedTensor;
using lmforge::TrainingState;

TrainingState tinyllama_lora_state(uint64_t rank) {
  const uint64_t hidden = 2048, kv = 256, ffn = 5632, layers = 22;
  struct Target {
    const char* name;
    uint64_t in, out;
  };
  const Target targets[] = {{"attn_q", hidden, hidden}, {"attn_k", hidden, kv},  {"attn_v", hidden, kv},
                            {"attn_output", hidden, hidden}, {"ffn_gate", hidden, ffn}, {"ffn_up", hidden, ffn},
                            {"ffn_down", ffn, hidden}};
  TrainingState s;
  s.base_sha256 = std::string(64, 'a');
  s.data_sha256 = std::string(64, 'b');
  s.options = {{"rank", rank}, {"ctx", 256}};
  lmforge::TrainRng rng(1);
  for (uint32_t i = 0; i < 100000; ++i) s.order.push_back(i);
  for (int i = 0; i < 10000; ++i) s.losses.push_back(rng.next_unit_float());
  s.step = s.losses.size();
  for (uint64_t l = 0; l < layers; ++l)
    for (const Target& t : targets)
      for (int ab = 0; ab < 2; ++ab) {
        TrainedTensor x;
        x.name = "blk." + std::to_string(l) + "." + t.name + ".weight.lora_" + (ab ? "b" : "a");
        x.shape = ab ? std::vector<uint64_t>{t.out, rank} : std::vector<uint64_t>{rank, t.in};
        const uint64_t n = x.shape[0] * x.shape[1];
        for (uint64_t i = 0; i < n; ++i) x.value.push_back(rng.next_unit_float());
        x.adam_m = x.value;
        x.adam_v = x.value;
        s.tensors.push_back(std::move(x));
      }
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [RANK=8] [ROUNDS=5]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t rank = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 8;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  const TrainingState state = tinyllama_lora_state(rank);
  std::vector<double> save, load;
  for (int r = 0; r < rounds; ++r) {
    auto t = std::chrono::steady_clock::now();
    lmforge::save_checkpoint(dir, state);
    save.push_back(seconds_since(t));
    t = std::chrono::steady_clock::now();
    const auto loaded = lmforge::load_latest_checkpoint(dir);
    load.push_back(seconds_since(t));
    if (!loaded || loaded->tensors.size() != state.tensors.size()) return 1;
  }
  const auto bytes = std::filesystem::file_size(std::filesystem::path(dir) / "checkpoint.gguf");
  std::printf("rank %llu: %.1f MB checkpoint, save %.3f s (%.0f MB/s), load %.3f s (%.0f MB/s), median of %d\n",
              static_cast<unsigned long long>(rank), bytes / 1e6, median(save), bytes / 1e6 / median(save), median(load),
              bytes / 1e6 / median(load), rounds);
  return 0;
}
