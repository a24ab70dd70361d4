#include "formats/onnx/onnx_source.h"

#include <nlohmann/json.hpp>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/onnx/onnx_external.h"

namespace lmforge {

std::unique_ptr<OnnxSource> OnnxSource::open(const std::string& path) {
  std::unique_ptr<OnnxSource> s(new OnnxSource());
  s->path_ = path;
  s->file_ = MappedFile::open(path);
  s->model_ = onnx::parse_onnx_model(s->file_->bytes(), path);
  std::map<std::string, std::shared_ptr<const MappedFile>> opened;  // one map per data file
  for (const onnx::OnnxTensor& t : s->model_.tensors) {
    TensorInfo info;
    info.name = t.name;
    info.dtype = *t.dtype;  // the parser keeps only tensors of known types
    info.shape = t.dims;
    info.nbytes = t.nbytes;
    info.file = path;
    info.offset = t.field == onnx::ValueField::kNone || t.chunks.empty() ? t.offset : t.chunks[0].payload_offset;
    std::shared_ptr<const MappedFile> ext;
    if (t.field == onnx::ValueField::kExternal) {
      const uint64_t at = t.external.field_offset;
      auto& f = opened[t.external.location];
      if (!f) f = onnx::open_external_file(path, t.external.location, at);
      ext = f;
      const std::string label = "tensor " + quoted_for_message(t.name) + " (external data " + quoted_for_message(t.external.location) + ")";
      const uint64_t offset = t.external.offset.value_or(0);
      if (offset > f->size())
        fail(path, label + ": offset " + std::to_string(offset) + " is past the end of the " + std::to_string(f->size()) + "-byte file", at);
      const uint64_t length = t.external.length.value_or(f->size() - offset);
      auto end = checked_add(offset, length);
      if (!end || *end > f->size())
        fail(path, label + ": offset " + std::to_string(offset) + " + length " + std::to_string(length) + " is past the end of the " +
                       std::to_string(f->size()) + "-byte file", at);
      if (length != t.nbytes)
        fail(path, label + ": length " + std::to_string(length) + " but dims and type need " + std::to_string(t.nbytes) + " bytes", at);
      info.file = f->path();
      info.offset = offset;
    }
    s->infos_.push_back(std::move(info));
    s->external_.push_back(std::move(ext));
  }
  return s;
}

std::string OnnxSource::format_description() const {
  std::string d = "ONNX model (IR version " + std::to_string(model_.ir_version);
  if (!model_.producer_name.empty()) d += ", producer " + quoted_for_message(model_.producer_name);
  size_t external = 0;
  for (const auto& e : external_) external += e != nullptr;
  if (external) d += ", " + std::to_string(external) + " tensors in external data";
  return d + ")";
}

TensorBytes OnnxSource::read(size_t index) const {
  if (index >= infos_.size()) fail(path_, "tensor index out of range");
  const onnx::OnnxTensor& t = model_.tensors[index];
  if (external_[index]) {
    const auto& f = external_[index];
    return TensorBytes(f->bytes().subspan(infos_[index].offset, t.nbytes), f);  // range checked at open
  }
  return onnx::inline_tensor_bytes(t, path_, file_);
}

nlohmann::json OnnxSource::metadata() const {
  nlohmann::json m = nlohmann::json::object();
  m["ir_version"] = model_.ir_version;
  m["producer_name"] = sanitize_utf8(model_.producer_name);
  m["producer_version"] = sanitize_utf8(model_.producer_version);
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& [domain, version] : model_.opsets) ops.push_back({{"domain", sanitize_utf8(domain)}, {"version", version}});
  m["opset_import"] = ops;
  nlohmann::json props = nlohmann::json::object();
  for (const auto& [k, v] : model_.metadata) props[sanitize_utf8(k)] = sanitize_utf8(v);
  m["metadata_props"] = props;
  return m;
}

const std::string* OnnxSource::metadata_value(const std::string& key) const {
  const std::string* found = nullptr;
  for (const auto& [k, v] : model_.metadata)
    if (k == key) found = &v;  // the last one wins, as a map built from the list would
  return found;
}

}  // namespace lmforge
