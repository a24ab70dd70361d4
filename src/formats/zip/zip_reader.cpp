#include "formats/zip/zip_reader.h"

#include <algorithm>
#include <array>

#include "core/byte_reader.h"
#include "core/checked_math.h"
#include "core/error.h"

namespace lmforge {

namespace {

// Record signatures and sizes from PKWARE's APPNOTE.TXT.
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEocdSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EocdMinSize = 56;
constexpr uint64_t kCentralSize = 46;
constexpr uint64_t kLocalSize = 30;
constexpr uint64_t kMaxComment = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;

constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagStrongEncryption = 0x0040;
constexpr uint16_t kFlagMaskedHeaders = 0x2000;

std::string quoted(std::string_view name) {
  std::string s = "'";
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      s += "\\x";
      s += hex[u >> 4];
      s += hex[u & 15];
    } else {
      s += c;
    }
  }
  return s + "'";
}

// A name that would escape a folder if someone extracted it, or that hides bytes a viewer
// would not show. We never extract, but such a name has no business in a checkpoint.
const char* bad_name_reason(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (name.find('\\') != std::string_view::npos) return "contains a backslash";
  if (name.front() == '/') return "is an absolute path";
  if (name.size() >= 2 && name[1] == ':') return "starts with a drive letter";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return "contains a '..' component";
    start = end + 1;
  }
  return nullptr;
}

struct Eocd {
  uint64_t pos = 0;  // absolute offset of the classic end-of-central-directory record
  uint64_t entries = 0;
  uint64_t cd_size = 0;
  uint64_t cd_offset = 0;
  uint64_t cd_end_limit = 0;  // where the central directory must end (EOCD or zip64 record)
};

}  // namespace

