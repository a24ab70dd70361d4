#include "formats/onnx/onnx_writer.h"

#include <filesystem>
#include <memory>
#include <string_view>

#include "core/atomic_output.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/onnx/onnx_proto.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kExternalAlign = 4096;  // ExternalData.md: offsets SHOULD be page multiples

// Protobuf wire encoding, just what a ModelProto of initializers needs.
uint64_t varint_size(uint64_t v) {
  uint64_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, uint32_t field, uint32_t wire) { put_varint(out, (static_cast<uint64_t>(field) << 3) | wire); }
void put_varint_field(std::string& out, uint32_t field, uint64_t v) {
  put_tag(out, field, 0);
  put_varint(out, v);
}
void put_bytes_field(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}
// Size of a length-delimited field holding `n` bytes (tag of a field < 16 is one byte).
uint64_t ld_field_size(uint64_t n) { return 1 + varint_size(n) + n; }

std::string string_entry(std::string_view key, std::string_view value) {
  std::string e;
  put_bytes_field(e, 1, key);
  put_bytes_field(e, 2, value);
  return e;
}

struct Laid {
  int32_t onnx_type;
  std::string head;           // TensorProto fields before the values (and, external, everything)
  uint64_t message_size = 0;  // whole TensorProto
  uint64_t data_offset = 0;   // in the external file
};

}  // namespace

std::string write_onnx_initializers(const std::string& dst, const std::vector<TensorToWrite>& tensors,
                                    const std::vector<std::pair<std::string, std::string>>& metadata_props,
                                    const OnnxWriteOptions& options, bool overwrite) {
  std::vector<Laid> laid(tensors.size());
  bool float8 = false;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i].info;
    auto onnx_type = onnx::onnx_from_dtype(t.dtype);
    if (!onnx_type) fail(dst, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which ONNX cannot hold");
    laid[i].onnx_type = *onnx_type;
    float8 |= t.dtype == DType::F8_E4M3 || t.dtype == DType::F8_E5M2;
  }

  // Model fields around the graph; the IR version is the lowest that has the types used
  // (runtimes refuse IR versions newer than they know): 8 (onnx 1.12), 9 for float8.
  std::string model_head;
  put_varint_field(model_head, 1, float8 ? 9 : 8);
  put_bytes_field(model_head, 2, "lmforge");
  put_bytes_field(model_head, 3, "1");
  std::string model_tail;
  {
    std::string opset;
    put_bytes_field(opset, 1, "");
    put_varint_field(opset, 2, float8 ? 19 : 17);
    put_bytes_field(model_tail, 8, opset);
    for (const auto& [key, value] : metadata_props) put_bytes_field(model_tail, 14, string_entry(key, value));
  }
  std::string graph_name;
  put_bytes_field(graph_name, 2, "lmforge_weights");

  const std::string data_name = fs::path(dst).filename().string() + ".data";
  auto layout = [&](bool external) {
    uint64_t graph_size = graph_name.size();
    uint64_t data_pos = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorInfo& t = tensors[i].info;
      Laid& p = laid[i];
      p.head.clear();
      for (uint64_t d : t.shape) put_varint_field(p.head, 1, d);
      put_varint_field(p.head, 2, static_cast<uint64_t>(p.onnx_type));
      put_bytes_field(p.head, 8, t.name);
      uint64_t size = p.head.size();
      if (t.nbytes > 0 && external) {
        data_pos = *checked_align_up(data_pos, kExternalAlign);
        p.data_offset = data_pos;
        data_pos += t.nbytes;
        put_bytes_field(p.head, 13, string_entry("location", data_name));
        put_bytes_field(p.head, 13, string_entry("offset", std::to_string(p.data_offset)));
        put_bytes_field(p.head, 13, string_entry("length", std::to_string(t.nbytes)));
        put_varint_field(p.head, 14, 1);
        size = p.head.size();
      } else if (t.nbytes > 0) {
        // raw_data last, so its bytes can be streamed after the fields before it.
        put_tag(p.head, 9, 2);
        put_varint(p.head, t.nbytes);
        size = p.head.size() + t.nbytes;
      }
      p.message_size = size;
      graph_size += ld_field_size(size);
    }
    return graph_size;
  };
  uint64_t graph_size = layout(false);
  const uint64_t inline_total = model_head.size() + ld_field_size(graph_size) + model_tail.size();
  const bool external = inline_total > options.external_threshold;
  if (external) graph_size = layout(true);

  const std::string data_path = (fs::path(dst).parent_path() / data_name).string();
  check_output_path(dst, overwrite);
  if (external) check_output_path(data_path, overwrite);

  AtomicOutputFile out(dst, overwrite);
  std::unique_ptr<AtomicOutputFile> data;
  if (external) data = std::make_unique<AtomicOutputFile>(data_path, overwrite);

  std::string head = model_head;
  put_tag(head, 7, 2);
  put_varint(head, graph_size);
  head += graph_name;
  out.write(head.data(), head.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    const TensorInfo& t = tensors[k].info;
    const Laid& p = laid[k];
    std::string prefix;
    put_tag(prefix, 5, 2);
    put_varint(prefix, p.message_size);
    prefix += p.head;
    out.write(prefix.data(), prefix.size());
    if (t.nbytes == 0) continue;
    TensorBytes b = tensors[k].produce();
    if (b.size() != t.nbytes)
      fail(dst, "tensor " + quoted_for_message(t.name) + " gave " + std::to_string(b.size()) + " bytes, expected " + std::to_string(t.nbytes));
    if (external) {
      data->write_zeros(p.data_offset - data->position());
      data->write_tensor(b);
    } else {
      out.write_tensor(b);
    }
  }
  out.write(model_tail.data(), model_tail.size());
  if (data) data->commit();
  out.commit();
  return external ? data_path : std::string();
}

}  // namespace lmforge
