#include "core/atomic_output.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

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

}  // namespace
}  // namespace lmforge
