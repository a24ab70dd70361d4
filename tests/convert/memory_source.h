// An in-memory TensorSource of F32 tensors for converter tests: each value encodes its tensor,
// row and column (id * 100000 + row * 100 + column), so a moved or permuted row is visible.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lmforge {

class MemorySource : public TensorSource {
 public:
  void add(const std::string& name, std::vector<uint64_t> shape) {
    TensorInfo t;
    t.name = name;
    t.shape = shape;
    t.nbytes = t.numel() * 4;
    std::vector<float> v(t.numel());
    const uint64_t cols = shape.back();
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(id_ * 100000 + (i / cols) * 100 + i % cols);
    ++id_;
    std::vector<uint8_t> raw(v.size() * 4);
    std::memcpy(raw.data(), v.data(), raw.size());
    infos_.push_back(t);
    data_.push_back(std::move(raw));
  }
  std::string format_description() const override { return "memory"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorBytes read(size_t i) const override { return TensorBytes(data_[i]); }

 private:
  uint64_t id_ = 1;
  std::vector<TensorInfo> infos_;
  std::vector<std::vector<uint8_t>> data_;
};

}  // namespace lmforge
