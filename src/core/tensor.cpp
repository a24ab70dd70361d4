#include "core/tensor.h"

#include <nlohmann/json.hpp>

#include "core/checked_math.h"

#include <sys/mman.h>
#include <unistd.h>

namespace lmforge {

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string t = "[";
  for (size_t i = 0; i < shape.size(); ++i) t += (i ? ", " : "") + std::to_string(shape[i]);
  return t + "]";
}

uint64_t TensorInfo::numel() const {
  auto n = checked_product(shape);
  return n ? *n : 0;  // readers reject overflowing shapes before a TensorInfo exists
}

void TensorBytes::release_file_pages() const {
  if (!file_ || view_.empty()) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(view_.data());
  const uintptr_t first = (begin + page - 1) / page * page;  // whole pages inside the view only
  const uintptr_t last = (begin + view_.size()) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

uint64_t TensorBytes::file_offset() const {
  return file_ ? static_cast<uint64_t>(view_.data() - file_->bytes().data()) : 0;
}

nlohmann::json TensorSource::metadata() const { return nlohmann::json::object(); }

ptrdiff_t TensorSource::find(const std::string& name) const {
  const auto& ts = tensors();
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].name == name) return static_cast<ptrdiff_t>(i);
  return -1;
}

}  // namespace lmforge
