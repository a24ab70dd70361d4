#include "train/checkpoint.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "core/error.h"
#include "train/checkpoint_format.h"
#include "train/checkpoint_test_util.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using testing::same_state;
using testing::sample_state;

class CheckpointDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "lmforge-checkpoint-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file() const { return dir_ + "/checkpoint.gguf"; }
  std::vector<uint8_t> file_bytes() const {
    std::ifstream in(file(), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::string dir_;
};

TEST_F(CheckpointDir, NoCheckpointIsNotAnError) { EXPECT_FALSE(load_latest_checkpoint(dir_).has_value()); }

TEST_F(CheckpointDir, RoundTripIsBitExact) {
  const TrainingState s = sample_state(1);
  save_checkpoint(dir_, s);  // the folder is created
  const auto loaded = load_latest_checkpoint(dir_);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(same_state(s, *loaded));
  // The same state gives the same bytes (no timestamps), and the latest save wins.
  const auto first = file_bytes();
  save_checkpoint(dir_, s);
  EXPECT_EQ(first, file_bytes());
  const TrainingState t = sample_state(2);
  save_checkpoint(dir_, t);
  EXPECT_TRUE(same_state(t, *load_latest_checkpoint(dir_)));
  EXPECT_FALSE(same_state(s, *load_latest_checkpoint(dir_)));  // the comparison can tell them apart
}

TEST_F(CheckpointDir, EmptyStateRoundTrips) {
  TrainingState s;
  save_checkpoint(dir_, s);
  EXPECT_TRUE(same_state(s, *load_latest_checkpoint(dir_)));
}

TEST_F(CheckpointDir, EveryTruncationIsACleanError) {
  save_checkpoint(dir_, sample_state(3, 16));
  const auto bytes = file_bytes();
  ASSERT_GT(bytes.size(), 100u);
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      decode_checkpoint({bytes.data(), n}, "cut.gguf");
      ADD_FAILURE() << "a checkpoint cut to " << n << " of " << bytes.size() << " bytes was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), "cut.gguf");
    }
  }
  // And through the file: a cut file in the folder is refused naming it.
  fs::resize_file(file(), bytes.size() - 1);
  try {
    load_latest_checkpoint(dir_);
    FAIL() << "a truncated checkpoint loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), file());
  }
}

TEST_F(CheckpointDir, ChangedTensorBytesAreRefused) {
  save_checkpoint(dir_, sample_state(4));
  auto bytes = file_bytes();
  bytes[bytes.size() - 5] ^= 0x10;  // inside the last tensor's data
  try {
    decode_checkpoint(bytes, "flipped.gguf");
    FAIL() << "a changed checkpoint loaded";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("damaged"), std::string::npos) << e.message();
  }
}

TEST_F(CheckpointDir, OtherGgufFilesAreNotCheckpoints) {
  fs::create_directories(dir_);
  std::ofstream(file(), std::ios::binary) << "GGUF";
  EXPECT_THROW(load_latest_checkpoint(dir_), Error);
}

TEST_F(CheckpointDir, LeftoverTemporariesAreIgnoredAndCleaned) {
  const TrainingState s = sample_state(5);
  save_checkpoint(dir_, s);
  // What a writer killed mid-write leaves: a partial temporary, its lock gone with it.
  const std::string leftover = file() + ".lmforge-tmp-dead01";
  const auto bytes = file_bytes();
  std::ofstream(leftover, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), 100);
  EXPECT_TRUE(same_state(s, *load_latest_checkpoint(dir_)));
  save_checkpoint(dir_, sample_state(6));
  EXPECT_FALSE(fs::exists(leftover));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u);
}

// A write that fails part way (the file-size limit stands in for a full disk) leaves the
// previous checkpoint as it was and no temporary behind.
TEST_F(CheckpointDir, AFullDiskKeepsThePreviousCheckpoint) {
  const TrainingState old_state = sample_state(7, 256);
  save_checkpoint(dir_, old_state);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing us
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save_checkpoint(dir_, sample_state(8, 4096));  // ~150 KB: past the limit
      ::_exit(3);
    } catch (const Error& e) {
      ::_exit(e.file().find(dir_) == 0 ? 0 : 4);  // the error names the checkpoint file
    } catch (...) {
      ::_exit(5);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: the write succeeded; 4: the error named another file; 5: not an Error";
  EXPECT_TRUE(same_state(old_state, *load_latest_checkpoint(dir_)));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(CheckpointResume, RefusesAnotherBaseDataOrOptionsNamingWhatDiffers) {
  const TrainingState saved = sample_state(9);
  TrainingState current = saved;
  EXPECT_NO_THROW(check_resume_compatible(saved, current, "ck"));
  const auto message = [&](const TrainingState& c) {
    try {
      check_resume_compatible(saved, c, "ck");
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), "ck/checkpoint.gguf");
      return e.message();
    }
    return std::string("accepted");
  };
  current.base_sha256 = std::string(64, 'c');
  EXPECT_NE(message(current).find("another base model"), std::string::npos) << message(current);
  current = saved;
  current.data_sha256 = std::string(64, 'd');
  EXPECT_NE(message(current).find("another data file"), std::string::npos) << message(current);
  current = saved;
  current.options["lr"] = 1e-4;
  EXPECT_NE(message(current).find("lr 0.0002, this command line 0.0001"), std::string::npos) << message(current);
  current = saved;
  current.options["rank"] = 8;
  EXPECT_NE(message(current).find("rank (not in the checkpoint)"), std::string::npos) << message(current);
  current = saved;
  current.options.erase("ctx");
  EXPECT_NE(message(current).find("ctx 8 (not set"), std::string::npos) << message(current);
}

}  // namespace
}  // namespace lmforge
