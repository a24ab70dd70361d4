#include "formats/sentencepiece_model_writer.h"

#include <cstring>
#include <string>

namespace lmforge {

namespace {

// Field numbers from sentencepiece_model.proto (ModelProto, SentencePiece, TrainerSpec,
// NormalizerSpec); the same numbers the reader uses.
class ProtoWriter {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
  }
  void tag(uint32_t field, uint32_t wire) { varint(static_cast<uint64_t>(field) << 3 | wire); }
  void int_field(uint32_t field, int64_t v) {  // int32/enum/bool: negative values take 10 bytes
    tag(field, 0);
    varint(static_cast<uint64_t>(v));
  }
  void float_field(uint32_t field, float v) {
    tag(field, 5);
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    out.insert(out.end(), b, b + 4);
  }
  void bytes_field(uint32_t field, const void* data, size_t n) {
    tag(field, 2);
    varint(n);
    const auto* p = static_cast<const uint8_t*>(data);
    out.insert(out.end(), p, p + n);
  }
  void string_field(uint32_t field, const std::string& s) { bytes_field(field, s.data(), s.size()); }
  void message_field(uint32_t field, const ProtoWriter& m) { bytes_field(field, m.out.data(), m.out.size()); }

  std::vector<uint8_t> out;
};

}  // namespace

std::vector<uint8_t> serialize_sentencepiece_model(const SentencePieceModel& model) {
  ProtoWriter root;
  for (const auto& p : model.pieces) {
    ProtoWriter piece;
    piece.string_field(1, p.piece);
    piece.float_field(2, p.score);
    if (p.type != 1) piece.int_field(3, p.type);  // NORMAL is the default
    root.message_field(1, piece);
  }

  ProtoWriter trainer;
  trainer.int_field(3, model.model_type);
  trainer.int_field(4, static_cast<int64_t>(model.pieces.size()));
  trainer.int_field(25, model.split_digits ? 1 : 0);
  trainer.int_field(35, model.byte_fallback ? 1 : 0);
  trainer.int_field(40, model.unk_id);
  trainer.int_field(41, model.bos_id);
  trainer.int_field(42, model.eos_id);
  trainer.int_field(43, model.pad_id);
  root.message_field(2, trainer);

  ProtoWriter normalizer;
  normalizer.string_field(1, model.normalizer_name.empty() ? "identity" : model.normalizer_name);
  normalizer.int_field(3, model.add_dummy_prefix ? 1 : 0);
  normalizer.int_field(4, model.remove_extra_whitespaces ? 1 : 0);
  normalizer.int_field(5, model.escape_whitespaces ? 1 : 0);
  root.message_field(3, normalizer);
  return std::move(root.out);
}

}  // namespace lmforge
