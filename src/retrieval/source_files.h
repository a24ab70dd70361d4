// Which files `lmforge index PATH...` reads: a file named on the command line is read whatever
// its extension; a folder is walked recursively in sorted order for .txt and .md files (any
// case), other files being skipped with a note and hidden entries (names starting with ".")
// silently. Paths are kept as given, normalized ("docs//a/../b.md" -> "docs/b.md"), and are
// what the index stores and `ask` shows as the source.
#pragma once

#include <string>
#include <vector>

namespace lmforge::retrieval {

struct SourceFiles {
  std::vector<std::string> files;  // sorted, no duplicates
  std::vector<std::string> notes;  // "PATH: skipped (...)"
  std::vector<std::string> roots;  // the normalized PATH arguments
};

// Error for a PATH that does not exist or cannot be read as a file or folder.
SourceFiles collect_source_files(const std::vector<std::string>& paths);

// True when `path` is `root` or lies inside it (as strings of normalized paths), so that a run
// over `root` may drop the documents under it whose files are gone.
bool is_under_root(const std::string& path, const std::string& root);

std::string normalize_source_path(const std::string& path);

}  // namespace lmforge::retrieval
