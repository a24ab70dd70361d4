#include "formats/gguf/gguf_writer.h"

#include <cstring>
#include <unordered_set>

#include "core/atomic_output.h"
#include "core/checked_math.h"
#include "core/error.h"

namespace lmforge {

namespace {

// Little-endian encoding into a byte buffer (the header is small; tensors stream separately).
class Encoder {
 public:
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // host is little-endian (checked at build time below)
    out.insert(out.end(), b, b + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  void put_value(const GgufValue& v) {
    switch (v.type) {
      case GgufType::UINT8: put<uint8_t>(static_cast<uint8_t>(v.u)); break;
      case GgufType::INT8: put<int8_t>(static_cast<int8_t>(v.i)); break;
      case GgufType::UINT16: put<uint16_t>(static_cast<uint16_t>(v.u)); break;
      case GgufType::INT16: put<int16_t>(static_cast<int16_t>(v.i)); break;
      case GgufType::UINT32: put<uint32_t>(static_cast<uint32_t>(v.u)); break;
      case GgufType::INT32: put<int32_t>(static_cast<int32_t>(v.i)); break;
      case GgufType::FLOAT32: put<float>(static_cast<float>(v.f)); break;
      case GgufType::BOOL: put<uint8_t>(v.u ? 1 : 0); break;
      case GgufType::STRING: put_string(v.s); break;
      case GgufType::UINT64: put<uint64_t>(v.u); break;
      case GgufType::INT64: put<int64_t>(v.i); break;
      case GgufType::FLOAT64: put<double>(v.f); break;
      case GgufType::ARRAY:
        put<uint32_t>(static_cast<uint32_t>(v.array_type));
        put<uint64_t>(v.array.size());
        for (const auto& e : v.array) {
          if (e.type != v.array_type) fail("", "internal error: GGUF array element of the wrong type");
          put_value(e);
        }
        break;
    }
  }
  std::vector<uint8_t> out;
};

static_assert(std::endian::native == std::endian::little, "the GGUF writer assumes a little-endian host");

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& kv : kvs_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kvs_.push_back({key, std::move(value)});
}

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, Producer produce) {
  if (name.empty() || name.size() >= 64) fail(name, "tensor name must be 1 to 63 bytes for llama.cpp");
  if (shape.size() > 4) fail(name, "tensor has more than 4 dimensions");
  auto numel = checked_product(shape);
  if (!numel) fail(name, "tensor element count overflows");
  const auto& di = dtype_info(dtype);
  if (di.ggml_id < 0) fail(name, "type " + std::string(di.name) + " cannot be stored in GGUF");
  if (!shape.empty() && shape.back() % di.block_size != 0)
    fail(name, "row length " + std::to_string(shape.back()) + " is not a multiple of the " + std::string(di.name) + " block size");
  auto nbytes = dtype_nbytes(dtype, *numel);
  if (!nbytes) fail(name, "tensor byte size overflows");
  tensors_.push_back({std::move(name), dtype, std::move(shape), *nbytes, std::move(produce)});
}

uint64_t GgufWriter::alignment() const {
  for (const auto& kv : kvs_)
    if (kv.key == "general.alignment") return kv.value.u;
  return 32;
}

void GgufWriter::write(const std::string& path, bool overwrite) const {
  AtomicOutputFile out(path, overwrite);
  write_into(out, path);
}

void GgufWriter::write_to_descriptor(int fd, const std::string& label) const {
  AtomicOutputFile out(fd, label);
  write_into(out, label);
}

void GgufWriter::write_into(AtomicOutputFile& out, const std::string& path) const {
  const uint64_t align = alignment();
  std::unordered_set<std::string> names;
  for (const auto& t : tensors_)
    if (!names.insert(t.name).second) fail(path, "duplicate tensor name '" + t.name + "'");

  Encoder e;
  static constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
  e.out.assign(kMagic, kMagic + 4);
  e.put<uint32_t>(3);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(kvs_.size());
  for (const auto& kv : kvs_) {
    e.put_string(kv.key);
    e.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    e.put_value(kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    e.put_string(t.name);
    e.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) e.put<uint64_t>(*it);
    e.put<uint32_t>(static_cast<uint32_t>(dtype_info(t.dtype).ggml_id));
    e.put<uint64_t>(offset);
    offset += *checked_align_up(t.nbytes, align);
  }

  out.write(e.out);
  out.write_zeros(*checked_align_up(out.position(), align) - out.position());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    if (on_tensor_) on_tensor_(i, tensors_.size(), t.name);
    TensorBytes data = t.produce();
    if (data.size() != t.nbytes)
      fail(path, "internal error: tensor '" + t.name + "' produced " + std::to_string(data.size()) + " bytes, expected " + std::to_string(t.nbytes));
    out.write_tensor(data);
    out.write_zeros(*checked_align_up(t.nbytes, align) - t.nbytes);
  }
  out.commit();
}

}  // namespace lmforge
