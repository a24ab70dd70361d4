#include "formats/pytorch_reader.h"

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/byte_reader.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/pickle/checkpoint_tree.h"
#include "formats/pickle/pickle_machine.h"
#include "formats/zip/zip_reader.h"

namespace lmforge {

namespace {

using pickle::Kind;
using pickle::Object;

// A strided copy may expand a small storage (stride 0 broadcasts); past this size it must not
// be larger than the storage it reads, so a few bytes of pickle cannot demand gigabytes.
constexpr uint64_t kMaxExpandedCopy = 256ull << 20;

// Where one storage's bytes are in the file.
struct StorageBytes {
  uint64_t offset = 0;  // absolute
  uint64_t nbytes = 0;  // bytes the storage declares (numel * element size)
  // What the first reference said, so later references can be checked against it.
  DType dtype = DType::U8;
  bool untyped = false;
  uint64_t numel = 0;
};

// How to produce one tensor's bytes.
struct TensorPlan {
  uint64_t base = 0;  // absolute offset of element 0 of the tensor's storage (view applied)
  uint64_t elsize = 0;
  uint64_t storage_offset = 0;  // elements
  std::vector<uint64_t> size;
  std::vector<uint64_t> stride;
  bool contiguous = true;
};

std::string q(const std::string& s) { return "'" + s + "'"; }

class PytorchSource final : public TensorSource {
 public:
  std::string format_description() const override { return description_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  nlohmann::json metadata() const override { return metadata_; }
  std::vector<std::string> warnings() const override { return warnings_; }

  TensorBytes read(size_t index) const override {
    if (index >= tensors_.size()) fail(file_->path(), "tensor index " + std::to_string(index) + " is out of range");
    const TensorInfo& ti = tensors_[index];
    const TensorPlan& p = plans_[index];
    const auto all = file_->bytes();
    if (p.contiguous) return TensorBytes(all.subspan(ti.offset, ti.nbytes), file_);

    // Walk the index space with an odometer; bounds were checked when the file was opened.
    std::vector<uint8_t> out(ti.nbytes);
    const size_t rank = p.size.size();
    std::vector<uint64_t> idx(rank, 0);
    const uint64_t n = ti.numel();
    uint64_t src_elem = p.storage_offset;
    for (uint64_t k = 0; k < n; ++k) {
      std::memcpy(out.data() + k * p.elsize, all.data() + p.base + src_elem * p.elsize, p.elsize);
      for (size_t d = rank; d-- > 0;) {
        if (++idx[d] < p.size[d]) {
          src_elem += p.stride[d];
          break;
        }
        src_elem -= (p.size[d] - 1) * p.stride[d];
        idx[d] = 0;
      }
    }
    return TensorBytes(std::move(out));
  }

  std::shared_ptr<const MappedFile> file_;
  std::string description_;
  std::vector<TensorInfo> tensors_;
  std::vector<TensorPlan> plans_;
  nlohmann::json metadata_ = nlohmann::json::object();
  std::vector<std::string> warnings_;
};

uint64_t elsize_of(DType t) { return dtype_info(t).block_bytes; }

uint64_t storage_nbytes(const pickle::StorageInfo& s, const std::string& file, uint64_t at) {
  auto n = checked_mul(s.numel, s.untyped ? 1 : elsize_of(s.dtype));
  if (!n) fail(file, "storage " + q(s.key) + " size overflows", at);
  return *n;
}

// The first reference to a key fixes its type and size; a later one that disagrees would let
// two tensors read the same bytes with different bounds.
void check_same_storage(const StorageBytes& sb, const pickle::StorageInfo& s, const std::string& file, uint64_t at) {
  if (sb.untyped != s.untyped || sb.numel != s.numel || (!s.untyped && sb.dtype != s.dtype)) {
    fail(file, "storage " + q(s.key) + " is referenced with different types or sizes", at);
  }
}

// Checks one tensor against its storage and fills its TensorInfo and plan.
void add_tensor(PytorchSource& src, const pickle::NamedTensor& nt, const StorageBytes& sb) {
  const std::string& file = src.file_->path();
  const Object* t = nt.tensor;
  const auto& ti = t->tensor();
  const auto& si = ti.storage->storage();
  const uint64_t at = t->offset;
  const uint64_t te = elsize_of(ti.dtype);

  // The storage region the tensor may read: the whole storage, or a legacy storage view.
  uint64_t region = sb.offset;
  uint64_t region_bytes = sb.nbytes;
  if (si.view) {
    const uint64_t se = si.untyped ? 1 : elsize_of(si.dtype);
    region += si.view->first * se;  // checked against numel by the pickle machine
    region_bytes = si.view->second * se;
  }

  TensorInfo info;
  info.name = nt.name;
  info.dtype = ti.dtype;
  info.shape = ti.size;
  info.file = file;
  auto numel = checked_product(ti.size);
  auto nbytes = numel ? checked_mul(*numel, te) : std::nullopt;
  if (!nbytes) fail(file, "tensor " + q(nt.name) + " size overflows", at);
  info.nbytes = *nbytes;

  TensorPlan plan;
  plan.base = region;
  plan.elsize = te;
  plan.storage_offset = ti.storage_offset;
  plan.size = ti.size;
  plan.stride = ti.stride;

  if (*numel > 0) {
    // Highest element index touched: offset + sum((size_i - 1) * stride_i).
    std::optional<uint64_t> last = ti.storage_offset;
    for (size_t d = 0; d < ti.size.size() && last; ++d) {
      auto span = checked_mul(ti.size[d] - 1, ti.stride[d]);
      last = span ? checked_add(*last, *span) : std::nullopt;
    }
    auto end_elems = last ? checked_add(*last, 1) : std::nullopt;
    auto end_bytes = end_elems ? checked_mul(*end_elems, te) : std::nullopt;
    if (!end_bytes || *end_bytes > region_bytes) {
      fail(file, "tensor " + q(nt.name) + " reaches past the end of its storage " + q(si.key) + " (" +
                     std::to_string(region_bytes) + " bytes)", at);
    }
    uint64_t expect = 1;
    for (size_t d = ti.size.size(); d-- > 0;) {
      if (ti.size[d] != 1 && ti.stride[d] != expect) plan.contiguous = false;
      expect *= ti.size[d];  // no overflow: the product of all sizes was checked
    }
  } else if (ti.storage_offset > region_bytes / te) {
    fail(file, "tensor " + q(nt.name) + " storage offset is past the end of its storage", at);
  }
  if (!plan.contiguous && info.nbytes > region_bytes && info.nbytes > kMaxExpandedCopy) {
    fail(file, "tensor " + q(nt.name) + " expands its " + std::to_string(region_bytes) + "-byte storage to " +
                   std::to_string(info.nbytes) + " bytes", at);
  }
  info.offset = region + ti.storage_offset * te;  // within the file: checked above
  src.tensors_.push_back(std::move(info));
  src.plans_.push_back(std::move(plan));
}

std::string record_text(const ZipArchive& zip, const ZipEntry& e, size_t max) {
  auto d = zip.data(e);
  if (d.size() > max) fail(zip.file_name(), "record " + q(e.name) + " is unexpectedly large", e.data_offset);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::unique_ptr<TensorSource> open_zip(std::shared_ptr<const MappedFile> mf) {
  auto src = std::make_unique<PytorchSource>();
  src->file_ = mf;
  src->description_ = "PyTorch zip checkpoint (torch.save >= 1.6)";
  const std::string& file = mf->path();
  const ZipArchive zip = ZipArchive::open(mf);
  if (zip.entries().empty()) fail(file, "zip archive is empty; not a torch.save checkpoint");

  // torch takes the archive folder from the first central-directory entry.
  const std::string& first = zip.entries().front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0) {
    fail(file, "first zip entry " + q(first) + " is not inside a folder; not a torch.save checkpoint");
  }
  const std::string prefix = first.substr(0, slash + 1);
  for (const auto& e : zip.entries()) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) {
      fail(file, "zip entry " + q(e.name) + " is outside the archive folder " + q(prefix), e.local_header_offset);
    }
  }
  if (zip.find(prefix + "constants.pkl")) {
    fail(file, "this is a TorchScript archive (it holds code, not just data); refusing to load it as a checkpoint");
  }
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    const std::string order = record_text(zip, *bo, 16);
    if (order == "big") fail(file, "big-endian checkpoints are not supported", bo->data_offset);
    if (order != "little") fail(file, "byteorder record says '" + order.substr(0, 8) + "', expected 'little'", bo->data_offset);
  }
  const ZipEntry* pkl = zip.find(prefix + "data.pkl");
  if (!pkl) fail(file, "archive has no " + q(prefix + "data.pkl") + "; not a torch.save checkpoint");
  const auto pkl_bytes = zip.data(*pkl);
  if (pkl->crc32 != 0 && zip_crc32(pkl_bytes) != pkl->crc32) {
    fail(file, "CRC-32 of " + q(pkl->name) + " does not match the zip directory", pkl->data_offset);
  }

