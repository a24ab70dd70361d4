#include "formats/tf_checkpoint/sstable_reader.h"

#include <cstring>

#include "core/checked_math.h"
#include "core/error.h"
#include "formats/tf_checkpoint/crc32c.h"
#include "formats/tf_checkpoint/snappy_decompress.h"

namespace lmforge::tf {
namespace {

// A decompressed block may not be larger than this: TensorFlow writes 256 KiB blocks, and an
// index for even a huge model is a few MiB, so anything beyond is a hostile length.
constexpr uint64_t kMaxBlockBytes = 64ull << 20;
// Across the whole table (snappy lets a tiny file claim a lot of output).
constexpr uint64_t kMaxTableBytes = 256ull << 20;

uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// LEB128 varint of at most `max_bytes` bytes, bounded by `end`.
uint64_t read_varint(std::span<const uint8_t> bytes, size_t& pos, int max_bytes, const std::string& file,
                     uint64_t base, const char* what) {
  uint64_t v = 0;
  const size_t start = pos;
  for (int i = 0;; ++i) {
    if (i >= max_bytes) fail(file, std::string("bad varint: ") + what + " is longer than " + std::to_string(max_bytes) + " bytes", base + start);
    if (pos >= bytes.size()) fail(file, std::string("bad varint: ") + what + " runs past the end", base + start);
    const uint8_t b = bytes[pos++];
    if (i == max_bytes - 1 && (b >> (max_bytes == 5 ? 4 : 1)) != 0 && !(b & 0x80)) {
      fail(file, std::string("bad varint: ") + what + " overflows", base + start);
    }
    v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if (!(b & 0x80)) return v;
  }
}

BlockHandle read_handle(std::span<const uint8_t> bytes, size_t& pos, const std::string& file, uint64_t base,
                        const char* what) {
  BlockHandle h;
  h.offset = read_varint(bytes, pos, 10, file, base, what);
  h.size = read_varint(bytes, pos, 10, file, base, what);
  return h;
}

// The contents of the block at `h`, after checking its extent, trailer CRC and compression.
std::vector<uint8_t> read_block(std::span<const uint8_t> file_bytes, const BlockHandle& h, const std::string& file,
                                uint64_t handle_at, uint64_t& budget, const char* what) {
  const uint64_t limit = file_bytes.size() - kTableFooterSize;
  const auto end = checked_add(h.offset, h.size);
  const auto end_trailer = end ? checked_add(*end, kBlockTrailerSize) : std::nullopt;
  if (!end_trailer || *end_trailer > limit) {
    fail(file, std::string(what) + " handle points past the end of the table (offset " + std::to_string(h.offset) +
                   ", size " + std::to_string(h.size) + ", blocks end at " + std::to_string(limit) + ")",
         handle_at);
  }
  const auto contents = file_bytes.subspan(h.offset, h.size);
  const uint8_t type = file_bytes[*end];
  const uint32_t stored = load_u32(file_bytes.data() + *end + 1);
  const uint32_t actual = crc32c_extend(crc32c(contents), std::span<const uint8_t>(&type, 1));
  if (crc32c_unmask(stored) != actual) {
    fail(file, std::string(what) + " CRC-32C mismatch (stored masked " + std::to_string(stored) + ", computed " +
                   std::to_string(crc32c_mask(actual)) + ")",
         *end + 1);
  }
  std::vector<uint8_t> out;
  if (type == 0) {
    out.assign(contents.begin(), contents.end());
  } else if (type == 1) {
    out = snappy_decompress(contents, std::min(kMaxBlockBytes, budget), file, h.offset);
  } else {
    fail(file, std::string(what) + " has unknown compression type " + std::to_string(type) + " (0 none, 1 snappy)",
         *end);
  }
  if (out.size() > budget) fail(file, "table decompresses to more than " + std::to_string(kMaxTableBytes) + " bytes", h.offset);
  budget -= out.size();
  return out;
}

}  // namespace

bool has_table_magic(std::span<const uint8_t> bytes) {
  if (bytes.size() < kTableFooterSize) return false;
  const uint8_t* p = bytes.data() + bytes.size() - 8;
  const uint64_t magic = static_cast<uint64_t>(load_u32(p)) | static_cast<uint64_t>(load_u32(p + 4)) << 32;
  return magic == kTableMagic;
}

std::vector<TableEntry> parse_block(std::span<const uint8_t> contents, const std::string& file, uint64_t base) {
  if (contents.size() < 4) fail(file, "block of " + std::to_string(contents.size()) + " bytes is too short for its restart count", base);
  const uint64_t num_restarts = load_u32(contents.data() + contents.size() - 4);
  const uint64_t max_restarts = (contents.size() - 4) / 4;
  if (num_restarts == 0 || num_restarts > max_restarts) {
    fail(file, "block restart count " + std::to_string(num_restarts) + " does not fit the block (at most " +
                   std::to_string(max_restarts) + ", at least 1)",
         base + contents.size() - 4);
  }
  const size_t restarts_at = contents.size() - 4 - static_cast<size_t>(num_restarts) * 4;
  const auto entries = contents.first(restarts_at);

  // Restart offsets: strictly increasing, the first at 0, each at an entry with shared == 0
  // (checked below as the entries are walked).
  std::vector<uint32_t> restarts(static_cast<size_t>(num_restarts));
  for (size_t i = 0; i < restarts.size(); ++i) {
    restarts[i] = load_u32(contents.data() + restarts_at + 4 * i);
    const bool ordered = i == 0 ? true : restarts[i] > restarts[i - 1];
    if (!ordered || restarts[i] > restarts_at || (i == 0 && restarts[i] != 0)) {
        fail(file, "block restart point " + std::to_string(i) + " (" + std::to_string(restarts[i]) +
                     ") is out of order or outside the entries",
           base + restarts_at + 4 * i);
    }
  }

  std::vector<TableEntry> out;
  std::string key;
  size_t pos = 0;
  size_t next_restart = 0;
  while (pos < entries.size()) {
    const size_t entry_at = pos;
    const uint64_t shared = read_varint(entries, pos, 5, file, base, "shared key length");
    const uint64_t unshared = read_varint(entries, pos, 5, file, base, "unshared key length");
    const uint64_t value_len = read_varint(entries, pos, 5, file, base, "value length");
    if (shared > key.size()) {
      fail(file, "entry shares " + std::to_string(shared) + " key bytes but the previous key has only " +
                     std::to_string(key.size()),
           base + entry_at);
    }
    const bool is_restart = next_restart < restarts.size() && restarts[next_restart] == entry_at;
    if (is_restart) {
      ++next_restart;
      if (shared != 0) fail(file, "entry at a restart point shares bytes with the previous key", base + entry_at);
    } else if (next_restart < restarts.size() && restarts[next_restart] < entry_at) {
      fail(file, "block restart point " + std::to_string(restarts[next_restart]) + " is not at an entry",
           base + restarts_at + 4 * next_restart);
    }
    if (out.empty() && !is_restart) fail(file, "first entry of a block is not a restart point", base + entry_at);
    const uint64_t remaining = entries.size() - pos;
    if (unshared > remaining || value_len > remaining - unshared) {
      fail(file, "entry key/value (" + std::to_string(unshared) + " + " + std::to_string(value_len) +
                     " bytes) runs past the block's entries",
           base + entry_at);
    }
    std::string next_key = key.substr(0, static_cast<size_t>(shared));
    next_key.append(reinterpret_cast<const char*>(entries.data() + pos), static_cast<size_t>(unshared));
    pos += unshared;
    if (!out.empty() && !(key < next_key)) fail(file, "keys in a block are not strictly increasing", base + entry_at);
    key = std::move(next_key);
    TableEntry e;
    e.key = key;
    e.value.assign(reinterpret_cast<const char*>(entries.data() + pos), static_cast<size_t>(value_len));
    e.value_offset = base + pos;
    pos += value_len;
    out.push_back(std::move(e));
  }
  if (next_restart != restarts.size() && !(restarts_at == 0 && restarts.size() == 1 && restarts[0] == 0)) {
    fail(file, "block restart point " + std::to_string(restarts[next_restart]) + " is not at an entry",
         base + restarts_at + 4 * next_restart);
  }
  return out;
}

std::vector<TableEntry> read_sstable(std::span<const uint8_t> bytes, const std::string& file) {
  if (bytes.size() < kTableFooterSize) {
    fail(file, "too short for a table footer (" + std::to_string(bytes.size()) + " bytes, need 48)", 0);
  }
  const uint64_t footer_at = bytes.size() - kTableFooterSize;
  if (!has_table_magic(bytes)) fail(file, "bad table footer magic (not a LevelDB/TensorFlow table)", bytes.size() - 8);
  const auto footer = bytes.subspan(footer_at, 40);
  size_t pos = 0;
  const BlockHandle meta = read_handle(footer, pos, file, footer_at, "metaindex block handle");
  const size_t index_handle_pos = pos;
  const BlockHandle index = read_handle(footer, pos, file, footer_at, "index block handle");

  uint64_t budget = kMaxTableBytes;
  // The metaindex names filter blocks; TensorFlow writes none, but LevelDB may. Its contents
  // are only validated, not used.
  const auto meta_contents = read_block(bytes, meta, file, footer_at, budget, "metaindex block");
  parse_block(meta_contents, file, meta.offset);

  const auto index_contents = read_block(bytes, index, file, footer_at + index_handle_pos, budget, "index block");
  const auto index_entries = parse_block(index_contents, file, index.offset);

  std::vector<TableEntry> out;
  for (const auto& ie : index_entries) {
    const std::span<const uint8_t> hv(reinterpret_cast<const uint8_t*>(ie.value.data()), ie.value.size());
    size_t hp = 0;
    const BlockHandle h = read_handle(hv, hp, file, index.offset, "data block handle");
    if (hp != hv.size()) fail(file, "index entry holds trailing bytes after its block handle", index.offset);
    const auto contents = read_block(bytes, h, file, index.offset, budget, "data block");
    auto entries = parse_block(contents, file, h.offset);
    for (auto& e : entries) {
      if (!out.empty() && !(out.back().key < e.key)) {
        fail(file, "table keys are not strictly increasing across blocks", h.offset);
      }
      // The index key separates blocks: it is >= every key of its block.
      if (ie.key < e.key) fail(file, "data block holds a key past its index separator", h.offset);
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace lmforge::tf
