// AMX-BF16 tile products and AVX-512 splitting for F16 weights (see amx_f16_tiles.h and
// amx_f16.h). Compiled with the AMX flags only where the compiler has them
// (LMFORGE_AMX_COMPILED); otherwise empty, and amx_usable() is false.
#include "kernels/amx_f16_tiles.h"

#ifdef LMFORGE_AMX_COMPILED
#include <immintrin.h>

#include "kernels/amx_tile_common-inl.h"

namespace lmforge::amx_f16_tiles {

namespace {

using amx_common::UniformTileConfig;
using amx_common::bf16_round_ps;
using amx_common::store_pair;

// x - part where part is finite, else 0 (an infinite or NaN value lives in its high part alone).
inline __m512 rest(__m512 x, __m512 part) {
  const __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(part), _mm512_set1_ps(__builtin_inff()), _CMP_LT_OQ);
  return _mm512_maskz_sub_ps(finite, x, part);
}

// 32 floats (x0: 0-15, x1: 16-31) as bf16: exact where they already are bf16 values.
inline void store_bf16(__m512 x0, __m512 x1, uint16_t* dst) {
  _mm512_storeu_si512(dst, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(x1, x0)));
}

// The loaded weight tiles (4, and 5 for 32 rows) times the loaded token tiles (6, 7) into the
// accumulators. Tile numbers are assembler operands: literals.
template <bool kTwoRowTiles>
inline __attribute__((always_inline)) void multiply_loaded() {
  _tile_dpbf16ps(0, 4, 6);
  _tile_dpbf16ps(1, 4, 7);
  if (kTwoRowTiles) {
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
}

template <bool kTwoRowTiles>
inline __attribute__((always_inline)) void load_weights(const uint16_t* a) {
  _tile_loadd(4, a, 64);
  if (kTwoRowTiles) _tile_loadd(5, a + 16 * 32, 64);
}

inline __attribute__((always_inline)) void load_tokens(const uint16_t* x0, const uint16_t* x1) {
  _tile_loadd(6, x0, 64);
  _tile_loadd(7, x1, 64);
}

// As amx_tiles.cpp's product: the inputs in slices of kSliceSteps steps, the accumulators
// parked in `acc` between slices, stored transposed once at the end. With five products per
// step the accumulators' drain at each slice's end cost more than L1 reuse of a short slice
// gained: one thread, 128 tokens, CPU time (load 4-5), 2048 x 2048 / 5632 x 2048 / 2048 x
// 5632: 5.5 / 14 / 20 ms with 8-step slices, 4.9 / 11.4-13.4 / 18.3-18.9 ms with 64.
constexpr uint64_t kSliceSteps = 64;

// Prefetches [next, end) a few lines per call, spread over the whole product, so that decoding
// the next panels reads L2 instead of waiting for memory.
struct Prefetcher {
  const uint8_t* next;
  const uint8_t* end;
  size_t lines_per_call;
  inline __attribute__((always_inline)) void step() {
    for (size_t l = 0; l < lines_per_call && next < end; ++l, next += 64)
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
  }
};

// Steps [s0, s1) of one panel against one token pair (b0, b1: the pair's tile (j, 0) and
// (j + 1, 0)), into the pair's 4 accumulator tiles parked at c (zeroed first when s0 is 0).
// kThreeParts: F32 panels, w_lo2 x_hi first (before any other term, so that when it is zero the
// accumulators go on exactly as for the F16 panel).
template <bool kTwoRowTiles, bool kThreeParts>
void slice_pair(const uint16_t* panel, const uint16_t* b0, const uint16_t* b1, uint64_t s0, uint64_t s1, float* c,
                Prefetcher& ahead) {
  amx_common::resume_accumulators<kTwoRowTiles>(c, s0 == 0);
  constexpr size_t kStep = kThreeParts ? kPanelStepF32 : kPanelStep;
  for (uint64_t s = s0; s < s1; ++s) {
    ahead.step();
    const uint16_t* a = panel + s * kStep;
    const uint16_t* x0 = b0 + s * kActTile;
    const uint16_t* x1 = b1 + s * kActTile;
    if (kThreeParts) {
      load_weights<kTwoRowTiles>(a + 2 * kPanelPart);
      load_tokens(x0, x1);
      multiply_loaded<kTwoRowTiles>();
    }
    // The small terms first, ordered so that each load serves the next products:
    // w_hi x_lo, w_hi x_mid, w_lo x_mid, w_lo x_hi, w_hi x_hi (12 tile loads, 5 products).
    load_weights<kTwoRowTiles>(a);
    load_tokens(x0 + 2 * kActPart, x1 + 2 * kActPart);
    multiply_loaded<kTwoRowTiles>();
    load_tokens(x0 + kActPart, x1 + kActPart);
    multiply_loaded<kTwoRowTiles>();
    load_weights<kTwoRowTiles>(a + kPanelPart);
    multiply_loaded<kTwoRowTiles>();
    load_tokens(x0, x1);
    multiply_loaded<kTwoRowTiles>();
    load_weights<kTwoRowTiles>(a);
    multiply_loaded<kTwoRowTiles>();
  }
  amx_common::park_accumulators<kTwoRowTiles>(c);
}

// Panel p's accumulators for token pair j / 2 are at acc + (p * token_tiles / 2 + j / 2) * 1024.
template <bool kThreeParts>
void product(const uint16_t* panels, size_t n_panels, const uint16_t* acts, uint64_t steps, size_t token_tiles,
             size_t n, size_t rows, float* y, size_t ldy, float* acc, Prefetcher& ahead) {
  const size_t pairs = token_tiles / 2;
  for (uint64_t s0 = 0; s0 < steps; s0 += kSliceSteps) {
    const uint64_t s1 = s0 + kSliceSteps < steps ? s0 + kSliceSteps : steps;
    for (size_t j = 0; j < token_tiles; j += 2) {
      const uint16_t* b0 = acts + j * steps * kActTile;
      const uint16_t* b1 = b0 + steps * kActTile;
      // Every panel meets this pair's slice while it is still in L2.
      for (size_t p = 0; p < n_panels; ++p) {
        const uint16_t* panel = panels + p * steps * (kThreeParts ? kPanelStepF32 : kPanelStep);
        float* c = acc + (p * pairs + j / 2) * 1024;
        if (rows - p * kPanelRows > 16) {
          slice_pair<true, kThreeParts>(panel, b0, b1, s0, s1, c, ahead);
        } else {
          slice_pair<false, kThreeParts>(panel, b0, b1, s0, s1, c, ahead);
        }
      }
    }
  }
  for (size_t p = 0; p < n_panels; ++p) {
    const size_t panel_rows = rows - p * kPanelRows < kPanelRows ? rows - p * kPanelRows : kPanelRows;
    float* yp = y + p * kPanelRows;
    for (size_t j = 0; j < token_tiles; j += 2) {
      store_pair(acc + (p * pairs + j / 2) * 1024, j, n, panel_rows, yp, ldy);
    }
  }
}

// 32 F16 weights (h: 16 bytes per half) into w_hi at hi and w_lo at hi + kPanelPart.
inline void split_f16(__m256i h0, __m256i h1, uint16_t* hi) {
  const __m512 w0 = _mm512_cvtph_ps(h0), w1 = _mm512_cvtph_ps(h1);
  store_bf16(w0, w1, hi);
  store_bf16(rest(w0, bf16_round_ps(w0)), rest(w1, bf16_round_ps(w1)), hi + kPanelPart);
}

// 32 F32 weights into w_hi at hi, w_lo at hi + kPanelPart and w_lo2 at hi + 2 * kPanelPart.
inline void split_f32(__m512 w0, __m512 w1, uint16_t* hi) {
  const __m512 r0 = rest(w0, bf16_round_ps(w0)), r1 = rest(w1, bf16_round_ps(w1));
  const __m512 m0 = bf16_round_ps(r0), m1 = bf16_round_ps(r1);
  store_bf16(w0, w1, hi);
  store_bf16(m0, m1, hi + kPanelPart);
  store_bf16(_mm512_sub_ps(r0, m0), _mm512_sub_ps(r1, m1), hi + 2 * kPanelPart);
}

}  // namespace

