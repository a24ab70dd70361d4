// A strict reader for the central directory of a ZIP archive (torch.save >= 1.6 checkpoints).
//
// Only what a checkpoint needs: find entries by name and hand out their bytes as views into
// the mapped file. Everything is validated when the archive is opened, because the entry
// table is the attacker's map of the file: sizes and offsets must stay inside the file,
// entries must not overlap, names must be unique and must not look like paths that escape
// a folder. Nothing is ever extracted to disk.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"

namespace lmforge {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;               // 0 = stored, 8 = deflate, ...
  uint16_t flags = 0;                // general-purpose bit flags (central directory)
  uint32_t crc32 = 0;                // from the central directory
  uint64_t compressed_size = 0;      // from the central directory (zip64-aware)
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;  // absolute
  uint64_t data_offset = 0;          // absolute: local header + 30 + local name + local extra
};

class ZipArchive {
 public:
  // Parses and validates the archive held by `file`; the archive keeps the mapping alive.
  static ZipArchive open(std::shared_ptr<const MappedFile> file);
  // Same over plain bytes (tests, fuzzing); the caller keeps `bytes` alive.
  static ZipArchive parse(std::span<const uint8_t> bytes, std::string file_name);

  const std::string& file_name() const { return file_name_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;

  // The stored bytes of an entry. Throws lmforge::Error for compressed entries.
  std::span<const uint8_t> data(const ZipEntry& entry) const;
  // True when the CRC-32 of the entry's bytes matches the central directory.
  bool crc_matches(const ZipEntry& entry) const;

  const std::shared_ptr<const MappedFile>& mapped_file() const { return file_; }

 private:
  ZipArchive() = default;
  void read_directory();

  std::shared_ptr<const MappedFile> file_;  // may be null when parsed from plain bytes
  std::span<const uint8_t> bytes_;
  std::string file_name_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
};

// CRC-32 (IEEE 802.3, reflected, as used by ZIP).
uint32_t zip_crc32(std::span<const uint8_t> bytes);

}  // namespace lmforge
