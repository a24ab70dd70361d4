#include "formats/zip/zip_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace lmforge {
namespace {

// Writes small stored-entry archives the way torch's writer does (sizes only in the central
// directory, padding in the local extra field), with knobs to break them.
struct Builder {
  struct Item {
    std::string name;
    std::string data;
    std::string local_name;  // defaults to name
    uint16_t pad = 0;        // bytes of local extra padding
    uint16_t method = 0;
    uint16_t flags = 0x0808;
    int64_t size_delta = 0;  // added to the central sizes
    int64_t offset_override = -1;
  };
  std::vector<Item> items;
  bool zip64 = false;
  std::string prefix, suffix;

  static void u16(std::string& s, uint16_t v) { s += char(v & 0xff); s += char(v >> 8); }
  static void u32(std::string& s, uint32_t v) { for (int i = 0; i < 4; ++i) s += char(v >> (8 * i)); }
  static void u64(std::string& s, uint64_t v) { for (int i = 0; i < 8; ++i) s += char(v >> (8 * i)); }

  std::string build() const {
    std::string out = prefix;
    std::vector<uint64_t> offsets;
    for (const auto& it : items) {
      offsets.push_back(out.size());
      const std::string& ln = it.local_name.empty() ? it.name : it.local_name;
      u32(out, 0x04034b50); u16(out, 0); u16(out, it.flags); u16(out, it.method);
      u32(out, 0); u32(out, 0); u32(out, 0); u32(out, 0);
      u16(out, static_cast<uint16_t>(ln.size()));
      u16(out, it.pad ? static_cast<uint16_t>(it.pad + 4) : 0);
      out += ln;
      if (it.pad) { out += "FB"; u16(out, it.pad); out += std::string(it.pad, 'Z'); }
      out += it.data;
    }
    const uint64_t cd = out.size();
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& it = items[i];
      const uint64_t size = it.data.size() + it.size_delta;
      const uint64_t off = it.offset_override >= 0 ? uint64_t(it.offset_override) : offsets[i];
      u32(out, 0x02014b50); u16(out, 0); u16(out, 0); u16(out, it.flags); u16(out, it.method);
      u32(out, 0); u32(out, 0);
      u32(out, zip64 ? 0xFFFFFFFF : uint32_t(size)); u32(out, zip64 ? 0xFFFFFFFF : uint32_t(size));
      u16(out, static_cast<uint16_t>(it.name.size())); u16(out, zip64 ? 28 : 0); u16(out, 0);
      u16(out, 0); u16(out, 0); u32(out, 0); u32(out, zip64 ? 0xFFFFFFFF : uint32_t(off));
      out += it.name;
      if (zip64) { u16(out, 1); u16(out, 24); u64(out, size); u64(out, size); u64(out, off); }
    }
    const uint64_t cd_size = out.size() - cd;
    if (zip64) {
      const uint64_t rec = out.size();
      u32(out, 0x06064b50); u64(out, 44); u16(out, 45); u16(out, 45); u32(out, 0); u32(out, 0);
      u64(out, items.size()); u64(out, items.size()); u64(out, cd_size); u64(out, cd);
      u32(out, 0x07064b50); u32(out, 0); u64(out, rec); u32(out, 1);
    }
    u32(out, 0x06054b50); u16(out, 0); u16(out, 0);
    u16(out, zip64 ? 0xFFFF : uint16_t(items.size())); u16(out, zip64 ? 0xFFFF : uint16_t(items.size()));
    u32(out, zip64 ? 0xFFFFFFFF : uint32_t(cd_size)); u32(out, zip64 ? 0xFFFFFFFF : uint32_t(cd));
    u16(out, 0);
    return out + suffix;
  }
};

