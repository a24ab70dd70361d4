#include "formats/meta_checkpoint.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/pytorch_reader.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

// "consolidated.NN.pth" -> NN; nullopt for any other name.
std::optional<uint32_t> shard_number(const std::string& name) {
  const std::string head = "consolidated.", tail = ".pth";
  if (name.size() <= head.size() + tail.size() || name.rfind(head, 0) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
    return std::nullopt;
  const std::string digits = name.substr(head.size(), name.size() - head.size() - tail.size());
  if (digits.size() > 4) return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  return static_cast<uint32_t>(std::stoul(digits));
}

struct MergedTensor {
  ShardSplit split = ShardSplit::kReplicated;
  std::vector<size_t> piece;  // index of this tensor in each shard
};

// The shards seen as one model: read(i) builds tensor i from every shard's piece, so at
// most one whole tensor is in memory at a time.
class MergedShards final : public MergedShardsSource {
 public:
  std::string format_description() const override {
    return "Meta consolidated checkpoint (" + std::to_string(shards_.size()) + " model-parallel shard" +
           (shards_.size() == 1 ? "" : "s") + " merged)";
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  nlohmann::json metadata() const override { return metadata_; }
  const std::vector<std::string>& shard_files() const override { return shard_files_; }
  void set_metadata(nlohmann::json m) override { metadata_ = std::move(m); }

  TensorBytes read(size_t index) const override {
    if (index >= merged_.size()) fail(dir_, "tensor index out of range");
    const MergedTensor& m = merged_[index];
    if (m.split == ShardSplit::kReplicated) return shards_[0]->read(m.piece[0]);
    const TensorInfo& out = infos_[index];
    std::vector<uint8_t> buf(out.nbytes);
    const uint64_t piece_bytes = out.nbytes / shards_.size();
    if (m.split == ShardSplit::kRows) {
      for (size_t k = 0; k < shards_.size(); ++k) {
        TensorBytes b = shards_[k]->read(m.piece[k]);
        if (b.size() != piece_bytes) fail(shards_[k]->tensors()[m.piece[k]].file, "tensor " + quoted_for_message(out.name) + " has an unexpected size");
        std::memcpy(buf.data() + k * piece_bytes, b.data(), piece_bytes);
        b.release_file_pages();
      }
    } else {
      // Column split: each output row is the shards' row pieces side by side.
      const uint64_t rows = out.shape[0];
      if (rows == 0 || piece_bytes == 0) return TensorBytes(std::move(buf));
      const uint64_t piece_row = piece_bytes / rows;
      for (size_t k = 0; k < shards_.size(); ++k) {
        TensorBytes b = shards_[k]->read(m.piece[k]);
        if (b.size() != piece_bytes) fail(shards_[k]->tensors()[m.piece[k]].file, "tensor " + quoted_for_message(out.name) + " has an unexpected size");
        for (uint64_t r = 0; r < rows; ++r)
          std::memcpy(buf.data() + r * piece_row * shards_.size() + k * piece_row, b.data() + r * piece_row, piece_row);
        b.release_file_pages();
      }
    }
    return TensorBytes(std::move(buf));
  }

  std::string dir_;
  std::vector<std::unique_ptr<TensorSource>> shards_;
  std::vector<std::string> shard_files_;
  std::vector<TensorInfo> infos_;
  std::vector<MergedTensor> merged_;
  nlohmann::json metadata_ = nlohmann::json::object();
};

}  // namespace

bool is_meta_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / "params.json", ec) &&
         fs::is_regular_file(fs::path(dir) / "consolidated.00.pth", ec);
}

std::vector<std::string> meta_shard_paths(const std::string& dir) {
  std::map<uint32_t, std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (auto n = shard_number(name)) {
      if (!found.emplace(*n, name).second)
        fail(dir, "two files claim shard " + std::to_string(*n) + ": " + found[*n] + " and " + name);
    }
  }
  if (ec) fail(dir, "cannot list the folder: " + ec.message());
  std::vector<std::string> out;
  uint32_t expect = 0;
  for (const auto& [n, name] : found) {
    if (n != expect)
      fail(dir, "model-parallel shards are not numbered 0.." + std::to_string(found.size() - 1) + ": found " + name +
                    " but no shard " + std::to_string(expect));
    out.push_back((fs::path(dir) / name).string());
    ++expect;
  }
  if (out.empty()) fail(dir, "no consolidated.NN.pth file");
  return out;
}

std::unique_ptr<MergedShardsSource> open_model_parallel_shards(const std::string& dir, const std::vector<std::string>& paths,
                                                              const ShardSplitOf& split_of) {
  if (paths.empty()) fail(dir, "no consolidated.NN.pth file");
  auto src = std::make_unique<MergedShards>();
  src->dir_ = dir;
  for (const auto& path : paths) {
    src->shards_.push_back(open_pytorch_checkpoint(path));
    src->shard_files_.push_back(fs::path(path).filename().string());
  }
  const size_t n = src->shards_.size();
  const auto& first = src->shards_[0]->tensors();

  // Every shard must hold the same names with the same piece shapes and types.
  for (size_t k = 1; k < n; ++k) {
    const auto& ts = src->shards_[k]->tensors();
    if (ts.size() != first.size())
      fail(src->shard_files_[k], "holds " + std::to_string(ts.size()) + " tensors but " + src->shard_files_[0] + " holds " +
                                     std::to_string(first.size()));
  }
  for (size_t i = 0; i < first.size(); ++i) {
    const TensorInfo& t0 = first[i];
    MergedTensor m;
    m.piece.push_back(i);
    for (size_t k = 1; k < n; ++k) {
      const TensorSource& s = *src->shards_[k];
      const ptrdiff_t j = s.find(t0.name);
      if (j < 0) fail(s.tensors().empty() ? dir : s.tensors()[0].file, "has no tensor " + quoted_for_message(t0.name) + ", which " + src->shard_files_[0] + " has");
      const TensorInfo& tk = s.tensors()[static_cast<size_t>(j)];
      if (tk.shape != t0.shape || tk.dtype != t0.dtype)
        fail(tk.file, "tensor " + quoted_for_message(t0.name) + " is " + std::string(dtype_name(tk.dtype)) + " " + shape_text(tk.shape) +
                          " here but " + std::string(dtype_name(t0.dtype)) + " " + shape_text(t0.shape) + " in " + src->shard_files_[0]);
      m.piece.push_back(static_cast<size_t>(j));
    }
    // Asked even of a single shard: the caller refuses tensors it does not know here.
    const ShardSplit kind = split_of(t0, n);
    m.split = n == 1 ? ShardSplit::kReplicated : kind;
    TensorInfo info = t0;
    if (m.split != ShardSplit::kReplicated) {
      if (t0.shape.size() != 2) fail(t0.file, "tensor " + quoted_for_message(t0.name) + " should be a matrix but is " + shape_text(t0.shape));
      if (dtype_is_quantized(t0.dtype)) fail(t0.file, "tensor " + quoted_for_message(t0.name) + " is quantized and cannot be merged");
      const size_t dim = m.split == ShardSplit::kRows ? 0 : 1;
      auto whole = checked_mul(t0.shape[dim], n);
      auto bytes = checked_mul(t0.nbytes, n);
      if (!whole || !bytes) fail(t0.file, "tensor " + quoted_for_message(t0.name) + " is too large");
      info.shape[dim] = *whole;
      info.nbytes = *bytes;
      info.file = dir;
      info.offset = 0;
    }
    src->infos_.push_back(std::move(info));
    src->merged_.push_back(std::move(m));
  }

  return src;
}

}  // namespace lmforge
