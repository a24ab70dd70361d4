#include "formats/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/json_strict.h"
#include "core/text_checks.h"

namespace lmforge {

namespace {

constexpr uint64_t kHeaderStart = 8;

// dtypes the safetensors format defines that lmforge has no element type for; named in the
// error so that the user sees "unsupported" rather than "unknown".
bool is_known_unsupported_dtype(const std::string& s) {
  static const std::set<std::string> names = {"F4",      "F6_E2M3",     "F6_E3M2",
                                              "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"};
  return names.count(s) != 0;
}

struct Entry {
  TensorInfo info;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const nlohmann::json& v, const std::string& file) {
  auto bad = [&](const std::string& what) -> void {
    fail(file, "tensor '" + name + "' " + what, kHeaderStart);
  };
  if (!v.is_object()) bad("entry is not a JSON object");
  for (const auto& [key, value] : v.items()) {
    (void)value;
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      bad("has unexpected field '" + key + "'");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) bad(std::string("is missing '") + key + "'");

  Entry e;
  e.info.name = name;
  e.info.file = file;

  const auto& dt = v["dtype"];
  if (!dt.is_string()) bad("has a dtype that is not a string");
  const auto& dts = dt.get_ref<const std::string&>();
  auto dtype = dtype_from_safetensors(dts);
  if (!dtype) {
    if (is_known_unsupported_dtype(dts))
      bad("has dtype '" + dts + "', which lmforge does not support");
    bad("has unknown dtype '" + dts + "'");
  }
  e.info.dtype = *dtype;

  const auto& shape = v["shape"];
  if (!shape.is_array()) bad("has a shape that is not an array");
  if (shape.size() > kSafetensorsMaxRank)
    bad("has rank " + std::to_string(shape.size()) + ", more than the limit of " +
        std::to_string(kSafetensorsMaxRank));
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) bad("has a shape dimension that is not a non-negative integer");
    e.info.shape.push_back(d.get<uint64_t>());
  }

  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    bad("has data_offsets that are not two non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin)
    bad("has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
        ") that end before they begin");

  auto numel = checked_product(e.info.shape);
  if (!numel) bad("has a shape " + shape_text(e.info.shape) + " whose element count overflows");
  auto nbytes = dtype_nbytes(e.info.dtype, *numel);
  if (!nbytes) bad("has a shape " + shape_text(e.info.shape) + " whose byte size overflows");
  if (*nbytes != e.end - e.begin)
    bad("has shape " + shape_text(e.info.shape) + " of " + dts + " = " + std::to_string(*nbytes) +
        " bytes, but data_offsets cover " + std::to_string(e.end - e.begin) + " bytes");
  e.info.nbytes = *nbytes;
  return e;
}

}  // namespace

SafetensorsLayout parse_safetensors_layout(std::span<const uint8_t> bytes,
                                           const std::string& file) {
  const uint64_t size = bytes.size();
  if (size < 8)
    fail(file,
         "file is " + std::to_string(size) +
             " bytes, too small for a safetensors header length (8 bytes)",
         0);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[static_cast<size_t>(i)];
  if (n > kSafetensorsMaxHeaderBytes)
    fail(file,
         "header length " + std::to_string(n) + " is more than the limit of " +
             std::to_string(kSafetensorsMaxHeaderBytes) + " bytes",
         0);
  if (n > size - 8)
    fail(file,
         "header length " + std::to_string(n) + " is past the end of the " + std::to_string(size) +
             "-byte file",
         0);

  SafetensorsLayout out;
  out.header_bytes = n;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  // The header describes at most depth 3 (object, entry, shape); a small limit keeps hostile
  // nesting away from the JSON parser.
  nlohmann::json header = parse_json_strict(text, file, kHeaderStart, JsonLimits{8});
  if (!header.is_object()) fail(file, "header is not a JSON object", kHeaderStart);

  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (value.is_null()) continue;
      if (!value.is_object()) fail(file, "__metadata__ is not a JSON object", kHeaderStart);
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          fail(file, "__metadata__ value of '" + k + "' is not a string", kHeaderStart);
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (name.empty()) fail(file, "tensor name is empty", kHeaderStart);
    if (has_control_char(name))
      fail(file, "tensor name " + quoted_for_message(name) + " contains a control character",
           kHeaderStart);
    entries.push_back(parse_entry(name, value, file));
  }

  // Sorted by offsets, each tensor must start where the previous one ended: this one rule
  // forbids gaps, overlaps and aliasing.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_start = 8 + n;
  uint64_t expected = 0;
  for (auto& e : entries) {
    if (e.begin != expected)
      fail(file,
           "tensor '" + e.info.name + "' data_offsets begin at " + std::to_string(e.begin) +
               " but the previous tensor ends at " + std::to_string(expected) +
               " (tensors must be contiguous, without gaps or overlaps)",
           data_start + std::min(e.begin, expected));
    expected = e.end;
    auto abs = checked_add(data_start, e.begin);
    if (!abs || e.end > size - data_start)
      fail(file,
           "tensor '" + e.info.name + "' data range [" + std::to_string(e.begin) + ", " +
               std::to_string(e.end) + ") is past the end of the file",
           data_start);
    e.info.offset = *abs;
  }
  if (expected != size - data_start)
    fail(file,
         "tensor data ends at byte " + std::to_string(data_start + expected) + " but the file is " +
             std::to_string(size) + " bytes (no trailing bytes are allowed)",
         data_start + expected);

  out.tensors.reserve(entries.size());
  for (auto& e : entries) out.tensors.push_back(std::move(e.info));
  return out;
}

namespace {

class SafetensorsSource final : public TensorSource {
 public:
  SafetensorsSource(std::shared_ptr<const MappedFile> map, SafetensorsLayout layout)
      : map_(std::move(map)), layout_(std::move(layout)) {}

  std::string format_description() const override { return "safetensors"; }
  const std::vector<TensorInfo>& tensors() const override { return layout_.tensors; }
  TensorBytes read(size_t index) const override {
    const auto& t = layout_.tensors.at(index);
    // Offsets and sizes were validated against the map's size when the file was opened.
    return TensorBytes(map_->bytes().subspan(t.offset, t.nbytes), map_);
  }
  nlohmann::json metadata() const override {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [k, v] : layout_.metadata) m[k] = v;
    return {{"__metadata__", m}};
  }

 private:
  std::shared_ptr<const MappedFile> map_;
  SafetensorsLayout layout_;
};

}  // namespace

std::unique_ptr<TensorSource> open_safetensors(const std::string& path) {
  auto map = MappedFile::open(path);
  auto layout = parse_safetensors_layout(map->bytes(), path);
  return std::make_unique<SafetensorsSource>(std::move(map), std::move(layout));
}

}  // namespace lmforge