void f32_rows_to_panel(const uint8_t* first, size_t row_bytes, size_t rows, size_t used, uint64_t cols,
                       uint64_t steps, uint16_t* panel) {
  // As f16_rows_to_panel: step by step, all rows of a step together.
  const uint64_t whole = cols / 32;
  for (uint64_t s = 0; s < steps; ++s) {
    uint16_t* dst = panel + s * kPanelStepF32;
    for (size_t i = 0; i < used; ++i, dst += 32) {
      if (i >= rows) {
        const __m512i zero = _mm512_setzero_si512();
        for (size_t part = 0; part < 3; ++part) _mm512_storeu_si512(dst + part * kPanelPart, zero);
        continue;
      }
      const float* in = reinterpret_cast<const float*>(first + i * row_bytes) + 32 * s;
      if (s < whole) {
        split_f32(_mm512_loadu_ps(in), _mm512_loadu_ps(in + 16), dst);
        continue;
      }
      alignas(64) float tail[32] = {};  // the padding inputs are zeros
      __builtin_memcpy(tail, in, (cols - 32 * whole) * 4);
      split_f32(_mm512_load_ps(tail), _mm512_load_ps(tail + 16), dst);
    }
  }
}

void f16_rows_to_panel(const uint8_t* first, size_t row_bytes, size_t rows, size_t used, uint64_t cols,
                       uint64_t steps, uint16_t* panel) {
  // Step by step, all rows of a step together: the panel is written in order (a row at a time,
  // its lines would sit 4 KiB apart and fight over one L1 set), the rows read 64 bytes each.
  const uint64_t whole = cols / 32;
  for (uint64_t s = 0; s < steps; ++s) {
    uint16_t* dst = panel + s * kPanelStep;
    for (size_t i = 0; i < used; ++i, dst += 32) {
      if (i >= rows) {
        const __m512i zero = _mm512_setzero_si512();
        _mm512_storeu_si512(dst, zero);
        _mm512_storeu_si512(dst + kPanelPart, zero);
        continue;
      }
      const uint16_t* in = reinterpret_cast<const uint16_t*>(first + i * row_bytes) + 32 * s;
      if (s < whole) {
        split_f16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in)),
                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + 16)), dst);
        continue;
      }
      alignas(32) uint16_t tail[32] = {};  // +0 in F16: the padding inputs are zeros
      __builtin_memcpy(tail, in, (cols - 32 * whole) * 2);
      split_f16(_mm256_load_si256(reinterpret_cast<const __m256i*>(tail)),
                _mm256_load_si256(reinterpret_cast<const __m256i*>(tail + 16)), dst);
    }
  }
}

