#include "train/training_pass_steps.h"

#include <algorithm>

#include "arch/llama/llama_config.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/amx_support.h"
#include "kernels/backward_ops.h"
#include "kernels/interleaved.h"
#include "kernels/rope.h"
#include "kernels/vec_ops.h"

namespace lmforge {

namespace {

// Fewest tokens for the AMX product of F16/F32 weights (the engine's threshold, amx_f16.h).
constexpr size_t kAmxMinTokens = 32;

size_t tiles(size_t n, size_t tile) { return (n + tile - 1) / tile; }

}  // namespace

void split_training_windows(std::span<const std::span<const int32_t>> windows, uint32_t ctx, uint32_t vocab,
                            const std::string& who, std::vector<int32_t>& tokens, std::vector<int32_t>& targets) {
  tokens.resize(windows.size() * ctx);
  targets.resize(tokens.size());
  for (size_t sq = 0; sq < windows.size(); ++sq) {
    if (windows[sq].size() != size_t{ctx} + 1) {
      throw Error(who, "a training window has " + std::to_string(windows[sq].size()) + " tokens, not ctx + 1 = " +
                           std::to_string(ctx + 1));
    }
    for (uint32_t t = 0; t <= ctx; ++t) {
      const int32_t id = windows[sq][t];
      if (id < 0 || static_cast<uint32_t>(id) >= vocab) {
        throw Error(who, "token id " + std::to_string(id) + " is outside the vocabulary");
      }
      if (t < ctx) tokens[sq * ctx + t] = id;
      if (t > 0) targets[sq * ctx + t - 1] = id;
    }
  }
}

void rms_norm_rows(ThreadPool& pool, const float* x, const float* w, float* out, size_t T, size_t dim, float eps) {
  pool.parallel_for(T, kPassTokenGrain, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) rms_norm_f32(x + t * dim, w, out + t * dim, dim, eps);
  });
}

void cross_entropy_rows(ThreadPool& pool, float* logits, size_t n, size_t vocab, const int32_t* targets,
                        float loss_scale, float* token_loss) {
  pool.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      float* row = logits + i * vocab;
      token_loss[i] = cross_entropy_f32(row, vocab, static_cast<uint32_t>(targets[i]), loss_scale, row);
    }
  });
}

WindowRope::WindowRope(const LlamaConfig& c, uint32_t ctx) : ctx_(ctx), hd_(c.head_dim), neox_(rope_neox(c)) {
  const float* freq_factors = c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data();
  cos_.resize(size_t{ctx} * hd_ / 2);
  sin_.resize(cos_.size());
  for (uint32_t pos = 0; pos < ctx; ++pos) {
    rope_angles(pos, hd_, c.rope_theta, c.rope_scaling_linear.value_or(1.0f), &cos_[pos * hd_ / 2],
                &sin_[pos * hd_ / 2], freq_factors);
  }
}

void WindowRope::rows(ThreadPool& pool, float* x, size_t T, size_t width, size_t heads, bool backward) const {
  pool.parallel_for(T, kPassTokenGrain, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const size_t pos = t % ctx_;
      const float *cs = &cos_[pos * hd_ / 2], *sn = &sin_[pos * hd_ / 2];
      if (neox_) {
        (backward ? rope_unapply_neox_f32 : rope_apply_neox_f32)(x + t * width, heads, hd_, cs, sn);
      } else {
        (backward ? rope_unapply_f32 : rope_apply_f32)(x + t * width, heads, hd_, cs, sn);
      }
    }
  });
}

void WeightProducts::forward(ThreadPool& pool, const MatrixView& w, const InterleavedMatrix* regrouped, const float* x,
                             size_t n, float* y) {
  if (!amx_probed_) {
    amx_ = amx_enabled();
    amx_probed_ = true;
  }
  const size_t in = w.cols, out = w.rows;
  if (amx_ && n >= kAmxMinTokens && !regrouped && amx_f16_or_f32_supports(w.type)) {
    f16_.reset(n, in);
    pool.parallel_for(n, kPassTokenGrain, [&](size_t b, size_t e) { f16_.pack_rows(x, in, b, e); });
    pool.parallel_for(tiles(out, kPassRowTile), 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i)
        matmul_amx_f16(w, f16_, y, out, i * kPassRowTile, std::min(out, (i + 1) * kPassRowTile));
    });
    return;
  }
  packed_.reset(w.type, n, in);
  pool.parallel_for(n, kPassTokenGrain, [&](size_t b, size_t e) { packed_.pack_rows(x, in, b, e); });
  pool.parallel_for(tiles(out, kPassRowTile), 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const size_t r0 = i * kPassRowTile, r1 = std::min(out, (i + 1) * kPassRowTile);
      if (regrouped) {
        matmul_interleaved(*regrouped, packed_, y, out, r0, r1);
      } else {
        matmul_packed(w, packed_, y, out, r0, r1);
      }
    }
  });
}

void WeightProducts::backward(ThreadPool& pool, const MatrixView& w, const InterleavedMatrix* regrouped,
                              const float* dy, size_t n, float* dx) {
  const size_t in = w.cols, ldy = w.rows, tile = transposed_tile_cols(w.type);
  pool.parallel_for(tiles(in, tile), 1, [&](size_t b, size_t e) {
    std::vector<float> panel(kTransposedPanelRows * tile);
    for (size_t i = b; i < e; ++i) {
      const size_t c0 = i * tile, c1 = std::min(in, (i + 1) * tile);
      if (regrouped) {
        matmul_transposed_add(*regrouped, dy, ldy, n, dx, in, c0, c1, panel.data());
      } else {
        matmul_transposed_add(w, dy, ldy, n, dx, in, c0, c1, panel.data());
      }
    }
  });
}

}  // namespace lmforge
