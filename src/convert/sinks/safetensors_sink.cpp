#include "convert/sinks/safetensors_sink.h"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "convert/sources/open_model.h"
#include "convert/tensor_cast.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "convert/progress_producers.h"
#include "formats/safetensors_writer.h"
#include "formats/detect/sniff.h"
#include "formats/training_checkpoint.h"

namespace lmforge {

ConvertReport convert_to_safetensors(const std::string& src, const std::string& dst, const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto source = open_model(src);
  // A training checkpoint (.ckpt/.pt) keeps only its model weights, under their bare names.
  std::vector<std::string> notes;
  const FileFormat fmt = sniff_format(src);
  if (fmt == FileFormat::kPytorchZip || fmt == FileFormat::kPytorchLegacy) {
    const nlohmann::json training = describe_training_checkpoint(*source);
    if (!training.is_null()) {
      const auto& w = training["weights"];
      std::string line = "training checkpoint (" + training["kind"].get<std::string>() + "): writing the " +
                         std::to_string(w["tensors"].get<uint64_t>()) + " model weights";
      if (!w["root"].get<std::string>().empty()) line += " from '" + w["root"].get<std::string>() + "'";
      if (!w["prefix_stripped"].get<std::string>().empty()) line += ", prefix '" + w["prefix_stripped"].get<std::string>() + "' stripped";
      notes.push_back(line);
      for (const auto& [top, d] : training["dropped_on_convert"].items())
        notes.push_back("dropped " + quoted_for_message(top) + ": " + std::to_string(d["tensors"].get<uint64_t>()) + " tensors, " +
                        std::to_string(d["bytes"].get<uint64_t>()) + " bytes");
      source = training_checkpoint_weights(std::move(source));
    }
  }
  if (opt.outtype && dtype_is_quantized(*opt.outtype))
    throw UsageError("safetensors holds plain tensors: use --outtype f32, f16 or bf16");
  std::vector<TensorToWrite> out;
  uint64_t total = 0;
  for (size_t i = 0; i < source->tensors().size(); ++i) {
    const TensorInfo& t = source->tensors()[i];
    const bool is_float = can_decode(t.dtype) && !dtype_is_quantized(t.dtype);  // plain types with a codec
    DType to = t.dtype;
    if (dtype_is_quantized(t.dtype)) to = DType::F32;
    if (opt.outtype && is_float) to = *opt.outtype;
    if (dtype_info(to).safetensors_name.empty())
      fail(src, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which safetensors cannot hold");
    TensorToWrite w;
    w.info = t;
    w.info.dtype = to;
    w.info.nbytes = *dtype_nbytes(to, t.numel());
    const uint64_t row_len = t.shape.empty() ? 1 : t.shape.back();
    const uint64_t rows = row_len ? t.numel() / row_len : 0;
    const DType from = t.dtype;
    w.produce = [&source, i, from, to, rows, row_len, name = t.name] {
      TensorBytes b = source->read(i);
      return cast_rows(b, from, to, rows, row_len, {}, name);
    };
    total += t.nbytes;
    out.push_back(std::move(w));
  }
  std::vector<std::string> lines;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < out.size(); ++i) {
    const TensorInfo& t = source->tensors()[i];
    lines.push_back("[" + std::to_string(i + 1) + "/" + std::to_string(out.size()) + "] " + t.name + " " +
                    std::string(dtype_name(t.dtype)) + " -> " + std::string(dtype_name(out[i].info.dtype)));
    sizes.push_back(t.nbytes);
  }
  Progress bar(total, opt.quiet);
  for (const auto& n : notes) bar.log(n);
  attach_progress(out, lines, sizes, bar);
  write_safetensors(dst, out, {{"format", "pt"}}, opt.overwrite);
  bar.finish();
  return make_report(dst, out.size(), total, t0);
}

}  // namespace lmforge
