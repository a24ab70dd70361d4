// The training forward and backward pass of a llama model whose every weight trains (`lmforge
// train`): for a micro-batch of windows (each its own sequence, positions 0 .. ctx-1), the summed
// next-token cross-entropy over every position and its gradient with respect to every tensor of
// train/full_model_tensors.h (token embedding, norms, q/k/v/o, gate/up/down, final norm, output
// head; with tied embeddings the embedding gets the lookup's and the head's gradient).
//
// The graph is the engine's (engine/llama_forward.h) in f32, as the LoRA pass computes it
// (train/lora_forward_backward.h): the same kernels, tiles and recompute policy, and the same
// batched attention (train/causal_attention_batch.h). Weights are
// read from the tensors passed at each call (the trainer updates them between calls).
//   forward products  y = x W^T      matmul_packed (kernels/matmul.h)
//   input gradients   dx += dy W     matmul_transposed_add (kernels/backward_ops.h)
//   weight gradients  dW += dy^T x   panel_accumulate_f32 over dy^T's rows (kernels/backward_ops.h,
//                                    its scalar twin compared in tests/kernels/backward_ops_test.cpp)
//   norm weights      dw += sum_t dy_t x_t r_t, as per-tile partial sums added in tile order
//
// Memory: the input of every layer is kept (layers + 1 rows of T x hidden floats, T = windows x
// ctx); the rest is recomputed one layer at a time in the backward pass.
//
// Threads: tiles fixed by the shapes alone and sums in a fixed order: bit-identical results for
// any thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "arch/llama/llama_config.h"
#include "train/training_state.h"

namespace lmforge {

class ThreadPool;

class FullForwardBackward {
 public:
  // Throws lmforge::Error when check_full_trainable refuses the config or ctx is 0.
  FullForwardBackward(const LlamaConfig& config, uint32_t ctx, ThreadPool& pool);
  ~FullForwardBackward();

  // windows: each ctx + 1 tokens. `weights`: full_tensor_shapes(config)'s list. Adds
  // loss_scale · d(sum of cross-entropies)/d(tensor) into grads[i] (one vector per tensor, same
  // sizes) and returns the summed cross-entropy (double, position order).
  double accumulate(std::span<const std::span<const int32_t>> windows, float loss_scale,
                    const std::vector<TrainedTensor>& weights, std::vector<std::vector<float>>& grads);

  // The summed cross-entropy alone (no backward pass).
  double loss(std::span<const std::span<const int32_t>> windows, const std::vector<TrainedTensor>& weights);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmforge
