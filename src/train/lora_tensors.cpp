#include "train/lora_tensors.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "engine/llama_model.h"
#include "train/train_rng.h"

namespace lmforge {

namespace {

const MatrixView& target_matrix(const LlamaLayer& L, LoraTarget t) {
  switch (t) {
    case LoraTarget::kQ: return L.wq.m;
    case LoraTarget::kK: return L.wk.m;
    case LoraTarget::kV: return L.wv.m;
    case LoraTarget::kO: return L.wo.m;
    case LoraTarget::kGate: return L.w_gate.m;
    case LoraTarget::kUp: return L.w_up.m;
    default: return L.w_down.m;
  }
}

}  // namespace

std::string lora_tensor_name(size_t layer, LoraTarget target, bool b) {
  return "blk." + std::to_string(layer) + "." + lora_target_gguf_name(target) + ".weight." +
         (b ? "lora_b" : "lora_a");
}

LoraAdapter init_lora_adapter(const LlamaModel& model, const std::vector<LoraTarget>& targets, uint32_t rank,
                              float alpha, uint64_t seed) {
  if (targets.empty()) throw Error(model.path(), "no LoRA targets given");
  if (rank == 0) throw Error(model.path(), "the LoRA rank must be at least 1");
  LoraAdapter a;
  a.alpha = alpha;
  a.rank = rank;
  a.layers.resize(model.layers.size());
  TrainRng rng(mix_seed(seed, kLoraInitStream));
  for (size_t l = 0; l < model.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      if (std::find(targets.begin(), targets.end(), static_cast<LoraTarget>(t)) == targets.end()) continue;
      const MatrixView& w = target_matrix(model.layers[l], static_cast<LoraTarget>(t));
      if (rank > std::min(w.rows, w.cols)) {
        throw Error(model.path(), "LoRA rank " + std::to_string(rank) + " is larger than blk." +
                                      std::to_string(l) + "." + lora_target_gguf_name(static_cast<LoraTarget>(t)) + " allows (" +
                                      std::to_string(w.rows) + " x " + std::to_string(w.cols) + ")");
      }
      LoraPair p;
      p.rank = rank;
      p.in = static_cast<uint32_t>(w.cols);
      p.out = static_cast<uint32_t>(w.rows);
      p.a.resize(size_t{rank} * p.in);
      const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.in)));
      for (float& x : p.a) x = rng.uniform(-bound, bound);
      p.b.assign(size_t{p.out} * rank, 0.0f);
      a.layers[l][t] = std::move(p);
    }
  }
  return a;
}

std::vector<TrainedTensor> lora_tensors(const LoraAdapter& adapter) {
  std::vector<TrainedTensor> out;
  for (size_t l = 0; l < adapter.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = adapter.layers[l][t];
      if (!p) continue;
      for (bool b : {false, true}) {
        TrainedTensor x;
        x.name = lora_tensor_name(l, static_cast<LoraTarget>(t), b);
        x.shape = b ? std::vector<uint64_t>{p->out, p->rank} : std::vector<uint64_t>{p->rank, p->in};
        x.value = b ? p->b : p->a;
        x.adam_m.assign(x.value.size(), 0.0f);
        x.adam_v.assign(x.value.size(), 0.0f);
        out.push_back(std::move(x));
      }
    }
  }
  return out;
}

void copy_into_adapter(const std::vector<TrainedTensor>& tensors, LoraAdapter& adapter) {
  size_t i = 0;
  for (size_t l = 0; l < adapter.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      auto& p = adapter.layers[l][t];
      if (!p) continue;
      for (bool b : {false, true}) {
        const std::string name = lora_tensor_name(l, static_cast<LoraTarget>(t), b);
        std::vector<float>& dst = b ? p->b : p->a;
        if (i >= tensors.size() || tensors[i].name != name || tensors[i].value.size() != dst.size()) {
          throw Error(name, "the training state's tensors do not match the adapter (expected " + name + ")");
        }
        dst = tensors[i].value;
        ++i;
      }
    }
  }
  if (i != tensors.size()) throw Error(tensors[i].name, "the training state has a tensor the adapter does not");
}

}  // namespace lmforge
