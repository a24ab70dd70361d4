#include "core/atomic_output.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
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

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs `work` in a child process that is then killed with SIGKILL (no unwinding, no
// destructors), as `kill -9` during a conversion would. `work` leaks the outputs it opens, so
// that they are still open when the kill comes.
template <typename F>
void run_and_kill(F work) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    work();
    ::raise(SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

// Restores unnamed temporaries however a test ends.
struct NamedTemporariesOnly {
  NamedTemporariesOnly() { AtomicOutputFile::set_unnamed_allowed_for_testing(false); }
  ~NamedTemporariesOnly() { AtomicOutputFile::set_unnamed_allowed_for_testing(true); }
};

TEST(AtomicOutput, KillLeavesNothingBehindWithUnnamedFiles) {
  const fs::path dir = fresh_dir("lmforge-atomic-kill");
  const std::string dst = (dir / "out.gguf").string();
  {
    AtomicOutputFile probe((dir / "probe").string(), false);
    if (!probe.unnamed()) GTEST_SKIP() << "no O_TMPFILE on " << dir << "; the named fallback is tested below";
  }
  run_and_kill([&] {
    auto* f = new AtomicOutputFile(dst, false);
    std::vector<uint8_t> data(12u << 20, 7);  // more than the write buffer: reaches the file
    f->write(data);
  });
  EXPECT_TRUE(fs::is_empty(dir)) << "left: " << ::testing::PrintToString(entries(dir));
  fs::remove_all(dir);
}

TEST(AtomicOutput, UnnamedFileReplacesOnlyWithOverwrite) {
  const fs::path dir = fresh_dir("lmforge-atomic-replace");
  const std::string dst = (dir / "out.bin").string();
  std::ofstream(dst) << "old";
  EXPECT_THROW(AtomicOutputFile(dst, false), Error);
  {
    AtomicOutputFile f(dst, true);
    f.write("new!", 4);
    f.commit();
  }
  EXPECT_EQ(fs::file_size(dst), 4u);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
  fs::remove_all(dir);
}

TEST(AtomicOutput, NextRunRemovesTemporariesOfKilledRuns) {
  NamedTemporariesOnly named;
  const fs::path dir = fresh_dir("lmforge-atomic-stale");
  run_and_kill([&] {
    auto* d = new AtomicOutputDir((dir / "hf").string(), false);
    std::ofstream((fs::path(d->temp_dir()) / "model.safetensors").string()) << "x";
    auto* f = new AtomicOutputFile((dir / "a.gguf").string(), false);
    std::vector<uint8_t> data(12u << 20, 7);
    f->write(data);
  });
  const auto left = entries(dir);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].rfind("a.gguf.lmforge-tmp-", 0), 0u);
  EXPECT_EQ(left[1].rfind("hf.lmforge-tmp-", 0), 0u);
  {
    AtomicOutputFile next((dir / "b.gguf").string(), false);  // cleans on creation
    next.write("b", 1);
    next.commit();
  }
  EXPECT_EQ(entries(dir), std::vector<std::string>{"b.gguf"});
  fs::remove_all(dir);
}

TEST(AtomicOutput, TemporariesOfLiveWritersAreKept) {
  NamedTemporariesOnly named;
  const fs::path dir = fresh_dir("lmforge-atomic-live");
  AtomicOutputFile file((dir / "a.gguf").string(), false);
  AtomicOutputDir folder((dir / "hf").string(), false);
  file.write("a", 1);
  EXPECT_EQ(remove_stale_temporaries(dir.string()), 0u);
  EXPECT_EQ(entries(dir).size(), 2u);
  file.commit();
  folder.commit();
  EXPECT_EQ(entries(dir), (std::vector<std::string>{"a.gguf", "hf"}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