  pickle::Arena arena;
  const auto res = pickle::run_pickle(arena, pkl_bytes, file, pkl->data_offset);
  if (res.end != pkl_bytes.size()) {
    fail(file, "data.pkl has " + std::to_string(pkl_bytes.size() - res.end) + " bytes after its STOP opcode",
         pkl->data_offset + res.end);
  }
  auto tree = pickle::walk_checkpoint(res.root, file);

  std::map<std::string, StorageBytes> storages;
  for (const auto& nt : tree.tensors) {
    const auto& si = nt.tensor->tensor().storage->storage();
    auto it = storages.find(si.key);
    if (it == storages.end()) {
      const std::string rec = prefix + "data/" + si.key;
      const ZipEntry* e = zip.find(rec);
      if (!e) fail(file, "storage " + q(si.key) + " has no record " + q(rec) + " in the archive", nt.tensor->offset);
      const auto data = zip.data(*e);
      StorageBytes sb;
      sb.offset = e->data_offset;
      sb.nbytes = storage_nbytes(si, file, nt.tensor->offset);
      sb.dtype = si.dtype;
      sb.untyped = si.untyped;
      sb.numel = si.numel;
      if (data.size() < sb.nbytes) {
        fail(file, "storage " + q(si.key) + " declares " + std::to_string(sb.nbytes) + " bytes but its record has " +
                       std::to_string(data.size()), e->data_offset);
      }
      it = storages.emplace(si.key, sb).first;
    } else {
      check_same_storage(it->second, si, file, nt.tensor->offset);
    }
    add_tensor(*src, nt, it->second);
  }

