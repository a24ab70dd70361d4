#include "formats/ggml_legacy/ggml_legacy_format.h"

#include <cstdio>

namespace lmforge::ggml_legacy {

std::optional<LegacyType> legacy_type(Container c, uint32_t version, int32_t id) {
  // 0 = 'ggml' and 'ggmf' v1 (treated as one generation: same type table and block layouts).
  const uint32_t v = c == Container::kGgjt ? version : 0;
  switch (id) {
    case 0: return LegacyType{"F32", Layout::kPlain, 1, 4, DType::F32};
    case 1: return LegacyType{"F16", Layout::kPlain, 1, 2, DType::F16};
    case 2:
      if (v <= 1) return LegacyType{"Q4_0", Layout::kQ4_0PairsF32, 32, 20, DType::Q4_0};
      if (v == 2) return LegacyType{"Q4_0", Layout::kQ4_0F32, 32, 20, DType::Q4_0};
      return LegacyType{"Q4_0", Layout::kPlain, 32, 18, DType::Q4_0};
    case 3:
      if (v <= 1) return LegacyType{"Q4_1", Layout::kQ4_1PairsF32, 32, 24, DType::Q4_1};
      if (v == 2) return LegacyType{"Q4_1", Layout::kQ4_1F32, 32, 24, DType::Q4_1};
      return LegacyType{"Q4_1", Layout::kPlain, 32, 20, DType::Q4_1};
    case 4:
      if (v == 1) return LegacyType{"Q4_2", Layout::kQ4_2, 16, 10, DType::F32};
      return std::nullopt;
    case 5:
      if (v == 1) return LegacyType{"Q4_3", Layout::kQ4_3, 16, 12, DType::F32};
      return std::nullopt;
    case 6:  // Q5_0/Q5_1 of ggjt v1 used another bit order; from v2 on they are today's blocks
      if (v >= 2) return LegacyType{"Q5_0", Layout::kPlain, 32, 22, DType::Q5_0};
      return std::nullopt;
    case 7:
      if (v >= 2) return LegacyType{"Q5_1", Layout::kPlain, 32, 24, DType::Q5_1};
      return std::nullopt;
    case 8:
      if (v == 1 || v == 2) return LegacyType{"Q8_0", Layout::kQ8_0F32, 32, 36, DType::Q8_0};
      if (v >= 3) return LegacyType{"Q8_0", Layout::kPlain, 32, 34, DType::Q8_0};
      return std::nullopt;
    default: break;
  }
  if (v >= 3 && id >= 10 && id <= 14) {  // K-quants arrived in ggjt v3 files without a version bump
    if (auto t = dtype_from_ggml(static_cast<uint32_t>(id))) {
      const auto& info = dtype_info(*t);
      return LegacyType{info.name, Layout::kPlain, info.block_size, info.block_bytes, *t};
    }
  }
  return std::nullopt;
}

uint64_t n_ff_from_n_mult(uint64_t n_embd, uint64_t n_mult) {
  return ((2 * (4 * n_embd) / 3 + n_mult - 1) / n_mult) * n_mult;
}

std::optional<uint32_t> n_mult_for(uint64_t n_embd, uint64_t n_ff) {
  for (uint32_t m = 256; m >= 1; --m)
    if (n_ff_from_n_mult(n_embd, m) == n_ff) return m;
  if (n_ff <= INT32_MAX && n_ff_from_n_mult(n_embd, n_ff) == n_ff) return static_cast<uint32_t>(n_ff);
  return std::nullopt;
}

std::string ftype_name(int32_t ftype) {
  static const char* const names[] = {"ALL_F32", "MOSTLY_F16", "MOSTLY_Q4_0", "MOSTLY_Q4_1", "MOSTLY_Q4_1_SOME_F16",
                                      "MOSTLY_Q4_2", "MOSTLY_Q4_3", "MOSTLY_Q8_0", "MOSTLY_Q5_0", "MOSTLY_Q5_1",
                                      "MOSTLY_Q2_K", "MOSTLY_Q3_K_S", "MOSTLY_Q3_K_M", "MOSTLY_Q3_K_L",
                                      "MOSTLY_Q4_K_S", "MOSTLY_Q4_K_M", "MOSTLY_Q5_K_S", "MOSTLY_Q5_K_M", "MOSTLY_Q6_K"};
  if (ftype >= 0 && ftype < static_cast<int32_t>(sizeof names / sizeof names[0])) return names[ftype];
  return "unknown (" + std::to_string(ftype) + ")";
}

namespace {
const std::string kSpaceMark = "\xE2\x96\x81";     // U+2581, SentencePiece's word boundary
const std::string kUnknownText = " \xE2\x81\x87 ";  // " U+2047 ", what sp.id_to_piece decoding gave <unk>

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

std::optional<uint8_t> byte_piece_value(const std::string& piece) {
  // "<0xAB>"
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return std::nullopt;
  unsigned v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char ch = piece[i];
    v <<= 4;
    if (ch >= '0' && ch <= '9') v |= static_cast<unsigned>(ch - '0');
    else if (ch >= 'A' && ch <= 'F') v |= static_cast<unsigned>(ch - 'A' + 10);
    else if (ch >= 'a' && ch <= 'f') v |= static_cast<unsigned>(ch - 'a' + 10);
    else return std::nullopt;
  }
  return static_cast<uint8_t>(v);
}
}  // namespace

std::string legacy_text_for_piece(const std::string& piece, int32_t type) {
  if (type == kUnknown) return kUnknownText;
  if (type == kControl) return "";
  if (type == kByte)
    if (auto b = byte_piece_value(piece)) return std::string(1, static_cast<char>(*b));
  return replace_all(piece, kSpaceMark, " ");
}

PieceAndType piece_for_legacy_text(uint32_t id, const std::string& text) {
  if (id == 0) return {"<unk>", kUnknown};
  if (id == 1) return {"<s>", kControl};
  if (id == 2) return {"</s>", kControl};
  if (text.empty()) return {"", kControl};
  if (id >= 3 && id <= 258 && text.size() == 1 && static_cast<uint8_t>(text[0]) == id - 3) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", id - 3);
    return {buf, kByte};
  }
  return {replace_all(text, " ", kSpaceMark), kNormal};
}

}  // namespace lmforge::ggml_legacy
