#include "formats/gguf/gguf_reader.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/byte_reader.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge {

namespace {

constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr uint32_t kMaxNestedArrays = 8;  // the spec allows nesting; bound the recursion
constexpr uint64_t kMaxAlignment = 1u << 20;

// Reads one length-prefixed field: u32 in version 1, u64 afterwards.
uint64_t read_count(ByteReader& r, uint32_t version, std::string_view what) {
  return version == 1 ? r.u32(what) : r.u64(what);
}

std::string read_string(ByteReader& r, uint32_t version, std::string_view what) {
  const uint64_t at = r.absolute_pos();
  const uint64_t len = read_count(r, version, what);
  if (len > r.remaining()) {
    fail(r.file(), std::string(what) + " has length " + std::to_string(len) + " but only " +
                       std::to_string(r.remaining()) + " bytes remain",
         at);
  }
  std::string s = r.str(len, what);
  // Version 1 writers counted a trailing NUL in the length.
  if (version == 1 && !s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

GgufValue read_value(ByteReader& r, uint32_t version, GgufType type, uint32_t depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::UINT8: v.u = r.u8(); break;
    case GgufType::INT8: v.i = r.i8(); break;
    case GgufType::UINT16: v.u = r.u16(); break;
    case GgufType::INT16: v.i = r.i16(); break;
    case GgufType::UINT32: v.u = r.u32(); break;
    case GgufType::INT32: v.i = r.i32(); break;
    case GgufType::FLOAT32: v.f = r.f32(); break;
    case GgufType::UINT64: v.u = r.u64(); break;
    case GgufType::INT64: v.i = r.i64(); break;
    case GgufType::FLOAT64: v.f = r.f64(); break;
    case GgufType::BOOL: {
      const uint64_t at = r.absolute_pos();
      v.u = r.u8();
      if (v.u > 1) fail(r.file(), "boolean value is " + std::to_string(v.u) + ", not 0 or 1", at);
      break;
    }
    case GgufType::STRING: v.s = read_string(r, version, "string value"); break;
    case GgufType::ARRAY: {
      const uint64_t at = r.absolute_pos();
      if (depth >= kMaxNestedArrays) fail(r.file(), "arrays nested too deeply", at);
      const uint32_t elem_id = r.u32("array element type");
      auto elem = gguf_type_from_id(elem_id);
      if (!elem) fail(r.file(), "unknown array element type " + std::to_string(elem_id), at);
      v.array_type = *elem;
      const uint64_t count = read_count(r, version, "array length");
      // Every element takes at least one byte (strings and arrays at least their length
      // field), so a count above the remaining bytes cannot be honest.
      uint64_t min_size = gguf_type_size(*elem);
      if (min_size == 0) min_size = version == 1 ? 4 : 8;
      if (count > r.remaining() / min_size) {
        fail(r.file(), "array of " + std::to_string(count) + " elements of type " +
                           std::string(gguf_type_name(*elem)) + " does not fit in the " +
                           std::to_string(r.remaining()) + " bytes that remain",
             at);
      }
      v.array.reserve(count);
      for (uint64_t k = 0; k < count; ++k) v.array.push_back(read_value(r, version, *elem, depth + 1));
      break;
    }
  }
  return v;
}

}  // namespace

std::unique_ptr<GgufReader> GgufReader::open(const std::string& path) {
  auto file = MappedFile::open(path);
  auto bytes = file->bytes();
  auto g = parse(bytes, path, file);
  g->file_ = std::move(file);
  return g;
}

std::unique_ptr<GgufReader> GgufReader::parse(std::span<const uint8_t> bytes, const std::string& name,
                                              std::shared_ptr<const void> keep_alive) {
  std::unique_ptr<GgufReader> g(new GgufReader());
  g->path_ = name;
  g->bytes_ = bytes;
  g->keep_alive_ = std::move(keep_alive);
  g->parse_all();
  return g;
}

void GgufReader::parse_all() {
  ByteReader r(bytes_, path_);
  auto magic = r.take(4, "magic");
  if (!std::equal(magic.begin(), magic.end(), "GGUF")) r.fail_at(0, "not a GGUF file (wrong magic)");

  version_ = r.u32("version");
  if ((version_ & 0xFFFFu) == 0 && version_ != 0) {
    // The version reads as e.g. 0x03000000: every multi-byte field is big-endian.
    big_endian_ = true;
    r.set_big_endian(true);
    version_ = __builtin_bswap32(version_);
  }
  if (version_ < 1 || version_ > 3) r.fail_at(4, "unsupported GGUF version " + std::to_string(version_));

  const uint64_t n_tensors = read_count(r, version_, "tensor count");
  const uint64_t n_kv = read_count(r, version_, "metadata count");
  // A key-value pair takes at least 13 bytes, a tensor info at least 17: bound both counts by
  // the file size before reserving anything.
  if (n_kv > r.remaining() / 13) r.fail_at(version_ == 1 ? 12 : 16, "metadata count " + std::to_string(n_kv) + " is larger than the file could hold");
  if (n_tensors > r.remaining() / 17) r.fail_at(8, "tensor count " + std::to_string(n_tensors) + " is larger than the file could hold");

  std::unordered_set<std::string> keys;
  kvs_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = r.absolute_pos();
    std::string key = read_string(r, version_, "metadata key");
    if (key.empty()) fail(path_, "empty metadata key", at);
    if (!keys.insert(key).second) fail(path_, "duplicate metadata key " + quoted_for_message(key), at);
    const uint64_t type_at = r.absolute_pos();
    const uint32_t type_id = r.u32("value type");
    auto type = gguf_type_from_id(type_id);
    if (!type) fail(path_, "metadata key " + quoted_for_message(key) + " has unknown value type " + std::to_string(type_id), type_at);
    kvs_.push_back({std::move(key), read_value(r, version_, *type, 0)});
  }

