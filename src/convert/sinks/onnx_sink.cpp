#include "convert/sinks/onnx_sink.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "arch/llama/llama_config_gguf.h"
#include "arch/llama/llama_config_json.h"
#include "convert/sources/open_model.h"
#include "convert/tensor_cast.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/onnx/onnx_proto.h"
#include "formats/detect/sniff.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

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

  // Plan every tensor's output type before writing anything.
  std::vector<TensorToWrite> out;
  std::vector<DType> from;
  for (size_t i = 0; i < source->tensors().size(); ++i) {
    const TensorInfo& t = source->tensors()[i];
    const bool is_float = can_decode(t.dtype) && !dtype_is_quantized(t.dtype);  // plain types with a codec
    DType to = t.dtype;
    if (dtype_is_quantized(t.dtype)) to = DType::F32;  // ONNX has no ggml block types
    if (opt.outtype && is_float) to = *opt.outtype;
    if (to != t.dtype && (!can_decode(t.dtype) || !can_encode(to)))
      fail(src, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which cannot be converted to " +
                    std::string(dtype_name(to)));
    if (!onnx::onnx_from_dtype(to)) fail(src, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(to)) + ", which ONNX cannot hold");
    TensorToWrite w;
    w.info = t;
    w.info.dtype = to;
    w.info.nbytes = *dtype_nbytes(to, t.numel());
    out.push_back(std::move(w));
    from.push_back(t.dtype);
  }

  std::vector<std::pair<std::string, std::string>> props;
  if (const std::optional<std::string> config = llama_config_text(src)) props.emplace_back(kOnnxLlamaConfigKey, *config);

  uint64_t total = 0;
  for (const auto& w : out) total += w.info.nbytes;
  Progress bar(total, opt.quiet);
  uint64_t done = 0, bytes_read = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].produce = [&, k] {
      const TensorInfo& s = source->tensors()[k];
      const DType to = out[k].info.dtype;
      TensorBytes b = source->read(k);
      bytes_read += b.size();
      if (from[k] != to) {
        const uint64_t row_len = s.shape.empty() ? 1 : s.shape.back();
        const uint64_t rows = row_len ? s.numel() / row_len : 0;
        b = cast_rows(b, from[k], to, rows, row_len, {}, s.name);
      }
      if (b.size() != out[k].info.nbytes)
        fail(src, "tensor " + quoted_for_message(s.name) + " gave " + std::to_string(b.size()) + " bytes, expected " + std::to_string(out[k].info.nbytes));
      done += out[k].info.nbytes;
      bar.update(done);
      if (!opt.quiet) bar.log("[" + std::to_string(k + 1) + "/" + std::to_string(out.size()) + "] " + s.name + " " + std::string(dtype_name(from[k])) + " -> " + std::string(dtype_name(to)));
      return b;
    };
  }
  const std::string data_path = write_onnx_initializers(dst, out, props, wopt, opt.overwrite);
  bar.finish();
  ConvertReport rep = make_report(dst, out.size(), bytes_read, t0);
  if (!data_path.empty()) {
    std::error_code ec;
    rep.bytes_written += fs::file_size(data_path, ec);
  }
  return rep;
}

}  // namespace lmforge
