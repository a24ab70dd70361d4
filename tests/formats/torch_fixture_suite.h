// A GoogleTest suite whose fixture files a Python script writes with Debian's torch
// (/usr/bin/python3) once per suite, into a private temporary folder removed afterwards. The
// suite is skipped where that python cannot import torch; a script that fails is a failure.
//
// Use: class MySuite : public TorchFixtureSuite<MySuite> { public: static constexpr const char*
// kTag = "my"; static constexpr const char* kScript = R"PY(...)PY"; };  The script gets the
// folder as sys.argv[1]; tests name its files with path("file.pt").
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace lmforge {

template <typename Suite>
class TorchFixtureSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) return;
    dir_ = std::filesystem::temp_directory_path() / (std::string("lmforge_") + Suite::kTag + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "gen.py") << Suite::kScript;
    const std::string cmd = "/usr/bin/python3 " + (dir_ / "gen.py").string() + " " + dir_.string() + " >/dev/null 2>&1";
    generated_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
    ASSERT_TRUE(generated_) << "fixture generation failed";
  }
  static std::string path(const char* name) { return (dir_ / name).string(); }

  static inline std::filesystem::path dir_;
  static inline bool generated_ = false;
};

}  // namespace lmforge
