#include "core/atomic_output.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

TEST(AtomicOutput, FileAppearsOnlyOnCommit) {
  const fs::path dir = fs::temp_directory_path() / ("lmforge-atomic-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string dst = (dir / "out.bin").string();
  {
    AtomicOutputFile f(dst, false);
    f.write("abc", 3);
    EXPECT_FALSE(fs::exists(dst));
  }  // destroyed without commit
  EXPECT_TRUE(fs::is_empty(dir));
  {
    AtomicOutputFile f(dst, false);
    f.write("abc", 3);
    f.write_zeros(2);
    f.commit();
  }
  EXPECT_EQ(fs::file_size(dst), 5u);
  EXPECT_THROW(AtomicOutputFile(dst, false), Error);
  {
    AtomicOutputDir d((dir / "folder").string(), false);
    std::ofstream((fs::path(d.temp_dir()) / "x").string()) << "x";
    EXPECT_FALSE(fs::exists(dir / "folder"));
    d.commit();
  }
  EXPECT_TRUE(fs::exists(dir / "folder" / "x"));
  fs::remove_all(dir);
}

TEST(AtomicOutput, WriteTensorCopiesFileViewsExactly) {
  const fs::path dir = fs::temp_directory_path() / ("lmforge-atomic-cfr-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string src = (dir / "src.bin").string();
  std::vector<uint8_t> bytes(3u << 20);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
  std::ofstream(src, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  auto file = MappedFile::open(src);
  const std::string dst = (dir / "dst.bin").string();
  {
    AtomicOutputFile out(dst, false);
    out.write("head", 4);  // buffered bytes must land before the in-kernel copy
    // An unaligned view of 2 MiB + 3 bytes starting at byte 12345 (copy_file_range path).
    out.write_tensor(TensorBytes(file->bytes().subspan(12345, (2u << 20) + 3), file));
    out.write_tensor(TensorBytes(file->bytes().subspan(7, 100), file));  // small: plain write
    EXPECT_EQ(out.position(), 4u + (2u << 20) + 3 + 100);
    out.commit();
  }
  std::ifstream in(dst, std::ios::binary);
  std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), {});
  std::vector<uint8_t> want = {'h', 'e', 'a', 'd'};
  want.insert(want.end(), bytes.begin() + 12345, bytes.begin() + 12345 + (2u << 20) + 3);
  want.insert(want.end(), bytes.begin() + 7, bytes.begin() + 107);
  EXPECT_TRUE(got == want);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
