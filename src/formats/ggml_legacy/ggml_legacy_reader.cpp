#include "formats/ggml_legacy/ggml_legacy_reader.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/byte_reader.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/half.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/ggml_legacy/ggml_legacy_format.h"

namespace lmforge {

namespace {

using namespace ggml_legacy;

// Limits far above any real llama file, so that absurd header values fail early and clearly.
constexpr int32_t kMaxDim = 1 << 20;        // n_embd, n_head, n_layer, n_mult
constexpr uint32_t kMaxNameLen = 1024;

struct StoredTensor {
  LegacyType type;
  int32_t type_id = 0;
  std::vector<int32_t> ne;     // as stored, innermost first
  uint64_t data_offset = 0;    // absolute
  uint64_t stored_bytes = 0;
};

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Nibble `k` (0..31) of a 16-byte block of 4-bit values in the old paired order.
inline uint8_t paired_nibble(const uint8_t* qs, size_t k) { return k % 2 ? qs[k / 2] >> 4 : qs[k / 2] & 0x0F; }

// Rewrites one old-layout tensor into the layout its DType has today.
std::vector<uint8_t> rewrite_blocks(Layout layout, const uint8_t* in, uint64_t n_blocks, uint64_t out_bytes) {
  std::vector<uint8_t> out(out_bytes);
  uint8_t* o = out.data();
  auto put16 = [](uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); };
  auto put_f32 = [](uint8_t* p, float v) { std::memcpy(p, &v, 4); };
  for (uint64_t b = 0; b < n_blocks; ++b) {
    switch (layout) {
      case Layout::kQ4_0PairsF32:
      case Layout::kQ4_0F32: {
        put16(o, fp32_to_fp16(load<float>(in)));
        if (layout == Layout::kQ4_0F32) {
          std::memcpy(o + 2, in + 4, 16);
        } else {
          for (size_t j = 0; j < 16; ++j) o[2 + j] = static_cast<uint8_t>(paired_nibble(in + 4, j) | paired_nibble(in + 4, j + 16) << 4);
        }
        in += 20, o += 18;
        break;
      }
      case Layout::kQ4_1PairsF32:
      case Layout::kQ4_1F32: {
        put16(o, fp32_to_fp16(load<float>(in)));
        put16(o + 2, fp32_to_fp16(load<float>(in + 4)));
        if (layout == Layout::kQ4_1F32) {
          std::memcpy(o + 4, in + 8, 16);
        } else {
          for (size_t j = 0; j < 16; ++j) o[4 + j] = static_cast<uint8_t>(paired_nibble(in + 8, j) | paired_nibble(in + 8, j + 16) << 4);
        }
        in += 24, o += 20;
        break;
      }
      case Layout::kQ8_0F32:
        put16(o, fp32_to_fp16(load<float>(in)));
        std::memcpy(o + 2, in + 4, 32);
        in += 36, o += 34;
        break;
      case Layout::kQ4_2:
      case Layout::kQ4_3: {
        // No block type of today holds 16-element blocks: decode to F32, which is exact.
        const float d = fp16_to_fp32(load<uint16_t>(in));
        const float m = layout == Layout::kQ4_3 ? fp16_to_fp32(load<uint16_t>(in + 2)) : 0.0f;
        const uint8_t* qs = in + (layout == Layout::kQ4_3 ? 4 : 2);
        for (size_t k = 0; k < 16; ++k) {
          const uint8_t q = paired_nibble(qs, k);
          const float y = layout == Layout::kQ4_3 ? static_cast<float>(q) * d + m : static_cast<float>(q - 8) * d;
          put_f32(o + 4 * k, y);
        }
        in += layout == Layout::kQ4_3 ? 12 : 10;
        o += 64;
        break;
      }
      case Layout::kPlain: break;
    }
  }
  return out;
}

class GgmlLegacyFile : public TensorSource {
 public:
  explicit GgmlLegacyFile(const std::string& path) : path_(path), file_(MappedFile::open(path)) { parse(); }

  std::string format_description() const override {
    switch (container_) {
      case Container::kGgml: return "legacy llama.cpp 'ggml' file (unversioned, 2023-03)";
      case Container::kGgmf: return "legacy llama.cpp 'ggmf' file version 1";
      case Container::kGgjt: return "legacy llama.cpp 'ggjt' file version " + std::to_string(version_);
    }
    return "legacy llama.cpp file";
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }

