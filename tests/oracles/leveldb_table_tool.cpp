// Oracle helper built on LevelDB's own table code (Debian libleveldb-dev), so that tables
// the TensorFlow checkpoint reader is tested on come from an implementation nobody on the
// team wrote. TensorFlow's .index files use the same table format.
//
//   leveldb_table_tool write OUT [BLOCK_SIZE RESTART_INTERVAL none|snappy] < pairs
//   leveldb_table_tool dump TABLE > pairs
//
// "pairs" is a binary stream of records: u32 LE key length, key, u32 LE value length, value.
// `write` takes the pairs in strictly increasing bytewise key order, as TableBuilder requires.
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <leveldb/table_builder.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

namespace {

int die(const std::string& what) {
  std::fprintf(stderr, "leveldb_table_tool: %s\n", what.c_str());
  return 2;
}

bool read_exact(std::istream& in, std::string& out, uint32_t n) {
  out.resize(n);
  return n == 0 || static_cast<bool>(in.read(out.data(), n));
}

bool read_u32(std::istream& in, uint32_t& v, bool& eof) {
  unsigned char b[4];
  in.read(reinterpret_cast<char*>(b), 4);
  if (in.gcount() == 0) {
    eof = true;
    return false;
  }
  if (in.gcount() != 4) return false;
  v = b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
  return true;
}

void write_record(const leveldb::Slice& s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  const unsigned char b[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                              static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  std::fwrite(b, 1, 4, stdout);
  std::fwrite(s.data(), 1, s.size(), stdout);
}

int write_table(int argc, char** argv) {
  leveldb::Options options;
  options.compression = leveldb::kNoCompression;
  if (argc >= 6) {
    options.block_size = std::strtoul(argv[3], nullptr, 10);
    options.block_restart_interval = static_cast<int>(std::strtol(argv[4], nullptr, 10));
    const std::string c = argv[5];
    if (c == "snappy") options.compression = leveldb::kSnappyCompression;
    else if (c != "none") return die("compression must be none or snappy");
  }
  leveldb::Env* env = leveldb::Env::Default();
  leveldb::WritableFile* file = nullptr;
  leveldb::Status s = env->NewWritableFile(argv[2], &file);
  if (!s.ok()) return die(s.ToString());
  std::unique_ptr<leveldb::WritableFile> owned(file);
  leveldb::TableBuilder builder(options, file);
  std::string key, value;
  for (;;) {
    uint32_t klen = 0, vlen = 0;
    bool eof = false;
    if (!read_u32(std::cin, klen, eof)) {
      if (eof) break;
      return die("truncated key length");
    }
    if (!read_exact(std::cin, key, klen) || !read_u32(std::cin, vlen, eof) || !read_exact(std::cin, value, vlen)) {
      return die("truncated record");
    }
    builder.Add(key, value);
    if (!builder.status().ok()) return die(builder.status().ToString());
  }
  s = builder.Finish();
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = file->Close();
  if (!s.ok()) return die(s.ToString());
  std::fprintf(stderr, "leveldb_table_tool: wrote %llu entries, %llu bytes\n",
               static_cast<unsigned long long>(builder.NumEntries()),
               static_cast<unsigned long long>(builder.FileSize()));
  return 0;
}

int dump_table(const char* path) {
  leveldb::Env* env = leveldb::Env::Default();
  uint64_t size = 0;
  leveldb::Status s = env->GetFileSize(path, &size);
  leveldb::RandomAccessFile* file = nullptr;
  if (s.ok()) s = env->NewRandomAccessFile(path, &file);
  if (!s.ok()) return die(s.ToString());
  std::unique_ptr<leveldb::RandomAccessFile> owned(file);
  leveldb::Options options;
  options.paranoid_checks = true;
  leveldb::Table* table = nullptr;
  s = leveldb::Table::Open(options, file, size, &table);
  if (!s.ok()) return die(s.ToString());
  std::unique_ptr<leveldb::Table> owned_table(table);
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(table->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    write_record(it->key());
    write_record(it->value());
  }
  if (!it->status().ok()) return die(it->status().ToString());
  return std::fflush(stdout) == 0 ? 0 : die("write failed");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "write") == 0) return write_table(argc, argv);
  if (argc == 3 && std::strcmp(argv[1], "dump") == 0) return dump_table(argv[2]);
  return die("usage: leveldb_table_tool write OUT [BLOCK_SIZE RESTART_INTERVAL none|snappy] < pairs | dump TABLE");
}