uint32_t zip_crc32(std::span<const uint8_t> bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

ZipArchive ZipArchive::open(std::shared_ptr<const MappedFile> file) {
  ZipArchive z;
  z.bytes_ = file->bytes();
  z.file_name_ = file->path();
  z.file_ = std::move(file);
  z.read_directory();
  return z;
}

ZipArchive ZipArchive::parse(std::span<const uint8_t> bytes, std::string file_name) {
  ZipArchive z;
  z.bytes_ = bytes;
  z.file_name_ = std::move(file_name);
  z.read_directory();
  return z;
}

void ZipArchive::read_directory() {
  const uint64_t size = bytes_.size();
  ByteReader r(bytes_, file_name_);
  if (size < kEocdSize) fail(file_name_, "too small to be a zip archive", 0);

  // The EOCD sits in the last 22 + 65535 (comment) bytes. Scan backwards and take the first
  // record whose comment runs exactly to the end of the file: bytes appended after the
  // archive (a polyglot trick) leave no such record and are refused.
  Eocd e;
  bool found = false;
  const uint64_t lowest = size > kEocdSize + kMaxComment ? size - kEocdSize - kMaxComment : 0;
  for (uint64_t p = size - kEocdSize + 1; p-- > lowest;) {
    r.seek(p);
    if (r.u32() != kEocdSig) continue;
    r.seek(p + 20);
    const uint16_t comment_len = r.u16();
    if (p + kEocdSize + comment_len != size) continue;
    e.pos = p;
    found = true;
    break;
  }
  if (!found) {
    fail(file_name_,
         "no zip end-of-central-directory record at the end of the file (not a zip archive, "
         "truncated, or has bytes appended)");
  }

  r.seek(e.pos + 4);
  const uint16_t disk = r.u16();
  const uint16_t cd_disk = r.u16();
  const uint16_t entries_here = r.u16();
  const uint16_t entries_total = r.u16();
  const uint32_t cd_size32 = r.u32();
  const uint32_t cd_offset32 = r.u32();
  e.entries = entries_total;
  e.cd_size = cd_size32;
  e.cd_offset = cd_offset32;
  e.cd_end_limit = e.pos;

  const bool wants_zip64 = disk == 0xFFFF || cd_disk == 0xFFFF || entries_here == 0xFFFF ||
                           entries_total == 0xFFFF || cd_size32 == 0xFFFFFFFF ||
                           cd_offset32 == 0xFFFFFFFF;
  bool has_locator = false;
  if (e.pos >= kZip64LocatorSize) {
    r.seek(e.pos - kZip64LocatorSize);
    has_locator = r.u32() == kZip64LocatorSig;
  }
  if (has_locator) {
    const uint64_t loc = e.pos - kZip64LocatorSize;
    r.seek(loc + 4);
    const uint32_t z64_disk = r.u32();
    const uint64_t z64_pos = r.u64();
    const uint32_t disks = r.u32();
    if (z64_disk != 0 || disks > 1) fail(file_name_, "multi-disk zip archives are not supported", loc);
    if (z64_pos > loc || loc - z64_pos < kZip64EocdMinSize) {
      fail(file_name_, "zip64 end-of-central-directory offset " + std::to_string(z64_pos) +
                           " is outside the archive", loc);
    }
    r.seek(z64_pos);
    if (r.u32() != kZip64EocdSig) {
      fail(file_name_, "zip64 end-of-central-directory record has a bad signature", z64_pos);
    }
    const uint64_t rec_size = r.u64();
    // The record must run exactly up to the locator (extensible data included).
    if (checked_add(rec_size, 12) != loc - z64_pos) {
      fail(file_name_, "zip64 end-of-central-directory record size does not match its position",
           z64_pos);
    }
    r.skip(4);  // versions
    const uint32_t d = r.u32();
    const uint32_t cd_d = r.u32();
    const uint64_t n_here = r.u64();
    const uint64_t n_total = r.u64();
    if (d != 0 || cd_d != 0 || n_here != n_total) {
      fail(file_name_, "multi-disk zip archives are not supported", z64_pos);
    }
    e.entries = n_total;
    e.cd_size = r.u64();
    e.cd_offset = r.u64();
    e.cd_end_limit = z64_pos;
  } else {
    if (wants_zip64) {
      fail(file_name_, "zip end-of-central-directory needs zip64 values but has no zip64 locator",
           e.pos);
    }
    if (disk != 0 || cd_disk != 0 || entries_here != entries_total) {
      fail(file_name_, "multi-disk zip archives are not supported", e.pos);
    }
  }

  const auto cd_end = checked_add(e.cd_offset, e.cd_size);
  if (!cd_end || *cd_end != e.cd_end_limit) {
    fail(file_name_, "zip central directory [" + std::to_string(e.cd_offset) + ", " +
                         (cd_end ? std::to_string(*cd_end) : std::string("overflow")) +
                         ") does not end where the end record starts (" +
                         std::to_string(e.cd_end_limit) + ")", e.pos);
  }
  // Every entry takes at least 46 bytes, so the count is bounded before anything is reserved.
  if (e.entries > e.cd_size / kCentralSize) {
    fail(file_name_, "zip claims " + std::to_string(e.entries) + " entries but its central directory has only " +
                         std::to_string(e.cd_size) + " bytes", e.pos);
  }

  entries_.reserve(e.entries);
  r.seek(e.cd_offset);
  for (uint64_t i = 0; i < e.entries; ++i) {
    const uint64_t at = r.absolute_pos();
    if (r.u32("central directory entry") != kCentralSig) {
      fail(file_name_, "zip central directory entry " + std::to_string(i) + " has a bad signature", at);
    }
    ZipEntry z;
    r.skip(4);  // version made by, version needed
    z.flags = r.u16();
    z.method = r.u16();
    r.skip(4);  // time, date
    z.crc32 = r.u32();
    const uint32_t csize32 = r.u32();
    const uint32_t usize32 = r.u32();
    const uint16_t name_len = r.u16();
    const uint16_t extra_len = r.u16();
    const uint16_t comment_len = r.u16();
    const uint16_t disk_start = r.u16();
    r.skip(6);  // internal, external attributes
    const uint32_t local32 = r.u32();
    z.name = r.str(name_len, "zip entry name");
    auto extra = r.take(extra_len, "zip entry extra field");
    r.skip(comment_len);
    if (r.absolute_pos() > *cd_end) {
      fail(file_name_, "zip central directory entry " + std::to_string(i) + " runs past the directory", at);
    }

    z.compressed_size = csize32;
    z.uncompressed_size = usize32;
    z.local_header_offset = local32;
    uint32_t disk32 = disk_start;
    // Zip64 extended information: only the fields whose 32-bit value is saturated are
    // present, in this fixed order.
    ByteReader x(extra, file_name_, at + kCentralSize + name_len);
    while (x.remaining() >= 4) {
      const uint16_t id = x.u16();
      const uint16_t len = x.u16();
      ByteReader field(x.take(len, "zip extra field"), file_name_, x.absolute_pos() - len);
      if (id != kZip64ExtraId) continue;
      if (usize32 == 0xFFFFFFFF) z.uncompressed_size = field.u64("zip64 uncompressed size");
      if (csize32 == 0xFFFFFFFF) z.compressed_size = field.u64("zip64 compressed size");
      if (local32 == 0xFFFFFFFF) z.local_header_offset = field.u64("zip64 local header offset");
      if (disk_start == 0xFFFF) disk32 = field.u32("zip64 disk number");
    }

    if (const char* why = bad_name_reason(z.name)) {
      fail(file_name_, "zip entry name " + quoted(z.name) + " " + why, at);
    }
    if (disk32 != 0) fail(file_name_, "multi-disk zip archives are not supported", at);
    if (z.flags & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeaders)) {
      fail(file_name_, "zip entry " + quoted(z.name) + " is encrypted", at);
    }
    if (z.method == 0 && z.compressed_size != z.uncompressed_size) {
      fail(file_name_, "stored zip entry " + quoted(z.name) + " has different compressed (" +
                           std::to_string(z.compressed_size) + ") and uncompressed (" +
                           std::to_string(z.uncompressed_size) + ") sizes", at);
    }
    if (!by_name_.emplace(z.name, entries_.size()).second) {
      fail(file_name_, "zip entry name " + quoted(z.name) + " appears twice", at);
    }

    // The data starts after the LOCAL header, whose name and extra lengths may differ from
    // the central ones (torch pads the local extra field to align the data).
    const uint64_t lh = z.local_header_offset;
    if (lh > e.cd_offset || e.cd_offset - lh < kLocalSize) {
      fail(file_name_, "zip entry " + quoted(z.name) + " local header offset " + std::to_string(lh) +
                           " is not before the central directory", at);
    }
    ByteReader l(bytes_, file_name_);
    l.seek(lh);
    if (l.u32() != kLocalSig) {
      fail(file_name_, "zip entry " + quoted(z.name) + " has no local header at its offset", lh);
    }
    l.skip(2);
    const uint16_t lflags = l.u16();
    const uint16_t lmethod = l.u16();
    l.skip(16);  // time, date, crc, sizes (torch leaves them 0 and uses a data descriptor)
    const uint16_t lname_len = l.u16();
    const uint16_t lextra_len = l.u16();
    const std::string lname = l.str(lname_len, "zip local header name");
    if (lname != z.name) {
      fail(file_name_, "zip entry " + quoted(z.name) + " has a different name " + quoted(lname) +
                           " in its local header", lh);
    }
    if (lmethod != z.method || (lflags & kFlagEncrypted)) {
      fail(file_name_, "zip entry " + quoted(z.name) +
                           " local header disagrees with the central directory", lh);
    }
    z.data_offset = lh + kLocalSize + lname_len + lextra_len;
    const auto data_end = checked_add(z.data_offset, z.compressed_size);
    if (!data_end || *data_end > e.cd_offset) {
      fail(file_name_, "zip entry " + quoted(z.name) + " data range [" + std::to_string(z.data_offset) +
                           ", " + (data_end ? std::to_string(*data_end) : std::string("overflow")) +
                           ") runs into the central directory or past the end of the file", lh);
    }
    entries_.push_back(std::move(z));
  }
  if (r.absolute_pos() != *cd_end) {
    fail(file_name_, "zip central directory has bytes left after its last entry", r.absolute_pos());
  }

  // Entries must not share bytes: [local header, end of data) ranges are disjoint.
  std::vector<const ZipEntry*> order;
  order.reserve(entries_.size());
  for (const auto& z : entries_) order.push_back(&z);
  std::sort(order.begin(), order.end(), [](const ZipEntry* a, const ZipEntry* b) {
    return a->local_header_offset < b->local_header_offset;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const ZipEntry& prev = *order[i - 1];
    const ZipEntry& cur = *order[i];
    if (cur.local_header_offset < prev.data_offset + prev.compressed_size) {
      fail(file_name_, "zip entries " + quoted(prev.name) + " and " + quoted(cur.name) + " overlap",
           cur.local_header_offset);
    }
  }
  // Bytes before the first entry are a polyglot or a wrapper, not a checkpoint.
  if (!order.empty() && order.front()->local_header_offset != 0) {
    fail(file_name_, "zip archive has " + std::to_string(order.front()->local_header_offset) +
                         " unexplained bytes before its first entry", 0);
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::span<const uint8_t> ZipArchive::data(const ZipEntry& entry) const {
  if (entry.method != 0) {
    fail(file_name_, "entry " + quoted(entry.name) + " is compressed (method " +
                         std::to_string(entry.method) + "); only stored entries are supported",
         entry.local_header_offset);
  }
  // Checked against the file size when the directory was read.
  return bytes_.subspan(entry.data_offset, entry.compressed_size);
}

bool ZipArchive::crc_matches(const ZipEntry& entry) const {
  return zip_crc32(data(entry)) == entry.crc32;
}

}  // namespace lmforge
