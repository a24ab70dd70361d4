// Fast row decoders (Highway, runtime dispatch) for the float types that feed quantization:
// F16 and BF16 to F32, giving exactly the floats of the reference decoders in quant/
// (quant/type_traits.h decode_row). F16 -> F32 is exact on every target (F16C on x86, an
// integer construction elsewhere); rows with an infinity or NaN are redone by the reference,
// so even NaN payloads come out as the table gives them. BF16 -> F32 is a 16-bit shift.
//
// The reference decoders are the scalar twins; tests/kernels/decode_rows_test.cpp compares
// them on every f16 bit pattern, on every compiled target.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lmforge {

// True when `t` has a SIMD decoder here (F16, BF16).
bool has_fast_decoder(DType t);

// Decodes like decode_row(t, in, out, n), bit for bit: through the SIMD decoder when
// has_fast_decoder(t), else through the reference. Same preconditions as decode_row.
void decode_row_fast(DType t, const uint8_t* in, float* out, size_t n);

}  // namespace lmforge
