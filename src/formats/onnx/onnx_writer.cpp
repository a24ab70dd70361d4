#include "formats/onnx/onnx_writer.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert/gguf_to_hf.h"
#include "convert/tensor_cast.h"
#include "core/atomic_output.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/onnx/onnx_proto.h"
#include "formats/sniff.h"
#include "arch/llama/llama_config_json.h"

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

struct Planned {
  TensorInfo info;  // output name, dtype, shape, nbytes
  size_t index;     // in the source
  DType from;
  int32_t onnx_type;
  std::string head;             // TensorProto fields before the values (and, external, everything)
  uint64_t message_size = 0;    // whole TensorProto
  uint64_t data_offset = 0;     // in the external file
};

// Config text for the lmforge.llama_config entry when the source is a whole llama model.
std::optional<std::string> llama_config_text(const std::string& src) {
  try {
    const FileFormat f = sniff_format(src);
    if (f == FileFormat::kHfFolder) {
      std::ifstream in(fs::path(src) / "config.json", std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      if (in && ss.str().size() < (16u << 20)) return ss.str();
    } else if (f == FileFormat::kGguf) {
      auto g = GgufReader::open(src);
      return llama_config_to_json(llama_config_from_gguf(*g, src)).dump(2);
    }
  } catch (const Error&) {
    // Not a llama: the weights are still written, just without a config.
  }
  return std::nullopt;
}

}  // namespace

ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt) {
  OnnxWriteOptions w;
  if (const char* env = std::getenv("LMFORGE_ONNX_EXTERNAL_THRESHOLD")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (!*env || *end) throw UsageError("LMFORGE_ONNX_EXTERNAL_THRESHOLD must be a number of bytes");
    w.external_threshold = v;
  }
  return convert_to_onnx(src, dst, opt, w);
}

