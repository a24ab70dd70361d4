// Field numbers are those of sentencepiece_model.proto (checked against the descriptor that
// ships with the sentencepiece Python package): ModelProto {1 pieces, 2 trainer_spec,
// 3 normalizer_spec}; SentencePiece {1 piece, 2 score, 3 type}; TrainerSpec {3 model_type,
// 4 vocab_size, 25 split_digits, 35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id};
// NormalizerSpec {1 name, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces}.
#include "formats/sentencepiece_model.h"

#include "core/error.h"
#include "formats/protobuf_wire.h"

namespace lmforge {

namespace {

SentencePieceModel::Piece parse_piece(pb::WireReader r) {
  SentencePieceModel::Piece p;  // proto defaults: score 0, type NORMAL
  pb::Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1:
        p.piece = r.as_string(f, "piece text");
        break;
      case 2:
        p.score = r.as_float(f, "piece score");
        break;
      case 3: {
        const int32_t t = r.as_int32(f, "piece type");
        if (t < 1 || t > 6) r.fail_at(f.offset, "piece type " + std::to_string(t) + " is not 1..6");
        p.type = t;
        break;
      }
      default:
        break;  // unknown fields are skipped, as protobuf does
    }
  }
  return p;
}

void parse_trainer_spec(pb::WireReader r, SentencePieceModel& m) {
  pb::Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 3:
        m.model_type = r.as_int32(f, "trainer_spec.model_type");
        break;
      case 4:
        m.vocab_size = r.as_int32(f, "trainer_spec.vocab_size");
        break;
      case 25:
        m.split_digits = r.as_bool(f, "trainer_spec.split_digits");
        break;
      case 35:
        m.byte_fallback = r.as_bool(f, "trainer_spec.byte_fallback");
        break;
      case 40:
        m.unk_id = r.as_int32(f, "trainer_spec.unk_id");
        break;
      case 41:
        m.bos_id = r.as_int32(f, "trainer_spec.bos_id");
        break;
      case 42:
        m.eos_id = r.as_int32(f, "trainer_spec.eos_id");
        break;
      case 43:
        m.pad_id = r.as_int32(f, "trainer_spec.pad_id");
        break;
      default:
        break;
    }
  }
}

void parse_normalizer_spec(pb::WireReader r, SentencePieceModel& m) {
  pb::Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1:
        m.normalizer_name = r.as_string(f, "normalizer_spec.name");
        break;
      case 3:
        m.add_dummy_prefix = r.as_bool(f, "normalizer_spec.add_dummy_prefix");
        break;
      case 4:
        m.remove_extra_whitespaces = r.as_bool(f, "normalizer_spec.remove_extra_whitespaces");
        break;
      case 5:
        m.escape_whitespaces = r.as_bool(f, "normalizer_spec.escape_whitespaces");
        break;
      default:
        break;
    }
  }
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(std::span<const uint8_t> bytes,
                                             const std::string& file) {
  SentencePieceModel m;
  pb::WireReader r(bytes, file, 0);
  pb::Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1:
        m.pieces.push_back(parse_piece(r.sub(f, "pieces")));
        break;
      case 2:
        parse_trainer_spec(r.sub(f, "trainer_spec"), m);
        break;
      case 3:
        parse_normalizer_spec(r.sub(f, "normalizer_spec"), m);
        break;
      default:
        break;
    }
  }
  if (m.pieces.empty()) fail(file, "SentencePiece model has no pieces", 0);

  // Special ids must name a piece (or be -1 = disabled); anything else would index past the
  // vocabulary in every consumer.
  const auto n = static_cast<int64_t>(m.pieces.size());
  auto check_id = [&](int32_t id, const char* what) {
    if (id < -1 || id >= n)
      fail(file, std::string("SentencePiece ") + what + " " + std::to_string(id) +
                     " is outside the vocabulary of " + std::to_string(n) + " pieces");
  };
  check_id(m.unk_id, "unk_id");
  check_id(m.bos_id, "bos_id");
  check_id(m.eos_id, "eos_id");
  check_id(m.pad_id, "pad_id");
  return m;
}

}  // namespace lmforge
