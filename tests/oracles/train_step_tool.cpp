// A test driver of the LoRA trainer for tests/oracles/check_train_step.py: reads a JSON config
// (model, data tokens, adapter and optimizer settings), runs the trainer's steps on the data in
// file order, and writes JSON with the initial adapter, the first step's gradient, every step's
// loss and the final adapter, which the check compares with PyTorch autograd and
// torch.optim.AdamW. Not installed; built beside the tests only.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/llama_model.h"
#include "train/adamw.h"
#include "train/lora_step_trainer.h"
#include "train/lora_tensors.h"
#include "train/train_rng.h"

using namespace lmforge;

namespace {

std::vector<LoraTarget> targets_from(const std::string& list) {
  static const char* names[] = {"q", "k", "v", "o", "gate", "up", "down"};
  std::vector<LoraTarget> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    bool found = false;
    for (size_t i = 0; i < kLoraTargetCount; ++i) {
      if (name == names[i]) {
        out.push_back(static_cast<LoraTarget>(i));
        found = true;
      }
    }
    if (!found) throw Error("config", "unknown target " + name);
    start = comma + 1;
  }
  return out;
}

nlohmann::json tensors_json(const LoraAdapter& a) {
  nlohmann::json j = nlohmann::json::object();
  for (const TrainedTensor& t : lora_tensors(a)) j[t.name] = t.value;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: train_step_tool CONFIG.json OUT.json\n");
    return 2;
  }
  try {
    std::ifstream in(argv[1]);
    const nlohmann::json cfg = nlohmann::json::parse(in);
    const auto model = LlamaModel::open(cfg.at("model").get<std::string>());
    const uint32_t ctx = cfg.at("ctx"), batch = cfg.at("batch"), accum = cfg.at("grad_accum");
    const uint32_t rank = cfg.at("rank");
    const uint64_t steps = cfg.at("steps"), seed = cfg.at("seed");
    const std::vector<int32_t> tokens = cfg.at("tokens").get<std::vector<int32_t>>();
    LoraAdapter init = init_lora_adapter(*model, targets_from(cfg.at("targets")), rank, cfg.at("alpha"), seed);
    if (cfg.value("random_b", false)) {  // so that the first gradient of A is not zero
      TrainRng rng(seed + 1);
      for (auto& layer : init.layers)
        for (auto& p : layer)
          if (p)
            for (float& x : p->b) x = rng.uniform(-0.05f, 0.05f);
    }
    AdamWOptions adamw;
    adamw.weight_decay = cfg.value("weight_decay", 0.0);
    ThreadPool pool(cfg.value("threads", 1u));
    LoraStepTrainer trainer(*model, init, ctx, batch, adamw, pool);
    TrainingState state;
    state.tensors = lora_tensors(init);

    const size_t n_windows = (tokens.size() - 1) / ctx, per_step = size_t{batch} * accum;
    if (n_windows < per_step) throw Error("config", "the tokens do not fill one step");
    nlohmann::json out;
    out["init"] = tensors_json(init);
    std::vector<float> losses;
    size_t next = 0;
    for (uint64_t s = 0; s < steps; ++s) {
      std::vector<std::span<const int32_t>> windows;
      for (size_t i = 0; i < per_step; ++i) {
        if (next + per_step > n_windows && i == 0) next = 0;  // a partial tail is dropped, as in training
        windows.emplace_back(tokens.data() + (next++) * ctx, ctx + 1);
      }
      losses.push_back(trainer.step(windows, cfg.at("lr"), state));
      if (s == 0) out["grad0"] = tensors_json(trainer.last_gradient());
      ++state.step;
    }
    out["losses"] = losses;
    out["final"] = tensors_json(trainer.adapter_from(state));
    std::ofstream(argv[2]) << out.dump();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_step_tool: %s\n", e.what());
    return 1;
  }
}
