#include "gptq/gptq_solver.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gptq/blas.h"

namespace lmforge {

uint64_t gptq_group_count(uint64_t cols, int64_t group_size) {
  if (group_size <= 0) return 1;
  const uint64_t g = static_cast<uint64_t>(group_size);
  return (cols + g - 1) / g;
}

std::vector<float> hessian_from_inputs(const float* x, uint64_t tokens, uint64_t cols, uint64_t n_samples) {
  std::vector<float> h(cols * cols, 0.0f);
  syrk_add_upper(cols, tokens, x, h.data());
  symmetrize_from_upper(h.data(), cols);
  const float f = 2.0f / static_cast<float>(n_samples);
  for (float& v : h) v *= f;
  return h;
}

namespace {

// The processing order: identity, or descending diag(H) with ties by column index.
std::vector<uint64_t> column_order(const std::vector<float>& diag, bool act_order) {
  std::vector<uint64_t> perm(diag.size());
  std::iota(perm.begin(), perm.end(), uint64_t{0});
  if (act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](uint64_t a, uint64_t b) { return diag[a] > diag[b]; });
  return perm;
}

// Codes and group parameters in processing order -> original order, plus the dequantized
// weights and g_idx.
void finish_in_original_order(QuantizedMatrix& m, const std::vector<uint8_t>& codes_p, const std::vector<uint64_t>& perm,
                              const GptqSettings& s) {
  const uint64_t rows = m.rows, cols = m.cols;
  m.codes.assign(rows * cols, 0);
  m.dequantized.assign(rows * cols, 0.0f);
  m.g_idx.assign(cols, 0);
  for (uint64_t j = 0; j < cols; ++j)
    m.g_idx[perm[j]] = s.group_size > 0 ? static_cast<int32_t>(j / static_cast<uint64_t>(s.group_size)) : 0;
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t j = 0; j < cols; ++j) {
      const uint64_t c = perm[j];
      const uint8_t code = codes_p[r * cols + j];
      m.codes[r * cols + c] = code;
      m.dequantized[r * cols + c] = grid_value(code, m.grids[static_cast<uint64_t>(m.g_idx[c]) * rows + r]);
    }
}

}  // namespace

QuantizedMatrix gptq_quantize(const float* w_in, uint64_t rows, uint64_t cols, const float* h_in, const GptqSettings& s,
                              ThreadPool& pool) {
  QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.n_groups = gptq_group_count(cols, s.group_size);
  m.grids.resize(m.n_groups * rows);
  const int maxq = max_code(s.bits);

  std::vector<float> w(w_in, w_in + rows * cols);
  if (s.group_size <= 0)  // per-row grids from W before dead columns are zeroed (AutoGPTQ)
    for (uint64_t r = 0; r < rows; ++r) m.grids[r] = min_max_grid(&w[r * cols], cols, 1, s.bits, s.sym);

  std::vector<float> diag(cols);
  for (uint64_t i = 0; i < cols; ++i) {
    diag[i] = h_in[i * cols + i];
    if (diag[i] == 0.0f) {
      diag[i] = 1.0f;
      ++m.dead_columns;
      for (uint64_t r = 0; r < rows; ++r) w[r * cols + i] = 0.0f;
    }
  }
  const std::vector<uint64_t> perm = column_order(diag, s.act_order);

  // H permuted and damped, in double for the factorizations.
  std::vector<double> hd(cols * cols);
  double mean_diag = 0;
  for (uint64_t i = 0; i < cols; ++i) mean_diag += diag[i];
  mean_diag /= static_cast<double>(cols);
  for (uint64_t i = 0; i < cols; ++i)
    for (uint64_t j = 0; j < cols; ++j)
      hd[i * cols + j] = i == j ? double{diag[perm[i]]} : double{h_in[perm[i] * cols + perm[j]]};
  for (uint64_t i = 0; i < cols; ++i) hd[i * cols + i] += s.damp * mean_diag;
  if (!cholesky_upper(hd.data(), cols))
    fail("gptq", "the damped Hessian is not positive definite; raise --damp (e.g. 0.1) or use more calibration text");
  inverse_from_cholesky_upper(hd.data(), cols);
  if (!cholesky_upper(hd.data(), cols))
    fail("gptq", "the inverse Hessian is not positive definite; raise --damp (e.g. 0.1)");
  std::vector<float> u(hd.begin(), hd.end());
  hd = {};

  // W in processing order.
  std::vector<float> wp(rows * cols);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t j = 0; j < cols; ++j) wp[r * cols + j] = w[r * cols + perm[j]];
  w = {};

  std::vector<uint8_t> codes_p(rows * cols);
  const uint64_t gs = s.group_size > 0 ? static_cast<uint64_t>(s.group_size) : cols;
  std::vector<float> err;
  for (uint64_t i1 = 0; i1 < cols; i1 += s.block_size) {
    const uint64_t i2 = std::min(i1 + s.block_size, cols), count = i2 - i1;
    err.assign(rows * count, 0.0f);
    // Rows are independent given U: each runs the block's column loop on its own copy.
    pool.parallel_for(rows, 1, [&](size_t r0, size_t r1) {
      std::vector<float> w1(count);
      for (size_t r = r0; r < r1; ++r) {
        float* wrow = &wp[r * cols];
        std::copy(wrow + i1, wrow + i2, w1.begin());
        for (uint64_t i = 0; i < count; ++i) {
          const uint64_t c = i1 + i;
          if (s.group_size > 0 && c % gs == 0)  // from W as the earlier blocks left it
            m.grids[(c / gs) * rows + r] = min_max_grid(wrow + c, std::min(gs, cols - c), 1, s.bits, s.sym);
          const GridParams& g = m.grids[(s.group_size > 0 ? c / gs : 0) * rows + r];
          const float x = w1[i];
          const uint8_t code = grid_code(x, g, maxq);
          codes_p[r * cols + c] = code;
          const float e = (x - grid_value(code, g)) / u[c * cols + c];
          const float* urow = &u[c * cols + i1];
          for (uint64_t j = i + 1; j < count; ++j) w1[j] -= e * urow[j];
          err[r * count + i] = e;
        }
      }
    });
    if (i2 < cols)  // W[:, i2:] -= Err * U[i1:i2, i2:]
      gemm_nn(rows, cols - i2, count, -1.0f, err.data(), count, &u[i1 * cols + i2], cols, 1.0f, &wp[i2], cols);
  }
  finish_in_original_order(m, codes_p, perm, s);
  return m;
}

