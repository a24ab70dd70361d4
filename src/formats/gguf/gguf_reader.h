// GGUF reader (versions 1 to 3, little- and big-endian), memory-mapped and validated.
//
// Everything in the header is checked before use: counts and lengths are bounded by the bytes
// that remain, dimension products and data ranges use checked arithmetic, and tensor data must
// lie inside the file. Tensor bytes are handed out as views into the map (little-endian files)
// or byte-swapped copies (big-endian files).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"
#include "formats/gguf/gguf_value.h"

namespace lmforge {

class GgufReader : public TensorSource {
 public:
  static std::unique_ptr<GgufReader> open(const std::string& path);
  // Parses bytes that are already in memory (used by the fuzz harness); `keep_alive` owns them.
  static std::unique_ptr<GgufReader> parse(std::span<const uint8_t> bytes, const std::string& name,
                                           std::shared_ptr<const void> keep_alive);

  std::string format_description() const override;
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  TensorBytes read(size_t index) const override;
  nlohmann::json metadata() const override;
  std::vector<std::string> warnings() const override { return warnings_; }

  uint32_t version() const { return version_; }
  bool big_endian() const { return big_endian_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_start() const { return data_start_; }
  const std::vector<GgufKv>& kvs() const { return kvs_; }
  const GgufValue* find_kv(const std::string& key) const;
  // GGUF's own dimension order (innermost first) of tensor i.
  std::vector<uint64_t> ggml_ne(size_t index) const;

 private:
  GgufReader() = default;
  void parse_all();

  std::string path_;
  std::span<const uint8_t> bytes_;
  std::shared_ptr<const void> keep_alive_;
  uint32_t version_ = 0;
  bool big_endian_ = false;
  std::shared_ptr<const MappedFile> file_;  // set when bytes_ is a file mapping
  uint64_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<GgufKv> kvs_;
  std::vector<TensorInfo> tensors_;
  std::vector<uint64_t> relative_offsets_;
  std::vector<std::string> warnings_;
};

}  // namespace lmforge
