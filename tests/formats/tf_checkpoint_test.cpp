// Unit tests of the TensorFlow checkpoint layers: CRC-32C, snappy, SSTable blocks, bundle
// entries, and the TF checkpoint / .pb readers on hand-built bytes. The end-to-end check
// against LevelDB and numpy is tests/oracles/check_tf_checkpoint.py, which also drives the
// TfSSTableOracle hook at the bottom of this file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/tf_checkpoint/crc32c.h"
#include "formats/tf_checkpoint/snappy_decompress.h"
#include "formats/tf_checkpoint/sstable_reader.h"
#include "formats/tf_checkpoint/tensor_bundle.h"
#include "formats/tf_checkpoint/tf_checkpoint_reader.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

void put_varint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
void put_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A block in the table format, every `restart` keys a restart point (sorted input).
Bytes make_block(const std::vector<std::pair<std::string, std::string>>& kv, int restart) {
  Bytes out;
  std::vector<uint32_t> restarts;
  std::string prev;
  for (size_t i = 0; i < kv.size(); ++i) {
    size_t shared = 0;
    if (i % static_cast<size_t>(restart) == 0) {
      restarts.push_back(static_cast<uint32_t>(out.size()));
    } else {
      while (shared < prev.size() && shared < kv[i].first.size() && prev[shared] == kv[i].first[shared]) ++shared;
    }
    put_varint(out, shared);
    put_varint(out, kv[i].first.size() - shared);
    put_varint(out, kv[i].second.size());
    out.insert(out.end(), kv[i].first.begin() + static_cast<ptrdiff_t>(shared), kv[i].first.end());
    out.insert(out.end(), kv[i].second.begin(), kv[i].second.end());
    prev = kv[i].first;
  }
  if (restarts.empty()) restarts.push_back(0);
  for (uint32_t r : restarts) put_u32(out, r);
  put_u32(out, static_cast<uint32_t>(restarts.size()));
  return out;
}

// Appends block + trailer to `file`; returns its handle encoded as varints.
std::string append_block(Bytes& file, const Bytes& contents) {
  Bytes handle;
  put_varint(handle, file.size());
  put_varint(handle, contents.size());
  file.insert(file.end(), contents.begin(), contents.end());
  const uint8_t type = 0;
  file.push_back(type);
  put_u32(file, tf::crc32c_mask(tf::crc32c_extend(tf::crc32c(contents), {&type, 1})));
  return std::string(handle.begin(), handle.end());
}

// A whole table: one data block per `per_block` keys.
Bytes make_table(const std::vector<std::pair<std::string, std::string>>& kv, size_t per_block = 1000) {
  Bytes file;
  std::vector<std::pair<std::string, std::string>> index;
  for (size_t i = 0; i < kv.size(); i += per_block) {
    std::vector<std::pair<std::string, std::string>> part(kv.begin() + static_cast<ptrdiff_t>(i),
                                                          kv.begin() + static_cast<ptrdiff_t>(std::min(kv.size(), i + per_block)));
    index.emplace_back(part.back().first, append_block(file, make_block(part, 2)));
  }
  const std::string meta = append_block(file, make_block({}, 1));
  const std::string idx = append_block(file, make_block(index, 1));
  Bytes footer(meta.begin(), meta.end());
  footer.insert(footer.end(), idx.begin(), idx.end());
  footer.resize(40, 0);
  put_u32(footer, 0x8B80FB57u);
  put_u32(footer, 0xDB477524u);
  file.insert(file.end(), footer.begin(), footer.end());
  return file;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "(no error)";
}

