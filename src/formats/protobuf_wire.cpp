#include "formats/protobuf_wire.h"

#include <bit>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge::pb {

std::string_view wire_type_name(WireType t) {
  switch (t) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "64-bit";
    case WireType::kLengthDelimited:
      return "length-delimited";
    case WireType::kStartGroup:
      return "start-group";
    case WireType::kEndGroup:
      return "end-group";
    case WireType::kFixed32:
      return "32-bit";
  }
  return "unknown";
}

void WireReader::fail_at(uint64_t absolute, const std::string& what) const {
  fail(file_, what, absolute);
}

uint64_t WireReader::read_varint(std::string_view what) {
  const uint64_t start = pos_;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= bytes_.size()) fail_at(base_ + start, "truncated protobuf " + std::string(what));
    const uint8_t b = bytes_[pos_++];
    // The tenth byte may only carry the 64th bit; anything more does not fit in 64 bits.
    if (i == 9 && b > 1)
      fail_at(base_ + start, "protobuf " + std::string(what) + " overflows 64 bits");
    v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) return v;
  }
  fail_at(base_ + start, "protobuf " + std::string(what) + " is longer than 10 bytes");
}

bool WireReader::next(Field& f) {
  if (pos_ >= bytes_.size()) return false;
  f = Field{};
  f.offset = base_ + pos_;
  const uint64_t tag = read_varint("field tag");
  const uint64_t number = tag >> 3;
  const auto type = static_cast<uint8_t>(tag & 7);
  if (number == 0 || number > 0x1FFFFFFF)
    fail_at(f.offset, "invalid protobuf field number " + std::to_string(number));
  if (type > 5) fail_at(f.offset, "invalid protobuf wire type " + std::to_string(type));
  f.number = static_cast<uint32_t>(number);
  f.type = static_cast<WireType>(type);
  switch (f.type) {
    case WireType::kVarint:
      f.value = read_varint("varint");
      break;
    case WireType::kFixed64:
    case WireType::kFixed32: {
      const uint64_t n = f.type == WireType::kFixed64 ? 8 : 4;
      if (bytes_.size() - pos_ < n)
        fail_at(f.offset, "truncated protobuf field " + std::to_string(number) + ": needs " +
                              std::to_string(n) + " bytes");
      uint64_t v = 0;
      for (uint64_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
      f.value = v;
      pos_ += n;
      break;
    }
    case WireType::kLengthDelimited: {
      const uint64_t len = read_varint("length");
      if (len > bytes_.size() - pos_)
        fail_at(f.offset, "protobuf field " + std::to_string(number) + " declares " +
                              std::to_string(len) + " bytes but only " +
                              std::to_string(bytes_.size() - pos_) + " remain");
      f.payload_offset = base_ + pos_;
      f.bytes = bytes_.subspan(pos_, len);
      pos_ += len;
      break;
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      fail_at(f.offset, "protobuf field " + std::to_string(number) +
                            " uses deprecated groups, which are not supported");
  }
  return true;
}

void WireReader::expect(const Field& f, WireType t, std::string_view what) const {
  if (f.type != t)
    fail_at(f.offset, std::string(what) + " (protobuf field " + std::to_string(f.number) +
                          ") has wire type " + std::string(wire_type_name(f.type)) + ", expected " +
                          std::string(wire_type_name(t)));
}

uint64_t WireReader::as_uint64(const Field& f, std::string_view what) const {
  expect(f, WireType::kVarint, what);
  return f.value;
}

int32_t WireReader::as_int32(const Field& f, std::string_view what) const {
  expect(f, WireType::kVarint, what);
  // Negative int32 values are sign-extended to 64 bits on the wire; the low 32 bits are the
  // value (this is what protobuf itself does when it parses an int32).
  return static_cast<int32_t>(static_cast<uint32_t>(f.value));
}

bool WireReader::as_bool(const Field& f, std::string_view what) const {
  expect(f, WireType::kVarint, what);
  return f.value != 0;
}

float WireReader::as_float(const Field& f, std::string_view what) const {
  expect(f, WireType::kFixed32, what);
  return std::bit_cast<float>(static_cast<uint32_t>(f.value));
}

std::span<const uint8_t> WireReader::as_bytes(const Field& f, std::string_view what) const {
  expect(f, WireType::kLengthDelimited, what);
  return f.bytes;
}

std::string WireReader::as_string(const Field& f, std::string_view what) const {
  auto b = as_bytes(f, what);
  std::string s(reinterpret_cast<const char*>(b.data()), b.size());
  if (auto bad = find_invalid_utf8(s))
    fail_at(f.payload_offset + *bad, std::string(what) + " is not valid UTF-8");
  return s;
}

WireReader WireReader::sub(const Field& f, std::string_view what) const {
  return WireReader(as_bytes(f, what), file_, f.payload_offset);
}

}  // namespace lmforge::pb
