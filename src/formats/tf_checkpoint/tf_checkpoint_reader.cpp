#include "formats/tf_checkpoint/tf_checkpoint_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/tf_checkpoint/crc32c.h"
#include "formats/tf_checkpoint/sstable_reader.h"
#include "formats/tf_checkpoint/tensor_bundle.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using tf::BundleEntry;
using tf::BundleHeader;

// More shards than this is not a checkpoint anyone wrote (TF uses one per device/thread).
constexpr int32_t kMaxShards = 1 << 16;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "PREFIX.data-NNNNN-of-NNNNN" -> PREFIX (five or more digits, as %05d prints).
std::optional<std::string> prefix_of_data_shard(const std::string& path) {
  const auto dot = path.rfind(".data-");
  if (dot == std::string::npos) return std::nullopt;
  const std::string tail = path.substr(dot + 6);
  const auto of = tail.find("-of-");
  if (of == std::string::npos) return std::nullopt;
  auto all_digits = [](std::string_view s) {
    return s.size() >= 5 && s.size() <= 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(std::string_view(tail).substr(0, of)) || !all_digits(std::string_view(tail).substr(of + 4))) {
    return std::nullopt;
  }
  return path.substr(0, dot);
}

// The checkpoint prefix a user may mean by `path`: PREFIX itself, PREFIX.index, one of its
// data shards, or a SavedModel folder (whose variables live in variables/variables.*).
std::optional<std::string> checkpoint_prefix(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string saved_model_vars = (fs::path(path) / "variables" / "variables").string();
    if (fs::is_regular_file(saved_model_vars + ".index", ec)) return saved_model_vars;
    return std::nullopt;
  }
  if (ends_with(path, ".index")) return path.substr(0, path.size() - 6);
  if (auto p = prefix_of_data_shard(path)) return p;
  if (fs::is_regular_file(path + ".index", ec)) return path;
  return std::nullopt;
}

bool file_has_table_magic(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const auto size = fs::file_size(path, ec);
  if (ec || size < tf::kTableFooterSize) return false;
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  f.seekg(static_cast<std::streamoff>(size - tf::kTableFooterSize));
  uint8_t footer[tf::kTableFooterSize];
  f.read(reinterpret_cast<char*>(footer), sizeof footer);
  return f.gcount() == static_cast<std::streamsize>(sizeof footer) && tf::has_table_magic(footer);
}

struct SkippedEntry {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::string reason;
};

class TfCheckpointSource : public TensorSource {
 public:
  explicit TfCheckpointSource(const std::string& prefix) : index_path_(prefix + ".index") {
    std::error_code ec;
    if (!fs::is_regular_file(index_path_, ec)) fail(index_path_, "checkpoint index not found");
    const auto index = MappedFile::open(index_path_);
    const auto entries = tf::read_sstable(index->bytes(), index_path_);
    if (entries.empty() || !entries.front().key.empty()) {
      fail(index_path_, "table has no bundle header (the entry with the empty key): not a TensorFlow checkpoint index", 0);
    }
    const auto& h = entries.front();
    header_ = tf::parse_bundle_header(as_bytes(h.value), index_path_, h.value_offset);
    if (header_.num_shards < 1 || header_.num_shards > kMaxShards) {
      fail(index_path_, "bundle header declares " + std::to_string(header_.num_shards) + " data shards", h.value_offset);
    }
    shards_.resize(static_cast<size_t>(header_.num_shards));
    for (size_t i = 1; i < entries.size(); ++i) add_entry(prefix, entries[i]);
  }

  std::string format_description() const override {
    return "TensorFlow checkpoint (tensor bundle: SSTable index + " + std::to_string(header_.num_shards) +
           " data shard" + (header_.num_shards == 1 ? "" : "s") + ", " +
           (header_.big_endian ? "big-endian" : "little-endian") + ")";
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }

  TensorBytes read(size_t index) const override {
    const TensorInfo& info = infos_.at(index);
    const auto& shard = shards_[static_cast<size_t>(shard_of_[index])];
    const auto bytes = shard->bytes().subspan(info.offset, info.nbytes);
    const uint32_t actual = tf::crc32c(bytes);
    if (tf::crc32c_unmask(crc_of_[index]) != actual) {
      fail(info.file, "tensor " + quoted_for_message(info.name) + ": data CRC-32C mismatch (index says masked " +
                          std::to_string(crc_of_[index]) + ", data gives " +
                          std::to_string(tf::crc32c_mask(actual)) + ")",
           info.offset);
    }
    if (!header_.big_endian) return TensorBytes(bytes, shard);
    return TensorBytes(swapped(bytes, info.dtype));
  }

