// Reader for the LevelDB table format ("SSTable"), which TensorFlow uses for checkpoint
// `.index` files (tensorflow/core/lib/io/table*, LevelDB doc/table_format.md).
//
// Layout: data blocks, a metaindex block, an index block, then a 48-byte footer holding the
// BlockHandles (varint64 offset + varint64 size) of the metaindex and index blocks and the
// magic 0xdb4775248b80fb57. Each block is followed by a 5-byte trailer: a compression type
// (0 none, 1 snappy) and the masked CRC-32C of the contents plus that type byte. Inside a
// block, entries are prefix-compressed against the previous key (shared/unshared/value
// varint32 lengths) and an array of u32 restart offsets closes the block.
//
// Index files are small (one entry per tensor), so the whole table is read into memory at
// once: every block is CRC-checked, every entry bounds-checked, and keys must be strictly
// increasing across the table, as the format guarantees.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmforge::tf {

inline constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
inline constexpr uint64_t kTableFooterSize = 48;
inline constexpr uint64_t kBlockTrailerSize = 5;

struct TableEntry {
  std::string key;
  std::string value;
  // Absolute offset of the value, for error messages (exact for uncompressed blocks; for a
  // snappy block it is the block's offset plus the position in the decompressed bytes).
  uint64_t value_offset = 0;
};

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;  // contents only, without the 5-byte trailer
};

// True when the last 8 bytes of `bytes` are the table magic.
bool has_table_magic(std::span<const uint8_t> bytes);

// Every key/value pair of the table in `bytes`, in key order. Throws lmforge::Error naming
// `file` and a byte offset on any malformed structure, CRC mismatch or out-of-order key.
std::vector<TableEntry> read_sstable(std::span<const uint8_t> bytes, const std::string& file);

// The entries of one block's contents (trailer already removed and checked); `base` is the
// contents' absolute offset. Exposed for the fuzz harness and unit tests.
std::vector<TableEntry> parse_block(std::span<const uint8_t> contents, const std::string& file, uint64_t base);

}  // namespace lmforge::tf
