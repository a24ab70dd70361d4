// Facts about the legacy llama.cpp file formats shared by the reader and the ggjt writer:
// magics, header fields, the per-version tensor type table, n_ff from n_mult, and how the old
// converters spelled vocabulary entries.
//
// Layout (all little-endian): u32 magic, u32 version (not in 'ggml'), 7 x i32 hyperparameters
// (n_vocab, n_embd, n_mult, n_head, n_layer, n_rot, ftype), n_vocab entries (u32 len, bytes,
// then an f32 score except in 'ggml'), then tensor records until the end of the file:
// i32 n_dims, i32 name_len, i32 type, i32 ne[n_dims] (innermost first), name, [ggjt: zero
// padding to a multiple of 32 from the file start], data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/dtype.h"

namespace lmforge::ggml_legacy {

constexpr uint32_t kMagicGgml = 0x67676d6c;  // bytes "lmgg": unversioned, no scores
constexpr uint32_t kMagicGgmf = 0x67676d66;  // bytes "fmgg": version 1, vocab scores
constexpr uint32_t kMagicGgjt = 0x67676a74;  // bytes "tjgg": versions 1-3, 32-byte aligned data
constexpr uint64_t kGgjtAlignment = 32;

enum class Container { kGgml, kGgmf, kGgjt };

// How one tensor type was laid out in one file version. Block layouts changed twice:
// ggjt v2 moved element j+16 (not 2j+1) into the high nibble, ggjt v3 made Q4_0/Q4_1/Q8_0
// scales f16 (the layouts ggml still uses).
enum class Layout {
  kPlain,          // F32, F16, and blocks whose layout never changed since (Q5_x from v2, K-quants)
  kQ4_0PairsF32,   // {f32 d; u8 qs[16]}, qs[j] = q[2j] | q[2j+1] << 4          (ggml .. ggjt v1)
  kQ4_1PairsF32,   // {f32 d; f32 m; u8 qs[16]}, paired nibbles                 (ggml .. ggjt v1)
  kQ4_0F32,        // {f32 d; u8 qs[16]}, qs[j] = q[j] | q[j+16] << 4           (ggjt v2)
  kQ4_1F32,        // {f32 d; f32 m; u8 qs[16]}                                 (ggjt v2)
  kQ8_0F32,        // {f32 d; i8 qs[32]}                                        (ggjt v1, v2)
  kQ4_2,           // 16 elements: {f16 d; u8 qs[8]}, paired nibbles, x = (q-8)*d (ggjt v1 only)
  kQ4_3,           // 16 elements: {f16 d; f16 m; u8 qs[8]}, paired, x = q*d+m  (ggjt v1 only)
};

struct LegacyType {
  std::string_view name;   // "Q4_0", "Q4_2", ...
  Layout layout;
  uint32_t block_size;     // elements per stored block
  uint32_t block_bytes;    // bytes per stored block
  DType dtype;             // what the reader hands out (the current layout; F32 for Q4_2/Q4_3)
};

// The type with ggml id `id` in a file of this container and version; nullopt when that
// version never wrote it (e.g. Q4_2 outside ggjt v1, Q8_0 before ggjt, K-quants before v3).
std::optional<LegacyType> legacy_type(Container c, uint32_t version, int32_t id);

struct Hparams {
  int32_t n_vocab = 0, n_embd = 0, n_mult = 0, n_head = 0, n_layer = 0, n_rot = 0, ftype = 0;
};

// llama.cpp's pre-GGUF formula: ((2 * (4 * n_embd) / 3 + n_mult - 1) / n_mult) * n_mult.
uint64_t n_ff_from_n_mult(uint64_t n_embd, uint64_t n_mult);
// An n_mult that reproduces `n_ff` (searched from 256 down, as convert.py did, then n_ff
// itself); nullopt when none can (n_ff below 8 * n_embd / 3).
std::optional<uint32_t> n_mult_for(uint64_t n_embd, uint64_t n_ff);

// Header `ftype` (llama_ftype) in words: "MOSTLY_Q4_0", ...; "unknown (N)" otherwise.
std::string ftype_name(int32_t ftype);

// GGUF token types (SentencePiece piece types).
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6 };

// The vocabulary entry text as llama.cpp's converters wrote it for a SentencePiece piece:
// unknown -> " \u2047 ", control -> "", <0xXX> -> that one raw byte, otherwise U+2581 -> ' '.
std::string legacy_text_for_piece(const std::string& piece, int32_t type);

struct PieceAndType {
  std::string piece;
  int32_t type;
};
// The inverse, as convert-llama-ggml-to-gguf read it back: id 0 <unk>, 1 <s>, 2 </s>; other
// empty texts control; ids 3..258 holding the single byte (id - 3) byte tokens <0xXX>; any
// other text normal with ' ' -> U+2581.
PieceAndType piece_for_legacy_text(uint32_t id, const std::string& text);

}  // namespace lmforge::ggml_legacy
