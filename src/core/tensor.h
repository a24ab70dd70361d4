// The uniform view every reader gives of a model file: a list of tensors with lazily read
// bytes, plus format metadata for `inspect`.
//
// Shapes are always row-major, outermost dimension first (PyTorch/NumPy order). Formats that
// store dimensions the other way round (GGUF lists the innermost first) convert at their
// boundary, so the rest of the code never has to ask which order a shape is in.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace lmforge {

// "[4096, 32000]": a row-major shape as messages and `inspect` show it.
std::string shape_text(const std::vector<uint64_t>& shape);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;  // row-major, outermost first; empty = scalar
  uint64_t nbytes = 0;          // bytes of the contiguous row-major data
  std::string file;             // file that holds the data (sharded checkpoints)
  uint64_t offset = 0;          // absolute byte offset of the data in `file`, for display

  uint64_t numel() const;
};

// Contiguous little-endian bytes of one tensor: a view into a mapped file when the format
// stores it that way, else a buffer the reader filled. Keeps its backing memory alive.
class TensorBytes {
 public:
  TensorBytes() = default;
  // A view into memory that `keep_alive` owns.
  TensorBytes(std::span<const uint8_t> view, std::shared_ptr<const void> keep_alive)
      : view_(view), keep_alive_(std::move(keep_alive)) {}
  // A view into a read-only file mapping: writers may copy it file-to-file in the kernel and
  // release its pages once written.
  TensorBytes(std::span<const uint8_t> view, std::shared_ptr<const MappedFile> file)
      : view_(view), keep_alive_(file), file_(std::move(file)) {}
  explicit TensorBytes(std::vector<uint8_t> owned)
      : owned_(std::make_shared<std::vector<uint8_t>>(std::move(owned))) {
    view_ = {owned_->data(), owned_->size()};
  }

  std::span<const uint8_t> bytes() const { return view_; }
  const uint8_t* data() const { return view_.data(); }
  size_t size() const { return view_.size(); }

  // Tells the kernel that the mapped pages behind this view are no longer needed, so that
  // streaming a large model through a conversion does not keep every page resident. Safe
  // because the mapping is read-only: a later access reads the file again. No-op for buffers.
  void release_file_pages() const;

  // The mapped file and the view's offset in it, when the bytes are a file view.
  const MappedFile* file() const { return file_.get(); }
  uint64_t file_offset() const;

 private:
  std::span<const uint8_t> view_;
  std::shared_ptr<const void> keep_alive_;
  std::shared_ptr<std::vector<uint8_t>> owned_;
  std::shared_ptr<const MappedFile> file_;
};

// The bytes of `values` copied into an owned buffer (a tensor computed in memory, for a writer).
template <typename T>
TensorBytes tensor_bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> b(values.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), values.data(), b.size());
  return TensorBytes(std::move(b));
}

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  // Plain words for the detected format, e.g. "GGUF version 3 (little-endian)".
  virtual std::string format_description() const = 0;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Bytes of tensors()[index]; throws lmforge::Error when the data is bad.
  virtual TensorBytes read(size_t index) const = 0;
  // Format-specific metadata for `inspect` (a JSON object).
  virtual nlohmann::json metadata() const;
  virtual std::vector<std::string> warnings() const { return {}; }

  // Index of the tensor with this name, or -1.
  ptrdiff_t find(const std::string& name) const;
};

}  // namespace lmforge
