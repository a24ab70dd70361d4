// GGUF version 3 writer, laid out the way llama.cpp (2025+) requires: key-value pairs, tensor
// infos, then tensor data in info order, each tensor zero-padded to the alignment, offsets the
// running padded sum. Tensor bytes are produced one tensor at a time, so memory stays bounded
// by the largest tensor, and the file appears only when complete (AtomicOutputFile).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/gguf/gguf_value.h"

namespace lmforge {

class AtomicOutputFile;

class GgufWriter {
 public:
  using Producer = std::function<TensorBytes()>;

  void set(const std::string& key, GgufValue value);  // replaces an existing key in place
  // `shape` is row-major (outermost first); it is reversed into GGUF's ne order on write.
  void add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, Producer produce);
  // Called before each tensor is produced (index, total, name): progress display.
  void on_tensor(std::function<void(size_t, size_t, const std::string&)> cb) { on_tensor_ = std::move(cb); }

  // Writes everything to `path`; throws lmforge::Error and leaves no file on failure.
  void write(const std::string& path, bool overwrite) const;
  // Writes everything into `fd`, an open, empty descriptor the caller keeps (an anonymous
  // in-memory file, see model_loader); `label` names it in error messages.
  void write_to_descriptor(int fd, const std::string& label) const;

  const std::vector<GgufKv>& kvs() const { return kvs_; }

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<uint64_t> shape;
    uint64_t nbytes;
    Producer produce;
  };
  uint64_t alignment() const;
  void write_into(AtomicOutputFile& out, const std::string& label) const;

  std::vector<GgufKv> kvs_;
  std::vector<Pending> tensors_;
  std::function<void(size_t, size_t, const std::string&)> on_tensor_;
};

}  // namespace lmforge
