// GPTQ on one linear layer (Frantar et al. 2022, as AutoGPTQ's `GPTQ.fasterquant` runs it), and
// plain round-to-nearest with the same groups, for a weight W [rows x cols] (rows = output
// features, cols = input features) and the Hessian H = 2 X X^T / n_samples [cols x cols] of its
// calibration inputs.
//
// GPTQ, in AutoGPTQ's order:
//  1. group size -1: one grid per row from W as given (before dead columns are zeroed);
//  2. dead columns (H_ii == 0): H_ii = 1 and W[:, i] = 0;
//  3. act-order: columns processed by descending H_ii (ties by column index), W and H permuted;
//  4. damp * mean(diag H) added to the diagonal; U = upper Cholesky factor of H^-1;
//  5. blocks of 128 columns: each column quantized, its error err = (w - q) / U_ii spread over
//     the block's later columns (err * U_i,j), then W[:, after the block] -= Err * U[block, after]
//     in one product. A group's grid is computed when its first column comes up, from W as the
//     earlier blocks left it (not from the current block's working copy), over the next
//     group_size columns in processing order.
// Codes, grids and g_idx come back in the original column order; scales/zeros are listed per
// group in the order the groups were created (g_idx indexes them), as AutoGPTQ returns them.
// Float32 throughout except the Cholesky factorizations (float64, then rounded to float32).
#pragma once

#include <cstdint>
#include <vector>

#include "gptq/min_max_quantizer.h"

namespace lmforge {

class ThreadPool;

struct GptqSettings {
  int bits = 4;
  int64_t group_size = 128;  // -1: one group per row
  bool act_order = false;
  bool sym = false;
  double damp = 0.01;
  uint64_t block_size = 128;
};

struct QuantizedMatrix {
  uint64_t rows = 0, cols = 0, n_groups = 0;
  std::vector<uint8_t> codes;      // [rows][cols], original column order
  std::vector<GridParams> grids;   // [n_groups][rows]
  std::vector<int32_t> g_idx;      // [cols]: the group of each input column
  std::vector<float> dequantized;  // [rows][cols]: scale * (code - zero), what the next forward uses
  uint64_t dead_columns = 0;       // H_ii == 0 (GPTQ only)
};

// Throws lmforge::Error (file "gptq") when H + damp is not positive definite.
QuantizedMatrix gptq_quantize(const float* w, uint64_t rows, uint64_t cols, const float* h, const GptqSettings& s,
                              ThreadPool& pool);

// Round to nearest with the same groups (column order, no Hessian).
QuantizedMatrix rtn_quantize(const float* w, uint64_t rows, uint64_t cols, const GptqSettings& s, ThreadPool& pool);

// ||(W - Q) X|| / ||W X|| from the Hessian: sqrt(tr(D H D^T) / tr(W H W^T)), D = W - Q.
double relative_reconstruction_error(const float* w, const float* q, uint64_t rows, uint64_t cols, const float* h);

// H = 2 X^T X / n_samples for inputs X [tokens x cols] (AutoGPTQ counts sequences, not tokens),
// accumulated in float32 like the whole-model walk does it.
std::vector<float> hessian_from_inputs(const float* x, uint64_t tokens, uint64_t cols, uint64_t n_samples);

// The group count a column count and group size give (group size -1: 1).
uint64_t gptq_group_count(uint64_t cols, int64_t group_size);

}  // namespace lmforge
