// A bounds-checked walker over protobuf wire format (no schema, no code generation).
//
// tokenizer.model (SentencePiece) and .onnx files are protobuf messages; we read only the
// fields we need and skip the rest, so a full protobuf runtime would be dead weight. Every
// length is checked against the bytes that remain before it is used, and every failure is an
// lmforge::Error naming the file and the absolute byte offset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace lmforge::pb {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: refused, nothing we read uses them
  kEndGroup = 4,
  kFixed32 = 5,
};

std::string_view wire_type_name(WireType t);

struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;              // varint, fixed32 and fixed64 payloads
  std::span<const uint8_t> bytes;  // length-delimited payload
  uint64_t offset = 0;             // absolute offset of the tag
  uint64_t payload_offset = 0;     // absolute offset of bytes[0] (length-delimited)
};

class WireReader {
 public:
  // `base` is the absolute file offset of bytes[0], used for error messages.
  WireReader(std::span<const uint8_t> bytes, std::string file, uint64_t base = 0)
      : bytes_(bytes), file_(std::move(file)), base_(base) {}

  // Reads the next field into `f`; false at the end of the message. Throws on a truncated
  // or malformed field (bad tag, field number 0, overlong varint, length past the end, group).
  bool next(Field& f);

  uint64_t absolute_pos() const { return base_ + pos_; }
  const std::string& file() const { return file_; }

  // Typed views of the current field; each checks the wire type first so that a field of the
  // wrong type is reported instead of being misread. `what` names the field in messages.
  uint64_t as_uint64(const Field& f, std::string_view what) const;
  int32_t as_int32(const Field& f, std::string_view what) const;  // int32/enum (sign-extended)
  bool as_bool(const Field& f, std::string_view what) const;
  float as_float(const Field& f, std::string_view what) const;  // fixed32
  std::span<const uint8_t> as_bytes(const Field& f, std::string_view what) const;
  std::string as_string(const Field& f, std::string_view what) const;  // checks UTF-8

  // A reader over a nested message held in a length-delimited field.
  WireReader sub(const Field& f, std::string_view what) const;

  [[noreturn]] void fail_at(uint64_t absolute, const std::string& what) const;

 private:
  uint64_t read_varint(std::string_view what);
  void expect(const Field& f, WireType t, std::string_view what) const;

  std::span<const uint8_t> bytes_;
  std::string file_;
  uint64_t base_;
  uint64_t pos_ = 0;
};

}  // namespace lmforge::pb