TEST(TfCrc32c, KnownValuesAndMask) {
  // The CRC-32C check value from the Castagnoli polynomial's catalogue entry.
  EXPECT_EQ(tf::crc32c(bytes_of("123456789")), 0xE3069283u);
  EXPECT_EQ(tf::crc32c({}), 0u);
  const Bytes zeros(32, 0);
  EXPECT_EQ(tf::crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  const Bytes ones(32, 0xFF);
  EXPECT_EQ(tf::crc32c(ones), 0x62A8AB43u);
  for (uint32_t c : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu}) EXPECT_EQ(tf::crc32c_unmask(tf::crc32c_mask(c)), c);
  EXPECT_NE(tf::crc32c_mask(0x12345678u), 0x12345678u);
  // Extending in pieces is the same as one pass.
  const Bytes all = bytes_of("hello, tensor bundle");
  EXPECT_EQ(tf::crc32c_extend(tf::crc32c(std::span(all).first(5)), std::span(all).subspan(5)), tf::crc32c(all));
}

TEST(TfSnappy, LiteralsAndCopies) {
  // "abcabcabcX": literal "abc", copy len 6 offset 3 (1-byte offset form), literal "X".
  const Bytes in = {10, 0x08, 'a', 'b', 'c', static_cast<uint8_t>(0x01 | (6 - 4) << 2), 3, 0x00, 'X'};
  const auto out = tf::snappy_decompress(in, 1 << 20, "t", 0);
  EXPECT_EQ(std::string(out.begin(), out.end()), "abcabcabcX");
  // 2-byte offset copy: len 4 offset 2 after "xy" -> "xyxyxy".
  const Bytes in2 = {6, 0x04, 'x', 'y', static_cast<uint8_t>(0x02 | (4 - 1) << 2), 2, 0};
  const auto out2 = tf::snappy_decompress(in2, 1 << 20, "t", 0);
  EXPECT_EQ(std::string(out2.begin(), out2.end()), "xyxyxy");
}

TEST(TfSnappy, RefusesBadStreams) {
  EXPECT_NE(error_of([] { tf::snappy_decompress(Bytes{5, 0x00, 'a'}, 100, "t", 0); }).find("not the declared"), std::string::npos);
  EXPECT_NE(error_of([] { tf::snappy_decompress(Bytes{4, 0x01 | 0 << 2, 1}, 100, "t", 0); }).find("before the start"), std::string::npos);
  EXPECT_NE(error_of([] { tf::snappy_decompress(Bytes{0xFF, 0xFF, 0xFF, 0x7F}, 1000, "t", 0); }).find("limit"), std::string::npos);
  EXPECT_NE(error_of([] { tf::snappy_decompress(Bytes{3, 0x08, 'a'}, 100, "t", 0); }).find("past the end"), std::string::npos);
  EXPECT_NE(error_of([] { tf::snappy_decompress(Bytes{2, 0x00, 'a', 0x05, 1}, 100, "t", 0); }).find("longer than"), std::string::npos);
}

TEST(TfSSTable, ReadsBlocksWithPrefixCompression) {
  std::vector<std::pair<std::string, std::string>> kv;
  for (int i = 0; i < 50; ++i) kv.emplace_back("layer/" + std::to_string(100 + i) + "/kernel", std::string(static_cast<size_t>(i), 'v'));
  const Bytes table = make_table(kv, 7);
  ASSERT_TRUE(tf::has_table_magic(table));
  const auto got = tf::read_sstable(table, "t");
  ASSERT_EQ(got.size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(got[i].key, kv[i].first);
    EXPECT_EQ(got[i].value, kv[i].second);
  }
}