  nlohmann::json metadata() const override {
    nlohmann::json m = nlohmann::json::object();
    m["index"] = index_path_;
    m["num_shards"] = header_.num_shards;
    m["endianness"] = header_.big_endian ? "big" : "little";
    m["version"] = {{"producer", header_.producer}, {"min_consumer", header_.min_consumer}};
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& s : skipped_) {
      skipped.push_back({{"name", sanitize_utf8(s.name)}, {"dtype", s.dtype}, {"shape", s.shape}, {"reason", s.reason}});
    }
    m["entries_without_tensor_data"] = skipped;
    return m;
  }

  std::vector<std::string> warnings() const override {
    std::vector<std::string> w;
    for (const auto& s : skipped_) {
      w.push_back("entry " + quoted_for_message(s.name) + " (" + s.dtype + ") is not listed as a tensor: " + s.reason);
    }
    return w;
  }

 private:
  static std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  // Tensor bytes in little-endian order: each element (each half of a complex) reversed.
  static std::vector<uint8_t> swapped(std::span<const uint8_t> bytes, DType dt) {
    std::vector<uint8_t> out(bytes.begin(), bytes.end());
    size_t unit = dtype_info(dt).block_bytes;
    if (dt == DType::C64 || dt == DType::C128) unit /= 2;
    if (unit > 1) {
      for (size_t i = 0; i + unit <= out.size(); i += unit) std::reverse(out.begin() + static_cast<ptrdiff_t>(i), out.begin() + static_cast<ptrdiff_t>(i + unit));
    }
    return out;
  }

  void skip(const std::string& name, const BundleEntry& e, std::string reason) {
    skipped_.push_back({name, tf::tf_dtype_name(e.dtype), e.shape, std::move(reason)});
  }

  void add_entry(const std::string& prefix, const tf::TableEntry& te) {
    const BundleEntry e = tf::parse_bundle_entry(as_bytes(te.value), index_path_, te.value_offset);
    const std::string& name = te.key;
    if (!is_valid_utf8(name) || has_control_char(name)) {
      // TF encodes the keys of partitioned-variable slices in a binary form.
      skip(name, e, "binary key (a slice of a partitioned variable, not read)");
      return;
    }
    if (e.num_slices > 0) {
      skip(name, e, "partitioned (sliced) variable: its data is spread over slice entries, which lmforge does not reassemble");
      return;
    }
    const auto dt = tf::dtype_from_tf(e.dtype);
    if (!dt) {
      skip(name, e, "no plain numeric data (strings, resources, variants and quantized types are not converted)");
      return;
    }
    if (e.unknown_rank) fail(index_path_, "tensor " + quoted_for_message(name) + " has an unknown rank", te.value_offset);
    if (e.shard_id < 0 || e.shard_id >= header_.num_shards) {
      fail(index_path_, "tensor " + quoted_for_message(name) + " names shard " + std::to_string(e.shard_id) + " of " +
                            std::to_string(header_.num_shards),
           te.value_offset);
    }
    const auto numel = checked_product(e.shape);
    const auto nbytes = numel ? dtype_nbytes(*dt, *numel) : std::nullopt;
    if (!nbytes || *nbytes != e.size) {
      fail(index_path_, "tensor " + quoted_for_message(name) + ": size " + std::to_string(e.size) +
                            " bytes does not match its shape and dtype (" + tf::tf_dtype_name(e.dtype) + ")",
           te.value_offset);
    }
    auto& shard = shards_[static_cast<size_t>(e.shard_id)];
    const std::string shard_path = tf::data_shard_path(prefix, e.shard_id, header_.num_shards);
    if (!shard) {
      std::error_code ec;
      if (!fs::is_regular_file(shard_path, ec)) {
        fail(shard_path, "data shard of " + index_path_ + " is missing (needed by tensor " + quoted_for_message(name) + ")");
      }
      shard = MappedFile::open(shard_path);
    }
    const auto end = checked_add(e.offset, e.size);
    if (!end || *end > shard->size()) {
      fail(index_path_, "tensor " + quoted_for_message(name) + " lies at bytes " + std::to_string(e.offset) + "+" +
                            std::to_string(e.size) + ", past the end of " + shard_path + " (" +
                            std::to_string(shard->size()) + " bytes)",
           te.value_offset);
    }
    TensorInfo info;
    info.name = name;
    info.dtype = *dt;
    info.shape = e.shape;
    info.nbytes = e.size;
    info.file = shard_path;
    info.offset = e.offset;
    infos_.push_back(std::move(info));
    shard_of_.push_back(e.shard_id);
    crc_of_.push_back(e.masked_crc32c);
  }

  std::string index_path_;
  BundleHeader header_;
  std::vector<std::shared_ptr<const MappedFile>> shards_;
  std::vector<TensorInfo> infos_;
  std::vector<int32_t> shard_of_;
  std::vector<uint32_t> crc_of_;
  std::vector<SkippedEntry> skipped_;
};

}  // namespace

bool sniff_tf_checkpoint(const std::string& path) {
  const auto prefix = checkpoint_prefix(path);
  if (!prefix) return false;
  std::error_code ec;
  // Named by its prefix, which is not a file: PREFIX.index is what the user means, so a
  // damaged footer is reported by the reader instead of as "no such file".
  if (!fs::exists(path, ec)) return fs::is_regular_file(*prefix + ".index", ec);
  if (fs::is_directory(path, ec)) return fs::is_regular_file(*prefix + ".index", ec);  // SavedModel folder
  return file_has_table_magic(*prefix + ".index");
}

std::unique_ptr<TensorSource> open_tf_checkpoint(const std::string& path) {
  const auto prefix = checkpoint_prefix(path);
  if (!prefix) fail(path, "not a TensorFlow checkpoint (no PREFIX.index beside it)");
  return std::make_unique<TfCheckpointSource>(*prefix);
}

}  // namespace lmforge
