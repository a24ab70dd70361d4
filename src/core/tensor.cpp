#include "core/tensor.h"

#include <nlohmann/json.hpp>

#include "core/checked_math.h"

namespace lmforge {

uint64_t TensorInfo::numel() const {
  auto n = checked_product(shape);
  return n ? *n : 0;  // readers reject overflowing shapes before a TensorInfo exists
}

nlohmann::json TensorSource::metadata() const { return nlohmann::json::object(); }

ptrdiff_t TensorSource::find(const std::string& name) const {
  const auto& ts = tensors();
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].name == name) return static_cast<ptrdiff_t>(i);
  return -1;
}

}  // namespace lmforge