  TensorBytes read(size_t index) const override {
    if (index >= infos_.size()) fail(path_, "internal error: tensor index out of range");
    const auto& s = stored_[index];
    const auto bytes = file_->bytes().subspan(s.data_offset, s.stored_bytes);
    if (s.type.layout == Layout::kPlain) return TensorBytes(bytes, file_);
    return TensorBytes(rewrite_blocks(s.type.layout, bytes.data(), s.stored_bytes / s.type.block_bytes, infos_[index].nbytes));
  }

  nlohmann::json metadata() const override {
    nlohmann::json j;
    j["container"] = container_ == Container::kGgml ? "ggml" : container_ == Container::kGgmf ? "ggmf" : "ggjt";
    if (container_ != Container::kGgml) j["version"] = version_;
    j["hparams"] = {{"n_vocab", hp_.n_vocab}, {"n_embd", hp_.n_embd}, {"n_mult", hp_.n_mult}, {"n_head", hp_.n_head},
                    {"n_layer", hp_.n_layer}, {"n_rot", hp_.n_rot}, {"ftype", hp_.ftype}};
    j["ftype_name"] = ftype_name(hp_.ftype);
    j["n_ff_from_n_mult"] = n_ff_from_n_mult(static_cast<uint64_t>(hp_.n_embd), static_cast<uint64_t>(hp_.n_mult));
    j["vocab_has_scores"] = container_ != Container::kGgml;
    nlohmann::json stored = nlohmann::json::array();
    for (size_t i = 0; i < infos_.size(); ++i) {
      const auto& s = stored_[i];
      stored.push_back({{"name", sanitize_utf8(infos_[i].name)}, {"type", s.type.name}, {"type_id", s.type_id},
                        {"ne", s.ne}, {"data_offset", s.data_offset}, {"stored_bytes", s.stored_bytes}});
    }
    j["stored_tensors"] = stored;
    return j;
  }

  Container container() const { return container_; }
  const Hparams& hparams() const { return hp_; }
  const std::vector<std::string>& vocab_text() const { return vocab_; }
  const std::vector<float>& scores() const { return scores_; }

