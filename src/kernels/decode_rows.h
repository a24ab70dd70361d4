// Fast row decoders (Highway, runtime dispatch) to F32 for F16, BF16 and every ggml block type
// lmforge reads (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K ... Q6_K), giving exactly the floats of the
// reference decoders in quant/ (quant/type_traits.h decode_row): the quantizers' inputs, and
// the weight panels of the prompt path.
//
// F16 -> F32 is exact on every target (F16C on x86, an integer construction elsewhere); rows
// with an infinity or NaN are redone by the reference, so even NaN payloads come out as the
// table gives them. BF16 -> F32 is a 16-bit shift. The block types (decode_rows_blocks32.cpp,
// decode_rows_kquants.cpp) convert each f16 scale once per block in scalar code, round the
// K-quants' per-group scale products in scalar code as the references do, and only do the
// per-element float(q) * d (+ m, - m) in vectors, unfused; a block whose f16 scale or min is
// infinite or NaN is decoded by the reference.
//
// The reference decoders are the scalar twins; tests/kernels/decode_rows_test.cpp compares
// them on every f16 bit pattern and on random blocks of every type, on every compiled target.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lmforge {

// True when `t` has a SIMD decoder here (F16, BF16 and the block types above).
bool has_fast_decoder(DType t);

// Decodes like decode_row(t, in, out, n), bit for bit: through the SIMD decoder when
// has_fast_decoder(t), else through the reference. Same preconditions as decode_row.
void decode_row_fast(DType t, const uint8_t* in, float* out, size_t n);

}  // namespace lmforge