QuantizedMatrix rtn_quantize(const float* w, uint64_t rows, uint64_t cols, const GptqSettings& s, ThreadPool& pool) {
  QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.n_groups = gptq_group_count(cols, s.group_size);
  m.grids.resize(m.n_groups * rows);
  const int maxq = max_code(s.bits);
  const uint64_t gs = s.group_size > 0 ? static_cast<uint64_t>(s.group_size) : cols;
  std::vector<uint8_t> codes(rows * cols);
  pool.parallel_for(rows, 1, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r)
      for (uint64_t g = 0; g < m.n_groups; ++g) {
        const uint64_t c0 = g * gs, n = std::min(gs, cols - c0);
        const GridParams p = min_max_grid(&w[r * cols + c0], n, 1, s.bits, s.sym);
        m.grids[g * rows + r] = p;
        for (uint64_t c = c0; c < c0 + n; ++c) codes[r * cols + c] = grid_code(w[r * cols + c], p, maxq);
      }
  });
  std::vector<uint64_t> identity(cols);
  std::iota(identity.begin(), identity.end(), uint64_t{0});
  finish_in_original_order(m, codes, identity, s);
  return m;
}

double relative_reconstruction_error(const float* w, const float* q, uint64_t rows, uint64_t cols, const float* h) {
  // [W; W - Q] H for a band of rows at a time (bounded scratch), then tr(W H W^T) and
  // tr(D H D^T) as sums of elementwise products.
  const uint64_t band = std::max<uint64_t>(1, std::min<uint64_t>(rows, (uint64_t{1} << 22) / std::max<uint64_t>(cols, 1)));
  std::vector<float> stacked(2 * band * cols), prod(2 * band * cols);
  double whw = 0, dhd = 0;
  for (uint64_t r0 = 0; r0 < rows; r0 += band) {
    const uint64_t n = std::min(band, rows - r0), len = n * cols;
    for (uint64_t i = 0; i < len; ++i) {
      stacked[i] = w[r0 * cols + i];
      stacked[len + i] = w[r0 * cols + i] - q[r0 * cols + i];
    }
    gemm_nn(2 * n, cols, cols, 1.0f, stacked.data(), cols, h, cols, 0.0f, prod.data(), cols);
    for (uint64_t i = 0; i < len; ++i) {
      whw += double{stacked[i]} * prod[i];
      dhd += double{stacked[len + i]} * prod[len + i];
    }
  }
  if (whw <= 0) return dhd <= 0 ? 0.0 : INFINITY;
  return std::sqrt(std::max(0.0, dhd) / whw);
}

}  // namespace lmforge