ZipArchive parse(const std::string& s) {
  return ZipArchive::parse({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, "t.zip");
}

std::string error_of(const std::string& s) {
  try {
    parse(s);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "archive opened but should have been refused";
  return "";
}

std::string text(const ZipArchive& z, const char* name) {
  const ZipEntry* e = z.find(name);
  if (!e) return "<missing>";
  auto d = z.data(*e);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

Builder two() {
  Builder b;
  b.items.push_back({"arc/data.pkl", "hello", "", 22});
  b.items.push_back({"arc/data/0", std::string(16, 'x'), "", 7});
  return b;
}

TEST(ZipReader, ReadsStoredEntriesAfterLocalPadding) {
  const std::string bytes = two().build();
  auto z = parse(bytes);
  ASSERT_EQ(z.entries().size(), 2u);
  EXPECT_EQ(text(z, "arc/data.pkl"), "hello");
  EXPECT_EQ(text(z, "arc/data/0"), std::string(16, 'x'));
  EXPECT_EQ(z.find("arc/data.pkl")->data_offset, 30u + 12 + 26);
  EXPECT_EQ(z.find("nope"), nullptr);
}

TEST(ZipReader, ReadsZip64Directory) {
  Builder b = two();
  b.zip64 = true;
  auto z = parse(b.build());
  EXPECT_EQ(text(z, "arc/data/0"), std::string(16, 'x'));
  EXPECT_EQ(z.entries()[1].compressed_size, 16u);
}

TEST(ZipReader, Crc32) {
  const std::string s = "123456789";
  EXPECT_EQ(zip_crc32({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
}

TEST(ZipReader, RefusesTraversalAndOddNames) {
  for (const std::string& name : std::vector<std::string>{"../evil", "a/../../b", "/etc/passwd", "a\\b", std::string("a\0b", 3), "C:/x", ""}) {
    Builder b;
    b.items.push_back({name, "x"});
    EXPECT_NE(error_of(b.build()).find("zip entry name"), std::string::npos) << name;
  }
}

TEST(ZipReader, RefusesDuplicatesOverlapsAndMismatches) {
  Builder dup = two();
  dup.items[1].name = dup.items[1].local_name = "arc/data.pkl";
  EXPECT_NE(error_of(dup.build()).find("appears twice"), std::string::npos);

  Builder overlap = two();
  overlap.items[1].offset_override = 0;  // both entries claim the first local header
  overlap.items[1].name = "arc/data.pkl2";
  EXPECT_NE(error_of(overlap.build()).find("different name"), std::string::npos);

  Builder grow = two();
  grow.items[0].size_delta = 20;  // first entry's data now covers the second's local header
  EXPECT_NE(error_of(grow.build()).find("overlap"), std::string::npos);

  Builder past = two();
  past.items[1].size_delta = 1000;
  EXPECT_NE(error_of(past.build()).find("data range"), std::string::npos);

  Builder renamed = two();
  renamed.items[0].local_name = "arc/other.pk";
  EXPECT_NE(error_of(renamed.build()).find("different name"), std::string::npos);

  Builder enc = two();
  enc.items[0].flags |= 1;
  EXPECT_NE(error_of(enc.build()).find("encrypted"), std::string::npos);
}

TEST(ZipReader, RefusesWrappedArchives) {
  Builder pre = two();
  pre.prefix = "junk";
  EXPECT_NE(error_of(pre.build()).find("bytes before its first entry"), std::string::npos);
  Builder post = two();
  post.suffix = "junk";
  EXPECT_NE(error_of(post.build()).find("end-of-central-directory"), std::string::npos);
  EXPECT_NE(error_of("PK\x05\x06").find("too small"), std::string::npos);
}

TEST(ZipReader, CompressedEntriesAreRefusedOnRead) {
  Builder b = two();
  b.items[1].method = 8;
  auto z = parse(b.build());
  try {
    z.data(*z.find("arc/data/0"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("entry 'arc/data/0' is compressed (method 8); only stored entries are supported"),
              std::string::npos);
  }
}

TEST(ZipReader, TruncatedAtEveryByteFailsCleanly) {
  for (bool z64 : {false, true}) {
    Builder b = two();
    b.zip64 = z64;
    const std::string all = b.build();
    for (size_t n = 0; n < all.size(); ++n) EXPECT_THROW(parse(all.substr(0, n)), Error) << n;
  }
}

TEST(ZipReader, EntryCountIsBoundedByDirectorySize) {
  std::string s = two().build();
  // Claim 0xFFFE entries in the EOCD.
  s[s.size() - 22 + 8] = s[s.size() - 22 + 10] = '\xfe';
  s[s.size() - 22 + 9] = s[s.size() - 22 + 11] = '\xff';
  EXPECT_NE(error_of(s).find("entries but its central directory has only"), std::string::npos);
}

}  // namespace
}  // namespace lmforge