  src->warnings_ = std::move(tree.warnings);
  auto& md = src->metadata_;
  md["format"] = "pytorch-zip";
  md["archive_name"] = prefix.substr(0, prefix.size() - 1);
  md["pickle_protocol"] = res.protocol;
  if (const ZipEntry* v = zip.find(prefix + "version")) {
    std::string s = record_text(zip, *v, 32);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    bool digits = !s.empty();
    for (char c : s) digits = digits && c >= '0' && c <= '9';
    if (digits) md["archive_version"] = s;
  }
  md["storages"] = storages.size();
  md["values"] = std::move(tree.values);
  return src;
}

// The pickled magic number torch.save writes first in the legacy layout: 0x1950a86a20f9469cfc6c,
// as LONG1 little-endian bytes.
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

std::unique_ptr<TensorSource> open_legacy(std::shared_ptr<const MappedFile> mf) {
  auto src = std::make_unique<PytorchSource>();
  src->file_ = mf;
  src->description_ = "PyTorch legacy checkpoint (torch.save < 1.6)";
  const std::string& file = mf->path();
  const auto all = mf->bytes();
  pickle::Arena arena;
  uint64_t pos = 0;
  auto next = [&]() {
    auto r = pickle::run_pickle(arena, all.subspan(pos), file, pos);
    const uint64_t start = pos;
    pos += r.end;
    return std::make_pair(r, start);
  };

  auto [magic, magic_at] = next();
  if (magic.root->kind != Kind::BigInt || magic.root->str.size() != sizeof(kLegacyMagic) ||
      std::memcmp(magic.root->str.data(), kLegacyMagic, sizeof(kLegacyMagic)) != 0) {
    fail(file, "not a PyTorch checkpoint (the legacy magic number is missing)", magic_at);
  }
  auto [proto, proto_at] = next();
  if (proto.root->kind != Kind::Int || proto.root->i != 1001) {
    fail(file, "legacy checkpoint has an unsupported protocol version (expected 1001)", proto_at);
  }
  auto [sys_info, sys_at] = next();
  if (sys_info.root->kind == Kind::Dict) {
    for (const auto& [k, v] : sys_info.root->dict) {
      if (k->kind == Kind::Str && k->str == "little_endian" && v->kind == Kind::Bool && !v->flag) {
        fail(file, "big-endian checkpoints are not supported", sys_at);
      }
    }
  }
  auto [main, main_at] = next();
  auto [keys, keys_at] = next();
  if (keys.root->kind != Kind::List && keys.root->kind != Kind::Tuple) {
    fail(file, "legacy checkpoint storage key list is not a list", keys_at);
  }

  // Element sizes come from the storage types named in the main pickle.
  std::map<std::string, const pickle::StorageInfo*> declared;
  for (const Object* s : main.storages) {
    const auto& si = s->storage();
    auto [it, inserted] = declared.emplace(si.key, &si);
    if (!inserted) {
      const auto& a = *it->second;
      if (a.untyped != si.untyped || a.numel != si.numel || (!si.untyped && a.dtype != si.dtype)) {
        fail(file, "storage " + q(si.key) + " is referenced with different types or sizes", s->offset);
      }
    }
  }

  std::map<std::string, StorageBytes> storages;
  for (const Object* k : keys.root->items) {
    if (k->kind != Kind::Str) fail(file, "legacy checkpoint storage key is not a string", keys_at);
    auto d = declared.find(k->str);
    if (d == declared.end()) fail(file, "storage " + q(k->str) + " is listed but never referenced; its type is unknown", pos);
    const auto& si = *d->second;
    ByteReader r(all, file);
    r.seek(pos);
    const int64_t numel = r.i64("storage element count");
    if (numel < 0 || static_cast<uint64_t>(numel) != si.numel) {
      fail(file, "storage " + q(si.key) + " has " + std::to_string(numel) + " elements in the file but " +
                     std::to_string(si.numel) + " in the pickle", pos);
    }
    StorageBytes sb;
    sb.offset = r.absolute_pos();
    sb.nbytes = storage_nbytes(si, file, pos);
    sb.dtype = si.dtype;
    sb.untyped = si.untyped;
    sb.numel = si.numel;
    r.skip(sb.nbytes);
    if (!storages.emplace(si.key, sb).second) fail(file, "storage " + q(si.key) + " is listed twice", pos);
    pos = r.absolute_pos();
  }
  if (pos != all.size()) {
    src->warnings_.push_back(std::to_string(all.size() - pos) + " bytes after the last storage were ignored");
  }

  auto tree = pickle::walk_checkpoint(main.root, file);
  for (const auto& nt : tree.tensors) {
    const auto& si = nt.tensor->tensor().storage->storage();
    auto it = storages.find(si.key);
    if (it == storages.end()) fail(file, "storage " + q(si.key) + " has no data in the file", nt.tensor->offset);
    add_tensor(*src, nt, it->second);
  }
  for (auto& w : tree.warnings) src->warnings_.push_back(std::move(w));
  auto& md = src->metadata_;
  md["format"] = "pytorch-legacy";
  md["pickle_protocol"] = main.protocol;
  md["storages"] = storages.size();
  md["values"] = std::move(tree.values);
  (void)main_at;
  return src;
}

}  // namespace

std::unique_ptr<TensorSource> open_pytorch_checkpoint(const std::string& path) {
  auto mf = MappedFile::open(path);
  const auto b = mf->bytes();
  if (b.size() >= 4 && std::memcmp(b.data(), "PK\x03\x04", 4) == 0) return open_zip(std::move(mf));
  if (b.size() >= 262 && std::memcmp(b.data() + 257, "ustar", 5) == 0) {
    fail(path, "tar-format PyTorch checkpoints (torch <= 0.1) are not supported");
  }
  if (b.size() >= 8 && std::memcmp(b.data(), "PYTORCH1", 8) == 0) {
    fail(path, "the 2018 'PYTORCH1' preview format is not supported");
  }
  if (b.size() >= 2 && b[0] == 0x80) return open_legacy(std::move(mf));
  fail(path, "not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)", 0);
}

}  // namespace lmforge