  if (const GgufValue* a = find_kv("general.alignment")) {
    if (a->type != GgufType::UINT32) fail(path_, "general.alignment must be UINT32, not " + std::string(gguf_type_name(a->type)));
    if (a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > kMaxAlignment)
      fail(path_, "general.alignment " + std::to_string(a->u) + " is not a power of two up to 1 MiB");
    alignment_ = a->u;
  }

  std::unordered_set<std::string> names;
  tensors_.reserve(n_tensors);
  relative_offsets_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const uint64_t at = r.absolute_pos();
    TensorInfo info;
    info.name = read_string(r, version_, "tensor name");
    if (info.name.empty()) fail(path_, "tensor " + std::to_string(t) + " has an empty name", at);
    const std::string quoted = quoted_for_message(info.name);
    if (!names.insert(info.name).second) fail(path_, "duplicate tensor name " + quoted, at);
    if (info.name.size() > 64)
      fail(path_, "tensor name " + quoted.substr(0, 80) + "... is " + std::to_string(info.name.size()) + " bytes long (at most 64 allowed)", at);
    if (info.name.size() == 64)
      warnings_.push_back("tensor name " + quoted + " is 64 bytes long; llama.cpp accepts at most 63");
    const uint64_t dims_at = r.absolute_pos();
    const uint32_t n_dims = r.u32("dimension count");
    if (n_dims > kMaxDims) fail(path_, "tensor " + quoted + " has " + std::to_string(n_dims) + " dimensions (at most 4 allowed)", dims_at);
    std::vector<uint64_t> ne(n_dims);
    for (auto& d : ne) {
      d = read_count(r, version_, "dimension");
      if (d > static_cast<uint64_t>(INT64_MAX)) fail(path_, "tensor " + quoted + " has a negative dimension", dims_at);
    }
    info.shape.assign(ne.rbegin(), ne.rend());
    const uint64_t type_at = r.absolute_pos();
    const uint32_t type_id = r.u32("tensor type");
    auto dtype = dtype_from_ggml(type_id);
    if (!dtype) fail(path_, "tensor " + quoted + " has unknown or unsupported ggml type " + std::to_string(type_id), type_at);
    info.dtype = *dtype;
    const uint64_t off_at = r.absolute_pos();
    const uint64_t offset = r.u64("tensor offset");

