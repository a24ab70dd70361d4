// The steps the LoRA pass (lora_forward_backward.h) and the full pass (full_forward_backward.h)
// share: cutting windows into tokens and targets, RMSNorm and RoPE over every row of a batch,
// and the products through a weight, forward (x W^T) and backward (dx += dy W). Each runs over
// tiles fixed by the shapes (16 tokens, 64 weight rows, transposed_tile_cols columns), so both
// passes stay bit-identical for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/amx_f16.h"
#include "kernels/matmul.h"

namespace lmforge {

class InterleavedMatrix;
struct LlamaConfig;
class ThreadPool;

inline constexpr size_t kPassTokenGrain = 16;  // tokens per tile for per-token work
inline constexpr size_t kPassRowTile = 64;     // weight rows per forward product tile

// Windows of ctx + 1 tokens to the first ctx (inputs) and the last ctx (targets) of each, in
// window order. Throws lmforge::Error naming `who` for a window of another length or an id
// outside [0, vocab).
void split_training_windows(std::span<const std::span<const int32_t>> windows, uint32_t ctx, uint32_t vocab,
                            const std::string& who, std::vector<int32_t>& tokens, std::vector<int32_t>& targets);

// out[t] = RMSNorm(x[t]) * w for T rows of `dim` floats.
void rms_norm_rows(ThreadPool& pool, const float* x, const float* w, float* out, size_t T, size_t dim, float eps);

// The cross-entropy of n rows of `vocab` logits against their targets into token_loss, each
// row replaced by loss_scale times its gradient (kernels/backward_ops.h cross_entropy_f32).
void cross_entropy_rows(ThreadPool& pool, float* logits, size_t n, size_t vocab, const int32_t* targets,
                        float loss_scale, float* token_loss);

// RoPE at positions 0 .. ctx-1 of every window, as the engine rotates (adjacent pairs, or the
// halves of a head for NEOX models; llama3 frequency factors and linear scaling from the config).
class WindowRope {
 public:
  WindowRope(const LlamaConfig& c, uint32_t ctx);
  // Rows t of x (T rows, `width` floats apart) hold `heads` heads at position t % ctx; backward
  // applies the transpose (the gradient of the rotation).
  void rows(ThreadPool& pool, float* x, size_t T, size_t width, size_t heads, bool backward) const;

 private:
  uint32_t ctx_;
  size_t hd_;
  bool neox_;
  std::vector<float> cos_, sin_;
};

// The products through a frozen or trained weight. Forward: the engine's kernels (8-bit
// activations for Q8_0/Q4_0/K-quant weights, as in inference; the regrouped matrix when the
// loader made one), and for F16/F32 weights from 32 tokens on AMX machines the exact split bf16
// tile product of kernels/amx_f16.h. Backward: rows decoded to f32 exactly
// (kernels/backward_ops.h), from the regrouped copy when there is one.
class WeightProducts {
 public:
  // y[n x w.rows] = x W^T (x: n rows of w.cols floats).
  void forward(ThreadPool& pool, const MatrixView& w, const InterleavedMatrix* regrouped, const float* x, size_t n,
               float* y);
  // dx[n x w.cols] += dy W (dy: n rows of w.rows floats).
  void backward(ThreadPool& pool, const MatrixView& w, const InterleavedMatrix* regrouped, const float* dy, size_t n,
                float* dx);

 private:
  PackedActivations packed_;
  AmxF16Activations f16_;
  bool amx_ = false, amx_probed_ = false;
};

}  // namespace lmforge
