// The training forward and backward pass of a llama model with LoRA adapters on a frozen base:
// for a micro-batch of windows (each its own sequence, positions 0 .. ctx-1), the summed
// next-token cross-entropy over every position and its gradient with respect to every adapter
// matrix A and B. Only the adapters are trained; the base weights are read in their own type
// (F32/F16/BF16/Q8_0/Q4_0/K-quants, QLoRA-style) and never copied.
//
// The graph is the engine's (engine/llama_forward.h) with each adapted weight computing
// W x + scale · B (A x), scale = alpha / r (PEFT). Forward products use the engine's SIMD
// kernels (kernels/matmul.h: for Q8_0/Q4_0/K-quant weights the activations are rounded to 8 bits
// as in inference, so the model trains on what it will run); products through a frozen weight
// in the backward pass decode its rows to f32 exactly (kernels/backward_ops.h). The gradient is
// the one of that forward with the 8-bit rounding taken as the identity (straight through).
//
// Memory: the input of every layer is kept (layers + 1 rows of T x hidden floats, T = windows x
// ctx). The other intermediates the backward pass reads are kept for every layer when they fit
// the activation budget (default: a quarter of physical memory; activation_bytes says how much
// they take); else they are recomputed one layer at a time in the backward pass, so activation
// memory is one layer's intermediates plus those inputs, whatever the depth, for a third more
// matrix products. Both ways give bit-identical gradients.
//
// Threads: every parallel step is cut into tiles fixed by the shapes alone, and every sum runs
// in a fixed order, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/lora_adapter.h"

namespace lmforge {

class LlamaModel;
class ThreadPool;

class LoraForwardBackward {
 public:
  // `adapter` (its values, rank, alpha, which pairs exist) is read at every call: the caller
  // updates it between calls. Throws lmforge::Error when the base has a weight the backward
  // pass cannot decode (GPTQ linears) or the adapter's shapes do not match the base.
  LoraForwardBackward(const LlamaModel& model, const LoraAdapter& adapter, uint32_t ctx, ThreadPool& pool);
  ~LoraForwardBackward();

  // windows: each ctx + 1 tokens (inputs are the first ctx, targets the last ctx). Adds
  // loss_scale · d(sum of cross-entropies)/d(adapter) into `grads` (same pairs and shapes as the
  // adapter) and returns the sum of the cross-entropies over every position (in double, summed
  // in position order).
  double accumulate(std::span<const std::span<const int32_t>> windows, float loss_scale, LoraAdapter& grads);

  // The summed cross-entropy alone (no backward pass).
  double loss(std::span<const std::span<const int32_t>> windows);

  // Keep every layer's intermediates when they take at most `bytes` (0: always recompute).
  void set_activation_budget(uint64_t bytes);
  uint64_t activation_budget() const;
  // What keeping them takes for micro-batches of `windows` windows.
  uint64_t activation_bytes(size_t windows) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A zeroed copy of `adapter`'s pairs (the shape of its gradient).
LoraAdapter zero_like(const LoraAdapter& adapter);

}  // namespace lmforge