void floats_to_token_column(const float* in, uint64_t steps, uint16_t* column) {
  // Pair p of a step's 32 inputs is dword p of the packed vector; it goes to row p of the tile,
  // 64 bytes apart.
  const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(64));
  alignas(64) uint16_t parts[3][32];
  for (uint64_t s = 0; s < steps; ++s) {
    const __m512 x0 = _mm512_loadu_ps(in + 32 * s), x1 = _mm512_loadu_ps(in + 32 * s + 16);
    const __m512 r0 = rest(x0, bf16_round_ps(x0)), r1 = rest(x1, bf16_round_ps(x1));
    const __m512 m0 = bf16_round_ps(r0), m1 = bf16_round_ps(r1);
    store_bf16(x0, x1, parts[0]);
    store_bf16(m0, m1, parts[1]);
    store_bf16(_mm512_sub_ps(r0, m0), _mm512_sub_ps(r1, m1), parts[2]);
    uint16_t* dst = column + s * kActTile;
    _mm512_i32scatter_epi32(dst, rows, _mm512_load_si512(parts[0]), 1);
    _mm512_i32scatter_epi32(dst + kActPart, rows, _mm512_load_si512(parts[1]), 1);
    _mm512_i32scatter_epi32(dst + 2 * kActPart, rows, _mm512_load_si512(parts[2]), 1);
  }
}

void panel_product(const uint16_t* panels, size_t n_panels, const uint16_t* acts, uint64_t steps, size_t token_tiles,
                   size_t n, size_t rows, float* y, size_t ldy, float* acc, const uint8_t* ahead, size_t ahead_bytes,
                   bool three_parts) {
  static const UniformTileConfig config;
  _tile_loadconfig(&config);
  const uint64_t calls = steps * (token_tiles / 2) * n_panels;
  Prefetcher prefetcher{ahead, ahead + ahead_bytes, (ahead_bytes / 64 + calls) / (calls ? calls : 1)};
  if (three_parts) {
    product<true>(panels, n_panels, acts, steps, token_tiles, n, rows, y, ldy, acc, prefetcher);
  } else {
    product<false>(panels, n_panels, acts, steps, token_tiles, n, rows, y, ldy, acc, prefetcher);
  }
  _tile_release();
}

}  // namespace lmforge::amx_f16_tiles

#endif  // LMFORGE_AMX_COMPILED