 private:
  void parse() {
    ByteReader r(file_->bytes(), path_);
    const uint32_t magic = r.u32("magic");
    if (magic == kMagicGgml) {
      container_ = Container::kGgml;
    } else if (magic == kMagicGgmf || magic == kMagicGgjt) {
      container_ = magic == kMagicGgmf ? Container::kGgmf : Container::kGgjt;
      const uint64_t at = r.absolute_pos();
      version_ = r.u32("version");
      const bool known = container_ == Container::kGgmf ? version_ == 1 : version_ >= 1 && version_ <= 3;
      if (!known) fail(path_, std::string(container_ == Container::kGgmf ? "ggmf" : "ggjt") + " version " + std::to_string(version_) + " is not one llama.cpp wrote (ggmf: 1, ggjt: 1-3)", at);
    } else {
      fail(path_, "not a legacy GGML/GGMF/GGJT file (bad magic)", 0);
    }
    struct Field { const char* name; int32_t* v; int32_t min, max; };
    const Field fields[] = {{"n_vocab", &hp_.n_vocab, 1, 1 << 24}, {"n_embd", &hp_.n_embd, 1, kMaxDim},
                            {"n_mult", &hp_.n_mult, 1, kMaxDim}, {"n_head", &hp_.n_head, 1, kMaxDim},
                            {"n_layer", &hp_.n_layer, 1, kMaxDim}, {"n_rot", &hp_.n_rot, 0, kMaxDim},
                            {"ftype", &hp_.ftype, 0, 1 << 16}};
    const uint64_t hparams_at = r.absolute_pos();
    for (const auto& f : fields) {
      const uint64_t at = r.absolute_pos();
      *f.v = r.i32(f.name);
      if (*f.v < f.min || *f.v > f.max)
        fail(path_, std::string("hyperparameter ") + f.name + " = " + std::to_string(*f.v) + " is out of range [" + std::to_string(f.min) + ", " + std::to_string(f.max) + "]", at);
    }
    if (hp_.n_embd % hp_.n_head != 0)
      fail(path_, "n_embd " + std::to_string(hp_.n_embd) + " is not a multiple of n_head " + std::to_string(hp_.n_head), hparams_at + 4);

    // Every entry takes at least 4 bytes (8 with a score): refuse a count the file cannot hold
    // before reserving anything.
    const bool scored = container_ != Container::kGgml;
    const uint64_t vocab_at = r.absolute_pos();
    if (static_cast<uint64_t>(hp_.n_vocab) * (scored ? 8 : 4) > r.remaining())
      fail(path_, "n_vocab " + std::to_string(hp_.n_vocab) + " entries cannot fit in the " + std::to_string(r.remaining()) + " bytes left", vocab_at);
    vocab_.reserve(static_cast<size_t>(hp_.n_vocab));
    scores_.reserve(static_cast<size_t>(hp_.n_vocab));
    for (int32_t i = 0; i < hp_.n_vocab; ++i) {
      const uint32_t len = r.u32("vocab entry length");
      vocab_.push_back(r.str(len, "vocab entry " + std::to_string(i)));
      scores_.push_back(scored ? r.f32("vocab score") : 0.0f);
    }

    std::unordered_set<std::string> names;
    while (!r.at_end()) {
      const uint64_t rec = r.absolute_pos();
      const int32_t n_dims = r.i32("tensor n_dims");
      const int32_t name_len = r.i32("tensor name length");
      const int32_t type_id = r.i32("tensor type");
      if (n_dims < 1 || n_dims > 2) fail(path_, "tensor record has n_dims " + std::to_string(n_dims) + " (llama files hold 1 or 2)", rec);
      if (name_len < 1 || static_cast<uint32_t>(name_len) > kMaxNameLen)
        fail(path_, "tensor name length " + std::to_string(name_len) + " is out of range [1, " + std::to_string(kMaxNameLen) + "]", rec + 4);
      auto type = legacy_type(container_, version_, type_id);
      if (!type) fail(path_, "tensor type id " + std::to_string(type_id) + " is not one " + format_description() + " can hold", rec + 8);
      StoredTensor s{*type, type_id, {}, 0, 0};
      std::vector<uint64_t> shape;
      for (int32_t d = 0; d < n_dims; ++d) {
        const uint64_t at = r.absolute_pos();
        const int32_t ne = r.i32("tensor dimension");
        if (ne < 1) fail(path_, "tensor dimension " + std::to_string(ne) + " is not positive", at);
        s.ne.push_back(ne);
        shape.insert(shape.begin(), static_cast<uint64_t>(ne));
      }
      const uint64_t name_at = r.absolute_pos();
      std::string name = r.str(static_cast<uint64_t>(name_len), "tensor name");
      if (!names.insert(name).second) fail(path_, "tensor " + quoted_for_message(name) + " appears twice", name_at);
      if (container_ == Container::kGgjt) {
        const uint64_t pad = *checked_align_up(r.absolute_pos(), kGgjtAlignment) - r.absolute_pos();
        r.take(pad, "alignment padding");
      }
      const uint64_t numel = *checked_product(shape);  // at most two factors below 2^31
      if (static_cast<uint64_t>(s.ne[0]) % type->block_size != 0)
        fail(path_, "tensor " + quoted_for_message(name) + " row length " + std::to_string(s.ne[0]) + " is not a multiple of the " + std::string(type->name) + " block size " + std::to_string(type->block_size), rec);
      const auto stored_bytes = checked_mul(numel / type->block_size, type->block_bytes);
      const auto out_bytes = dtype_nbytes(type->dtype, numel);
      if (!stored_bytes || !out_bytes) fail(path_, "tensor " + quoted_for_message(name) + " is too large", rec);
      s.data_offset = r.absolute_pos();
      s.stored_bytes = *stored_bytes;
      if (*stored_bytes > r.remaining())
        fail(path_, "tensor " + quoted_for_message(name) + " data (" + std::to_string(*stored_bytes) + " bytes) runs past the end of the file", s.data_offset);
      r.skip(*stored_bytes);
      TensorInfo info;
      info.name = std::move(name);
      info.dtype = type->dtype;
      info.shape = std::move(shape);
      info.nbytes = *out_bytes;
      info.file = path_;
      info.offset = s.data_offset;
      infos_.push_back(std::move(info));
      stored_.push_back(std::move(s));
    }
  }

  std::string path_;
  std::shared_ptr<const MappedFile> file_;
  Container container_ = Container::kGgml;
  uint32_t version_ = 0;
  Hparams hp_;
  std::vector<std::string> vocab_;
  std::vector<float> scores_;
  std::vector<TensorInfo> infos_;
  std::vector<StoredTensor> stored_;
};

}  // namespace

std::unique_ptr<TensorSource> open_ggml_legacy(const std::string& path) { return std::make_unique<GgmlLegacyFile>(path); }

GgmlLegacyContents open_ggml_legacy_contents(const std::string& path) {
  auto file = std::make_unique<GgmlLegacyFile>(path);
  GgmlLegacyContents out;
  out.hparams = file->hparams();
  out.vocab_text = file->vocab_text();
  out.scores = file->scores();
  out.tensors = std::move(file);
  return out;
}

}  // namespace lmforge
