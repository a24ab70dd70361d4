#include "retrieval/source_files.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge::retrieval {
namespace {

namespace fs = std::filesystem;

bool has_text_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".txt" || ext == ".md";
}

}  // namespace

std::string normalize_source_path(const std::string& path) {
  std::string s = fs::path(path).lexically_normal().generic_string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s.empty() ? "." : s;
}

bool is_under_root(const std::string& path, const std::string& root) {
  if (root == ".") return !path.starts_with("/") && !path.starts_with("../") && path != "..";
  if (path == root) return true;
  if (root == "/") return path.starts_with("/");
  return path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/';
}

SourceFiles collect_source_files(const std::vector<std::string>& paths) {
  SourceFiles out;
  std::set<std::string> files;
  for (const std::string& given : paths) {
    const std::string root = normalize_source_path(given);
    out.roots.push_back(root);
    std::error_code ec;
    const fs::file_status status = fs::status(root, ec);
    if (ec || !fs::exists(status)) fail(given, "no such file or folder");
    if (fs::is_regular_file(status)) {
      files.insert(root);
      continue;
    }
    if (!fs::is_directory(status)) fail(given, "not a regular file or a folder");
    std::vector<std::pair<std::string, bool>> found;  // (path, is a text file)
    fs::recursive_directory_iterator it(root, ec), end;
    if (ec) fail(given, "cannot read the folder: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) fail(given, "cannot walk the folder: " + ec.message());
      const fs::path& p = it->path();
      if (p.filename().string().starts_with(".")) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec)) continue;
      const std::string shown = normalize_source_path(p.generic_string());
      if (it->is_regular_file(ec) && has_text_extension(p)) {
        files.insert(shown);
      } else {
        out.notes.push_back(quoted_for_message(shown) + ": skipped (only .txt and .md files are indexed from a folder)");
      }
    }
    if (ec) fail(given, "cannot walk the folder: " + ec.message());
  }
  out.files.assign(files.begin(), files.end());
  std::sort(out.notes.begin(), out.notes.end());
  return out;
}

}  // namespace lmforge::retrieval