    auto numel = checked_product(ne);
    if (!numel || *numel > static_cast<uint64_t>(INT64_MAX))
      fail(path_, "tensor " + quoted + " has dimensions whose product overflows", dims_at);
    const auto& di = dtype_info(info.dtype);
    if (!ne.empty() && ne[0] % di.block_size != 0)
      fail(path_, "tensor " + quoted + " row length " + std::to_string(ne[0]) + " is not a multiple of the " +
                      std::string(di.name) + " block size " + std::to_string(di.block_size), dims_at);
    auto nbytes = dtype_nbytes(info.dtype, *numel);
    if (!nbytes) fail(path_, "tensor " + quoted + " byte size overflows", dims_at);
    info.nbytes = *nbytes;
    if (offset % alignment_ != 0)
      fail(path_, "tensor " + quoted + " offset " + std::to_string(offset) + " is not a multiple of the alignment " + std::to_string(alignment_), off_at);
    tensors_.push_back(std::move(info));
    relative_offsets_.push_back(offset);
  }

  auto start = checked_align_up(r.pos(), alignment_);
  if (!start) fail(path_, "data section start overflows");
  data_start_ = *start;
  if (n_tensors > 0 && data_start_ > bytes_.size())
    fail(path_, "truncated: the tensor data section would start at byte " + std::to_string(data_start_) + " but the file has " + std::to_string(bytes_.size()) + " bytes");

  uint64_t expected = 0;
  bool dense = true;
  for (size_t t = 0; t < tensors_.size(); ++t) {
    auto& info = tensors_[t];
    auto begin = checked_add(data_start_, relative_offsets_[t]);
    auto end = begin ? checked_add(*begin, info.nbytes) : std::nullopt;
    if (!end || *end > bytes_.size())
      fail(path_, "tensor " + quoted_for_message(info.name) + " data (" + std::to_string(info.nbytes) + " bytes at offset " +
                      std::to_string(relative_offsets_[t]) + ") is past the end of the file");
    info.offset = *begin;
    info.file = path_;
    if (relative_offsets_[t] != expected) dense = false;
    auto padded = checked_align_up(info.nbytes, alignment_);
    auto next = padded ? checked_add(expected, *padded) : std::nullopt;
    if (!next) fail(path_, "tensor data sizes overflow");
    expected = *next;
  }
  // Overlapping tensors are refused: a writer never produces them and they hide data.
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& prev = tensors_[order[k - 1]];
    const auto& cur = tensors_[order[k]];
    if (prev.nbytes > 0 && cur.offset < prev.offset + prev.nbytes)
      fail(path_, "tensor " + quoted_for_message(cur.name) + " overlaps tensor " + quoted_for_message(prev.name), cur.offset);
  }
  if (!dense)
    warnings_.push_back("tensor data is not densely packed in tensor-info order; llama.cpp (2025+) refuses such files");
  if (version_ == 1) warnings_.push_back("GGUF version 1 is no longer loaded by llama.cpp; convert it to version 3");
  if (big_endian_) warnings_.push_back("big-endian GGUF: llama.cpp on little-endian machines refuses it");
}

const GgufValue* GgufReader::find_kv(const std::string& key) const {
  for (const auto& kv : kvs_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::vector<uint64_t> GgufReader::ggml_ne(size_t index) const {
  const auto& s = tensors_.at(index).shape;
  return {s.rbegin(), s.rend()};
}

std::string GgufReader::format_description() const {
  return "GGUF version " + std::to_string(version_) + (big_endian_ ? " (big-endian)" : " (little-endian)");
}

TensorBytes GgufReader::read(size_t index) const {
  const auto& info = tensors_.at(index);
  auto view = bytes_.subspan(info.offset, info.nbytes);
  if (!big_endian_) return file_ ? TensorBytes(view, file_) : TensorBytes(view, keep_alive_);
  // Big-endian file: swap each element of plain types; block types have mixed-width fields.
  const auto& di = dtype_info(info.dtype);
  if (di.block_size != 1)
    fail(path_, "tensor " + quoted_for_message(info.name) + ": big-endian " + std::string(di.name) + " data is not supported", info.offset);
  std::vector<uint8_t> out(view.begin(), view.end());
  const size_t w = di.block_bytes;
  for (size_t i = 0; i + w <= out.size(); i += w) std::reverse(out.begin() + i, out.begin() + i + w);
  return TensorBytes(std::move(out));
}

nlohmann::json GgufReader::metadata() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& kv : kvs_) j[kv.key] = kv.value.to_json();
  return j;
}

}  // namespace lmforge
