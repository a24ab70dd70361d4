#include "formats/tf_checkpoint/snappy_decompress.h"

#include "core/error.h"

namespace lmforge::tf {

// Format (google/snappy format_description.txt): a varint32 uncompressed length, then
// elements whose tag byte's low two bits say what follows:
//   00 literal: length-1 in the upper six bits, or (60..63) in the next 1..4 bytes (LE);
//   01 copy: length 4..11 from bits 2..4, offset = bits 5..7 << 8 | next byte;
//   10 copy: length 1..64 from the upper six bits, offset = next 2 bytes (LE);
//   11 copy: as 10 but a 4-byte offset.
std::vector<uint8_t> snappy_decompress(std::span<const uint8_t> in, uint64_t max_output, const std::string& file,
                                       uint64_t base) {
  size_t pos = 0;
  auto need = [&](size_t n, const char* what) {
    if (n > in.size() - pos) fail(file, std::string("snappy block truncated in ") + what, base + pos);
  };
  uint64_t declared = 0;
  for (int shift = 0;; shift += 7) {
    if (shift > 28) fail(file, "snappy block: overlong length varint", base);
    need(1, "the length");
    const uint8_t b = in[pos++];
    declared |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
  }
  if (declared > 0xFFFFFFFFu) fail(file, "snappy block: length does not fit 32 bits", base);
  if (declared > max_output) {
    fail(file, "snappy block claims " + std::to_string(declared) + " bytes uncompressed, more than the " +
                   std::to_string(max_output) + "-byte limit",
         base);
  }
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(declared));
  while (pos < in.size()) {
    const uint64_t tag_at = base + pos;
    const uint8_t tag = in[pos++];
    uint64_t len = 0;
    uint64_t offset = 0;
    switch (tag & 3) {
      case 0: {
        len = tag >> 2;
        if (len >= 60) {
          const size_t nb = len - 59;
          need(nb, "a literal length");
          len = 0;
          for (size_t i = 0; i < nb; ++i) len |= static_cast<uint64_t>(in[pos + i]) << (8 * i);
          pos += nb;
        }
        len += 1;
        if (len > in.size() - pos) fail(file, "snappy literal runs past the end of the block", tag_at);
        if (len > declared - out.size()) fail(file, "snappy output longer than its declared length", tag_at);
        out.insert(out.end(), in.begin() + static_cast<ptrdiff_t>(pos), in.begin() + static_cast<ptrdiff_t>(pos + len));
        pos += len;
        continue;
      }
      case 1:
        need(1, "a copy offset");
        len = 4 + ((tag >> 2) & 7);
        offset = static_cast<uint64_t>(tag >> 5) << 8 | in[pos];
        pos += 1;
        break;
      case 2:
        need(2, "a copy offset");
        len = 1 + (tag >> 2);
        offset = in[pos] | static_cast<uint64_t>(in[pos + 1]) << 8;
        pos += 2;
        break;
      default:
        need(4, "a copy offset");
        len = 1 + (tag >> 2);
        offset = in[pos] | static_cast<uint64_t>(in[pos + 1]) << 8 | static_cast<uint64_t>(in[pos + 2]) << 16 |
                 static_cast<uint64_t>(in[pos + 3]) << 24;
        pos += 4;
        break;
    }
    if (offset == 0 || offset > out.size()) fail(file, "snappy copy refers before the start of the output", tag_at);
    if (len > declared - out.size()) fail(file, "snappy output longer than its declared length", tag_at);
    // Byte by byte: a copy may overlap the bytes it produces (offset < len repeats a run).
    size_t from = out.size() - offset;
    for (uint64_t i = 0; i < len; ++i) out.push_back(out[from++]);
  }
  if (out.size() != declared) {
    fail(file, "snappy block decodes to " + std::to_string(out.size()) + " bytes, not the declared " +
                   std::to_string(declared),
         base);
  }
  return out;
}

}  // namespace lmforge::tf
