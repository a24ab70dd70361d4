// A bounds-checked cursor over untrusted bytes.
//
// Every read checks the remaining length first and throws lmforge::Error naming the file and
// the absolute byte offset, so a parser built on it cannot read past its input.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lmforge {

class ByteReader {
 public:
  // `base` is the absolute file offset of bytes[0], used only for error messages.
  ByteReader(std::span<const uint8_t> bytes, std::string file, uint64_t base = 0)
      : bytes_(bytes), file_(std::move(file)), base_(base) {}

  uint64_t pos() const { return pos_; }
  uint64_t absolute_pos() const { return base_ + pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  uint64_t size() const { return bytes_.size(); }
  bool at_end() const { return pos_ == bytes_.size(); }
  const std::string& file() const { return file_; }

  // Multi-byte values are little-endian unless set_big_endian(true).
  void set_big_endian(bool be) { big_endian_ = be; }
  bool big_endian() const { return big_endian_; }

  void seek(uint64_t pos) {
    if (pos > bytes_.size()) fail_here("offset " + std::to_string(pos) + " is past the end");
    pos_ = pos;
  }
  void skip(uint64_t n) { take(n, "skipped bytes"); }

  std::span<const uint8_t> take(uint64_t n, std::string_view what) {
    if (n > remaining()) {
      fail_here("truncated: " + std::string(what) + " needs " + std::to_string(n) +
                " bytes but only " + std::to_string(remaining()) + " remain");
    }
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  uint8_t u8(std::string_view what = "u8") { return take(1, what)[0]; }
  uint16_t u16(std::string_view what = "u16") { return read_int<uint16_t>(what); }
  uint32_t u32(std::string_view what = "u32") { return read_int<uint32_t>(what); }
  uint64_t u64(std::string_view what = "u64") { return read_int<uint64_t>(what); }
  int8_t i8(std::string_view what = "i8") { return static_cast<int8_t>(u8(what)); }
  int16_t i16(std::string_view what = "i16") { return static_cast<int16_t>(u16(what)); }
  int32_t i32(std::string_view what = "i32") { return static_cast<int32_t>(u32(what)); }
  int64_t i64(std::string_view what = "i64") { return static_cast<int64_t>(u64(what)); }
  float f32(std::string_view what = "f32") { return std::bit_cast<float>(u32(what)); }
  double f64(std::string_view what = "f64") { return std::bit_cast<double>(u64(what)); }

  // `n` raw bytes as a string (no encoding check).
  std::string str(uint64_t n, std::string_view what) {
    auto s = take(n, what);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }

  [[noreturn]] void fail_here(const std::string& what) const { fail(file_, what, absolute_pos()); }
  [[noreturn]] void fail_at(uint64_t pos, const std::string& what) const {
    fail(file_, what, base_ + pos);
  }

 private:
  template <typename T>
  static T byteswap(T v) {
    if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(v));
    if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(v));
    if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(v));
    return v;
  }

  template <typename T>
  T read_int(std::string_view what) {
    auto s = take(sizeof(T), what);
    T v;
    std::memcpy(&v, s.data(), sizeof(T));
    if (big_endian_) v = byteswap(v);
    return v;
  }

  std::span<const uint8_t> bytes_;
  std::string file_;
  uint64_t base_;
  uint64_t pos_ = 0;
  bool big_endian_ = false;
};

}  // namespace lmforge