TEST(TfSSTable, RefusesCorruptTables) {
  const Bytes good = make_table({{"", "h"}, {"a", "1"}, {"b", "2"}});
  Bytes bad_magic = good;
  bad_magic.back() ^= 1;
  EXPECT_NE(error_of([&] { tf::read_sstable(bad_magic, "t"); }).find("footer magic"), std::string::npos);
  Bytes bad_crc = good;
  bad_crc[1] ^= 1;
  EXPECT_NE(error_of([&] { tf::read_sstable(bad_crc, "t"); }).find("CRC-32C mismatch"), std::string::npos);
  EXPECT_NE(error_of([&] { tf::read_sstable(Bytes(10, 0), "t"); }).find("too short"), std::string::npos);
  // Keys out of order inside a block.
  const Bytes unordered = make_table({{"b", "1"}, {"a", "2"}});
  EXPECT_NE(error_of([&] { tf::read_sstable(unordered, "t"); }).find("strictly increasing"), std::string::npos);
  // A block whose restart count claims more than the block holds.
  Bytes block = make_block({{"a", "1"}}, 1);
  block[block.size() - 4] = 0x7F;
  EXPECT_NE(error_of([&] { tf::parse_block(block, "t", 0); }).find("restart count"), std::string::npos);
  // An entry whose value length runs past the entries.
  Bytes longval = make_block({{"a", "1"}}, 1);
  longval[2] = 0x40;
  EXPECT_NE(error_of([&] { tf::parse_block(longval, "t", 0); }).find("runs past"), std::string::npos);
  // An overlong varint.
  Bytes overlong = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 0, 1, 0, 0, 0};
  EXPECT_NE(error_of([&] { tf::parse_block(overlong, "t", 0); }).find("bad varint"), std::string::npos);
}

TEST(TfBundle, ParsesEntryFields) {
  Bytes e;
  e.push_back(0x08), put_varint(e, 19);  // dtype DT_HALF
  Bytes shape;
  for (uint64_t d : {3u, 4u}) {
    Bytes dim;
    dim.push_back(0x08), put_varint(dim, d);
    shape.push_back(0x12), put_varint(shape, dim.size()), shape.insert(shape.end(), dim.begin(), dim.end());
  }
  e.push_back(0x12), put_varint(e, shape.size()), e.insert(e.end(), shape.begin(), shape.end());
  e.push_back(0x18), put_varint(e, 1);
  e.push_back(0x20), put_varint(e, 64);
  e.push_back(0x28), put_varint(e, 24);
  e.push_back(0x35), put_u32(e, 0xDEADBEEFu);
  const auto b = tf::parse_bundle_entry(e, "t", 0);
  EXPECT_EQ(b.dtype, 19);
  EXPECT_EQ(b.shape, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(b.shard_id, 1);
  EXPECT_EQ(b.offset, 64u);
  EXPECT_EQ(b.size, 24u);
  EXPECT_EQ(b.masked_crc32c, 0xDEADBEEFu);
  EXPECT_EQ(tf::dtype_from_tf(19), DType::F16);
  EXPECT_EQ(tf::dtype_from_tf(14), DType::BF16);
  EXPECT_FALSE(tf::dtype_from_tf(7).has_value());
  EXPECT_EQ(tf::tf_dtype_name(7), "DT_STRING");
  EXPECT_EQ(tf::data_shard_path("m.ckpt", 1, 2), "m.ckpt.data-00001-of-00002");
  // crc32c as a varint is a schema violation, reported rather than misread.
  Bytes wrong = {0x30, 0x05};
  EXPECT_NE(error_of([&] { tf::parse_bundle_entry(wrong, "t", 0); }).find("fixed32"), std::string::npos);
}

// A temporary folder removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("lmforge_tf_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::string entry_proto(int dtype, std::vector<uint64_t> shape, uint64_t offset, uint64_t size, uint32_t masked) {
  Bytes e;
  e.push_back(0x08), put_varint(e, static_cast<uint64_t>(dtype));
  Bytes sh;
  for (uint64_t d : shape) {
    Bytes dim;
    dim.push_back(0x08), put_varint(dim, d);
    sh.push_back(0x12), put_varint(sh, dim.size()), sh.insert(sh.end(), dim.begin(), dim.end());
  }
  e.push_back(0x12), put_varint(e, sh.size()), e.insert(e.end(), sh.begin(), sh.end());
  e.push_back(0x20), put_varint(e, offset);
  e.push_back(0x28), put_varint(e, size);
  e.push_back(0x35), put_u32(e, masked);
  return std::string(e.begin(), e.end());
}

