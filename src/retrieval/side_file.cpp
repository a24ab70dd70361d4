#include "retrieval/side_file.h"

#include <sys/stat.h>

#include "core/error.h"

namespace lmforge::retrieval {

std::shared_ptr<const MappedFile> map_side_file(const std::string& path, size_t min_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(min_bytes)) {
    return nullptr;
  }
  std::shared_ptr<const MappedFile> map;
  try {
    map = MappedFile::open(path);
  } catch (const Error&) {
    return nullptr;
  }
  // The file may have been replaced between stat and map: check the mapped size too.
  if (map->size() < min_bytes) return nullptr;
  return map;
}

}  // namespace lmforge::retrieval