ConvertReport convert_to_onnx(const std::string& src, const std::string& dst, const ConvertOptions& opt,
                              const OnnxWriteOptions& wopt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.outtype && dtype_is_quantized(*opt.outtype))
    throw UsageError("ONNX initializers hold plain tensors: use --outtype f32, f16 or bf16");
  auto source = open_model(src);

  std::vector<Planned> plan;
  bool float8 = false;
  for (size_t i = 0; i < source->tensors().size(); ++i) {
    const TensorInfo& t = source->tensors()[i];
    const bool is_float = can_decode(t.dtype) && !dtype_is_quantized(t.dtype);  // plain types with a codec
    DType to = t.dtype;
    if (dtype_is_quantized(t.dtype)) to = DType::F32;  // ONNX has no ggml block types
    if (opt.outtype && is_float) to = *opt.outtype;
    if (to != t.dtype && (!can_decode(t.dtype) || !can_encode(to)))
      fail(src, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which cannot be converted to " +
                    std::string(dtype_name(to)));
    auto onnx_type = onnx::onnx_from_dtype(to);
    if (!onnx_type) fail(src, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(to)) + ", which ONNX cannot hold");
    float8 |= to == DType::F8_E4M3 || to == DType::F8_E5M2;
    Planned p;
    p.info = t;
    p.info.dtype = to;
    p.info.nbytes = *dtype_nbytes(to, t.numel());
    p.index = i;
    p.from = t.dtype;
    p.onnx_type = *onnx_type;
    plan.push_back(std::move(p));
  }

  const std::optional<std::string> config = llama_config_text(src);
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
    if (config) put_bytes_field(model_tail, 14, string_entry(kOnnxLlamaConfigKey, *config));
  }
  std::string graph_name;
  put_bytes_field(graph_name, 2, "lmforge_weights");

  const std::string data_name = fs::path(dst).filename().string() + ".data";
  auto layout = [&](bool external) {
    uint64_t graph_size = graph_name.size();
    uint64_t data_pos = 0;
    for (Planned& p : plan) {
      p.head.clear();
      for (uint64_t d : p.info.shape) put_varint_field(p.head, 1, d);
      put_varint_field(p.head, 2, static_cast<uint64_t>(p.onnx_type));
      put_bytes_field(p.head, 8, p.info.name);
      uint64_t size = p.head.size();
      if (p.info.nbytes > 0 && external) {
        data_pos = *checked_align_up(data_pos, kExternalAlign);
        p.data_offset = data_pos;
        data_pos += p.info.nbytes;
        put_bytes_field(p.head, 13, string_entry("location", data_name));
        put_bytes_field(p.head, 13, string_entry("offset", std::to_string(p.data_offset)));
        put_bytes_field(p.head, 13, string_entry("length", std::to_string(p.info.nbytes)));
        put_varint_field(p.head, 14, 1);
        size = p.head.size();
      } else if (p.info.nbytes > 0) {
        // raw_data last, so its bytes can be streamed after the fields before it.
        put_tag(p.head, 9, 2);
        put_varint(p.head, p.info.nbytes);
        size = p.head.size() + p.info.nbytes;
      }
      p.message_size = size;
      graph_size += ld_field_size(size);
    }
    return graph_size;
  };
  uint64_t graph_size = layout(false);
  const uint64_t inline_total = model_head.size() + ld_field_size(graph_size) + model_tail.size();
  const bool external = inline_total > wopt.external_threshold;
  if (external) graph_size = layout(true);

  const std::string data_path = (fs::path(dst).parent_path() / data_name).string();
  check_output_path(dst, opt.overwrite);
  if (external) check_output_path(data_path, opt.overwrite);

  uint64_t total = 0;
  for (const auto& p : plan) total += p.info.nbytes;
  Progress bar(total, opt.quiet);
  AtomicOutputFile out(dst, opt.overwrite);
  std::unique_ptr<AtomicOutputFile> data;
  if (external) data = std::make_unique<AtomicOutputFile>(data_path, opt.overwrite);

  std::string head = model_head;
  put_tag(head, 7, 2);
  put_varint(head, graph_size);
  head += graph_name;
  out.write(head.data(), head.size());
  uint64_t done = 0, bytes_read = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const Planned& p = plan[k];
    std::string prefix;
    put_tag(prefix, 5, 2);
    put_varint(prefix, p.message_size);
    prefix += p.head;
    out.write(prefix.data(), prefix.size());
    if (p.info.nbytes == 0) continue;
    const TensorInfo& s = source->tensors()[p.index];
    TensorBytes b = source->read(p.index);
    bytes_read += b.size();
    if (p.from != p.info.dtype) {
      const uint64_t row_len = s.shape.empty() ? 1 : s.shape.back();
      const uint64_t rows = row_len ? s.numel() / row_len : 0;
      b = cast_rows(b, p.from, p.info.dtype, rows, row_len, {}, s.name);
    }
    if (b.size() != p.info.nbytes)
      fail(src, "tensor " + quoted_for_message(s.name) + " gave " + std::to_string(b.size()) + " bytes, expected " + std::to_string(p.info.nbytes));
    if (external) {
      data->write_zeros(p.data_offset - data->position());
      data->write_tensor(b);
    } else {
      out.write_tensor(b);
    }
    done += p.info.nbytes;
    bar.update(done);
    if (!opt.quiet) bar.log("[" + std::to_string(k + 1) + "/" + std::to_string(plan.size()) + "] " + s.name + " " + std::string(dtype_name(p.from)) + " -> " + std::string(dtype_name(p.info.dtype)));
  }
  out.write(model_tail.data(), model_tail.size());
  if (data) data->commit();
  out.commit();
  bar.finish();
  ConvertReport rep = make_report(dst, plan.size(), bytes_read, t0);
  if (external) {
    std::error_code ec;
    rep.bytes_written += fs::file_size(data_path, ec);
  }
  return rep;
}

}  // namespace lmforge
