// Element types of every format lmforge reads, in one table.
//
// Plain types (F32, I64, ...) have a block of one element; ggml's quantized types pack
// `block_size` elements into `block_bytes`. Both the GGUF type id and the safetensors name are
// kept here so that format code never carries its own size tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmforge {

enum class DType : uint8_t {
  F32, F16, BF16, F64,
  I8, I16, I32, I64, U8, U16, U32, U64, BOOL,
  F8_E4M3, F8_E5M2, C64, C128,
  // ggml block types
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
  Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
  IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, IQ1_M, TQ1_0, TQ2_0,
  kCount
};

struct DTypeInfo {
  DType type;
  std::string_view name;              // "F32", "Q8_0", ...
  uint32_t block_size;                // elements per block
  uint32_t block_bytes;               // bytes per block
  int32_t ggml_id;                    // GGUF/ggml type id, -1 if ggml has none
  std::string_view safetensors_name;  // "" if safetensors has none
};

const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
inline bool dtype_is_quantized(DType t) { return dtype_info(t).block_size > 1; }

std::optional<DType> dtype_from_ggml(uint32_t id);
std::optional<DType> dtype_from_safetensors(std::string_view name);
std::optional<DType> dtype_from_name(std::string_view name);  // "f16", "Q8_0", case-insensitive

// Bytes needed for `numel` elements; nullopt if numel is not a whole number of blocks or the
// size overflows.
std::optional<uint64_t> dtype_nbytes(DType t, uint64_t numel);

}  // namespace lmforge
