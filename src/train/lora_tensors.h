// The adapter as the training state holds it: one TrainedTensor per LoRA matrix, named as in
// llama.cpp's GGUF adapters ("blk.N.attn_q.weight.lora_a", PyTorch shape [r, in]; ".lora_b",
// [out, r]), in layer order then target order (q, k, v, o, gate, up, down), A before B; and the
// conversions between that list and a LoraAdapter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/lora_adapter.h"
#include "train/training_state.h"

namespace lmforge {

class LlamaModel;

// A fresh adapter for `model`: every layer's `targets` get A drawn kaiming-uniform with a = sqrt(5)
// (U(-1/sqrt(in), 1/sqrt(in)), PEFT's and torch.nn.Linear's default) from TrainRng(mix_seed(seed,
// kLoraInitStream)), tensor by tensor in the order above, and B = 0. Throws lmforge::Error when
// rank is 0 or larger than a target matrix's smaller side, or targets is empty.
inline constexpr uint64_t kLoraInitStream = 0x4C6F5241;  // "LoRA"
LoraAdapter init_lora_adapter(const LlamaModel& model, const std::vector<LoraTarget>& targets, uint32_t rank,
                              float alpha, uint64_t seed);

// The trained tensors of `adapter` (values copied; Adam moments zero).
std::vector<TrainedTensor> lora_tensors(const LoraAdapter& adapter);
// Copies the values of `tensors` (as lora_tensors() lists them) into `adapter`'s pairs; throws
// lmforge::Error naming a tensor whose name or size does not match.
void copy_into_adapter(const std::vector<TrainedTensor>& tensors, LoraAdapter& adapter);

// "blk.N.<gguf target>.weight.lora_a" / ".lora_b".
std::string lora_tensor_name(size_t layer, LoraTarget target, bool b);

}  // namespace lmforge
