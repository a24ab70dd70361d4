// The element types lmforge can turn into floats and back, one table row per type.
//
// As in ggml's type-traits table, code that needs a codec or a per-type fact asks this table
// instead of switching on DType: a new block type (a K-quant, say) is one more row here plus its
// block codec beside ggml_blocks, and every caller — the converter's cast_rows, the engine's
// loader, the reference matmul, the tests that loop over the table — picks it up.
//
// A row holds the reference (scalar, exact) decoder and encoder of one row of elements; the
// SIMD kernels are tested against these. core/dtype's DTypeInfo stays the table of names, ids
// and sizes of every type a file may hold, codec or not; the block sizes repeated here are the
// codec's own constants, and tests/quant/type_traits_test.cpp checks that the two agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/dtype.h"

namespace lmforge {

// Decodes `n` elements (a multiple of the block size) starting at `in` into n floats.
using DecodeRowFn = void (*)(const uint8_t* in, float* out, size_t n);
// Encodes `n` floats (a multiple of the block size) into n / block_size blocks at `out`.
using EncodeRowFn = void (*)(const float* in, uint8_t* out, size_t n);

struct TypeTraits {
  DType type;
  uint32_t block_size;   // elements per block (1 for plain floats)
  uint32_t block_bytes;  // bytes per block
  DecodeRowFn decode;    // never null: a row exists because the type can be read
  EncodeRowFn encode;    // null where the type is read-only (F64: nothing lmforge writes wants it)
  // Every block starts with its f16 scale d, which multiplies all its elements: a NaN or
  // infinite d poisons the whole block (see find_nonfinite_block_scale).
  bool leading_f16_scale;
  // llama.cpp's file type for a model whose weights are mostly of this type (LLAMA_FTYPE_*,
  // written as GGUF's general.file_type and ggjt's ftype); -1 where llama.cpp has none.
  int32_t llama_ftype;
};

// Every row, in a fixed order (plain floats first, then the ggml block types).
std::span<const TypeTraits> all_type_traits();

// The row of `t`; nullptr when lmforge has no codec for it (integer types, K-quants, ...).
const TypeTraits* type_traits(DType t);

// True when rows of `t` can be decoded to floats / encoded from floats.
bool can_decode(DType t);
bool can_encode(DType t);

// Decode one row of `n` elements of type `t` into floats / encode `n` floats as type `t`
// (n a multiple of the block size). Callers check can_decode / can_encode first; a type without
// the codec is an internal error (lmforge::Error).
void decode_row(DType t, const uint8_t* in, float* out, size_t n);
void encode_row(DType t, const float* in, uint8_t* out, size_t n);

// The row's leading_f16_scale; false for types without a row.
bool has_leading_f16_scale(DType t);

// The row's llama_ftype; nullopt for types without a row or without a llama.cpp file type.
std::optional<uint32_t> llama_ftype(DType t);

}  // namespace lmforge