TEST(TfCheckpoint, OpensByPrefixIndexOrShardAndChecksData) {
  TempDir dir;
  const std::string prefix = (dir.path / "model.ckpt").string();
  Bytes data;
  const float values[3] = {1.5f, -2.0f, 0.25f};
  data.resize(sizeof values);
  std::memcpy(data.data(), values, sizeof values);
  const std::string header = std::string("\x08\x01", 2);  // num_shards 1
  const Bytes index = make_table({{"", header}, {"w", entry_proto(1, {3}, 0, 12, tf::crc32c_mask(tf::crc32c(data)))}});
  write_file(prefix + ".index", index);
  write_file(prefix + ".data-00000-of-00001", data);
  for (const std::string& name : {prefix, prefix + ".index", prefix + ".data-00000-of-00001"}) {
    EXPECT_TRUE(sniff_tf_checkpoint(name)) << name;
    auto src = open_tf_checkpoint(name);
    ASSERT_EQ(src->tensors().size(), 1u);
    EXPECT_EQ(src->tensors()[0].name, "w");
    EXPECT_EQ(src->tensors()[0].shape, std::vector<uint64_t>{3});
    const auto b = src->read(0);
    ASSERT_EQ(b.size(), 12u);
    EXPECT_EQ(std::memcmp(b.data(), values, 12), 0);
  }
  EXPECT_FALSE(sniff_tf_checkpoint((dir.path / "other.ckpt").string()));
  // A flipped data byte is caught by the entry's CRC when the tensor is read.
  data[0] ^= 1;
  write_file(prefix + ".data-00000-of-00001", data);
  auto src = open_tf_checkpoint(prefix);
  EXPECT_NE(error_of([&] { src->read(0); }).find("CRC-32C mismatch"), std::string::npos);
}

// Hidden oracle hook: when LMFORGE_TF_SSTABLE_CASES names a folder of LevelDB-built tables
// (case_N.ldb) and the pairs LevelDB was given (case_N.pairs: u32 LE length + bytes, key then
// value), our reader must return exactly those pairs. check_tf_checkpoint.py sets it up.
TEST(TfSSTableOracle, LevelDbTablesReadBackIdentically) {
  const char* dir = std::getenv("LMFORGE_TF_SSTABLE_CASES");
  if (dir == nullptr) GTEST_SKIP() << "LMFORGE_TF_SSTABLE_CASES not set (run by oracle.tf_checkpoint)";
  int tables = 0;
  for (const auto& de : fs::directory_iterator(dir)) {
    if (de.path().extension() != ".ldb") continue;
    auto pairs_path = de.path();
    pairs_path.replace_extension(".pairs");
    std::ifstream pf(pairs_path, std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(pf)), std::istreambuf_iterator<char>());
    std::vector<std::pair<std::string, std::string>> expected;
    size_t pos = 0;
    auto take = [&] {
      uint32_t n = 0;
      std::memcpy(&n, raw.data() + pos, 4);
      std::string s = raw.substr(pos + 4, n);
      pos += 4 + n;
      return s;
    };
    while (pos < raw.size()) {
      std::string k = take();
      expected.emplace_back(std::move(k), take());
    }
    const auto file = MappedFile::open(de.path().string());
    const auto got = tf::read_sstable(file->bytes(), de.path().string());
    ASSERT_EQ(got.size(), expected.size()) << de.path();
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].key, expected[i].first) << de.path() << " pair " << i;
      ASSERT_EQ(got[i].value, expected[i].second) << de.path() << " pair " << i;
    }
    std::printf("TfSSTableOracle: %s: %zu pairs identical\n", de.path().filename().c_str(), got.size());
    ++tables;
  }
  EXPECT_GT(tables, 0);
}

}  // namespace
}  // namespace lmforge
