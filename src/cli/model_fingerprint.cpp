#include "cli/model_fingerprint.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/mapped_file.h"
#include "core/sha256.h"

namespace lmforge::cli {

std::string model_fingerprint(const std::string& path) {
  namespace fs = std::filesystem;
  Sha256 h;
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    const auto m = MappedFile::open(f.string());
    h.update(f.filename().string());
    const auto b = m->bytes();
    h.update(b.data(), b.size());
  }
  return to_hex(h.finish());
}

}  // namespace lmforge::cli
